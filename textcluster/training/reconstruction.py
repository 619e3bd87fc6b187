"""Reconstruction pretraining for any autoencoder network, with Lightning."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from textcluster.encoders.base import TrainingContext

log = logging.getLogger(__name__)


class ReconstructionModule(pl.LightningModule):
    """Minimises ``network.reconstruction_loss(*batch)``; works for every network that defines it.

    A batch is whatever the DataLoader yields (a list/tuple is unpacked), so
    the same module trains image autoencoders (``x``) and sequence encoders
    (``ids, mask, target``).
    """

    def __init__(self, network: nn.Module, lr: float = 1e-3, weight_decay: float = 0.0):
        super().__init__()
        self.network = network
        self.save_hyperparameters(ignore=["network"])

    def training_step(self, batch, batch_idx):
        loss = self.network.reconstruction_loss(*batch)
        self.log("train_loss", loss, prog_bar=True, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.network.reconstruction_loss(*batch), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction)) if n >= 20 else 0
    return order[n_val:], order[:n_val]


def _loader(inputs: np.ndarray, indices: np.ndarray, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    tensors = TensorDataset(torch.from_numpy(np.ascontiguousarray(inputs[indices])))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(tensors, batch_size=batch_size, shuffle=shuffle, generator=generator)


def train_autoencoder(network: nn.Module, inputs: np.ndarray, context: TrainingContext, *, batch_size: int = 256,
                      val_fraction: float = 0.1, patience: int = 10, lr: float = 1e-3,
                      weight_decay: float = 0.0) -> nn.Module:
    """Train ``network`` to reconstruct the rows of ``inputs`` (see :func:`train_network`)."""
    train_idx, val_idx = split_indices(len(inputs), val_fraction, context.seed)
    train_loader = _loader(inputs, train_idx, batch_size, True, context.seed)
    val_loader = _loader(inputs, val_idx, batch_size, False, context.seed) if len(val_idx) else None
    return train_network(network, train_loader, val_loader, context, patience=patience, lr=lr,
                         weight_decay=weight_decay)


def train_network(network: nn.Module, train_loader: DataLoader, val_loader: DataLoader | None,
                  context: TrainingContext, *, patience: int = 10, lr: float = 1e-3,
                  weight_decay: float = 0.0) -> nn.Module:
    """Train ``network`` on its ``reconstruction_loss`` with Lightning; keeps the best-validation weights.

    The validation loader (when given) drives early stopping and the best
    checkpoint, written to ``<run_dir>/checkpoints/encoder-best.ckpt``.
    """
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger

    module = ReconstructionModule(network, lr=lr, weight_decay=weight_decay)
    monitor = "val_loss" if val_loader is not None else "train_loss"

    scratch = None
    checkpoint_dir = context.checkpoint_dir
    if checkpoint_dir is None:  # Python API without a run folder
        scratch = tempfile.TemporaryDirectory(prefix="textcluster-ckpt-")
        checkpoint_dir = Path(scratch.name)
    checkpoint = ModelCheckpoint(dirpath=checkpoint_dir, filename="encoder-best", monitor=monitor, mode="min",
                                 save_top_k=1, save_weights_only=True, enable_version_counter=False)
    callbacks = [checkpoint, EarlyStopping(monitor=monitor, mode="min", patience=patience)]
    logger = CSVLogger(save_dir=str(context.run_dir), name="logs") if context.run_dir is not None else False

    trainer = pl.Trainer(callbacks=callbacks, logger=logger, default_root_dir=str(checkpoint_dir),
                         enable_model_summary=False, **context.trainer)
    trainer.fit(module, train_loader, val_loader)
    if checkpoint.best_model_path:
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
        log.info("restored best encoder weights (%s=%.5f) from %s", monitor,
                 float(checkpoint.best_model_score), checkpoint.best_model_path)
    network.cpu().eval()
    if scratch is not None:
        scratch.cleanup()
    return network
