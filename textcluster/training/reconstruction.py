"""Reconstruction pretraining for any autoencoder network, with Lightning."""

from __future__ import annotations

import logging

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from textcluster.contracts import TrainingContext
from textcluster.training.lightning import KeepBestWeights, make_trainer

log = logging.getLogger(__name__)

MIN_ROWS_FOR_VALIDATION = 20  # fewer rows than this: no held-out split, the training loss picks the best weights


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
    n_val = int(round(n * val_fraction)) if n >= MIN_ROWS_FOR_VALIDATION else 0
    return order[n_val:], order[:n_val]


def _loader(inputs: np.ndarray, indices: np.ndarray, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    tensors = TensorDataset(torch.from_numpy(np.ascontiguousarray(inputs[indices])))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(tensors, batch_size=batch_size, shuffle=shuffle, generator=generator)


def train_autoencoder(
    network: nn.Module,
    inputs: np.ndarray,
    context: TrainingContext,
    *,
    batch_size: int = 256,
    val_fraction: float = 0.1,
    patience: int = 10,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
) -> nn.Module:
    """Train ``network`` to reconstruct the rows of ``inputs`` (see :func:`train_network`)."""
    train_idx, val_idx = split_indices(len(inputs), val_fraction, context.seed)
    train_loader = _loader(inputs, train_idx, batch_size, True, context.seed)
    val_loader = _loader(inputs, val_idx, batch_size, False, context.seed) if len(val_idx) else None
    return train_network(
        network, train_loader, val_loader, context, patience=patience, lr=lr, weight_decay=weight_decay
    )


def train_network(
    network: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    context: TrainingContext,
    *,
    patience: int = 10,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    max_epochs: int | None = None,
) -> nn.Module:
    """Train ``network`` on its ``reconstruction_loss`` with Lightning; ends with the best-validation weights.

    The validation loader (when given) drives early stopping and picks the
    weights kept; without one, the training loss does.
    """
    from pytorch_lightning.callbacks import EarlyStopping

    module = ReconstructionModule(network, lr=lr, weight_decay=weight_decay)
    monitor = "val_loss" if val_loader is not None else "train_loss"
    best = KeepBestWeights(monitor)
    trainer = make_trainer(
        context, max_epochs=max_epochs, callbacks=[best, EarlyStopping(monitor=monitor, mode="min", patience=patience)]
    )
    trainer.fit(module, train_loader, val_loader)
    if best.restore(module):
        log.info("restored the best encoder weights (%s=%.5f)", monitor, best.best_score)
    network.cpu().eval()
    return network
