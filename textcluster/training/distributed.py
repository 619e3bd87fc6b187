"""Encoding a dataset across processes with Lightning's ``Trainer.predict`` (``trainer=ddp``).

A fitted encoder is frozen at encoding time, so spreading ``transform`` over
devices needs no gradient sync: each process encodes the rows the
distributed sampler gives it and writes them, with their row indices, to its
own shard file (``rank-<global rank>.npy``, a plain structured array, no
pickle). Nothing is gathered through Lightning (``return_predictions=False``);
the rows are put back in dataset order from the shards, and every row must be
there exactly once (a sampler that pads its last batch repeats rows: the
repeats are dropped; Lightning's predict sampler does not pad).

Strategies (``trainer.strategy``), all checked on CPU with two processes:

* ``ddp_spawn`` (and ``ddp_fork``/``ddp_notebook``, CPU only): Lightning
  starts ``devices`` processes from the caller and pickles the encoder and
  the dataset to them; only the caller returns from ``predict``, and it
  assembles the shards once the processes are done. The tests use it.
* ``ddp``: Lightning re-launches the command once per extra device (with
  Hydra it re-runs the same ``textcluster`` command with the same
  ``hydra.run.dir``), so every process runs the run up to here, then each
  assembles the shards after a barrier and gets the full embeddings. The
  processes other than global rank 0 should stop after the encoding
  (:func:`is_worker_process`) instead of repeating the rest of the run. For
  GPUs (``trainer.devices=4``) and nodes (``trainer.num_nodes=2``); with
  several nodes the shard folder must be on a disk every node sees.

Lightning moves the LightningModule to each process' device. The encoder's
networks are registered as its submodules, so they move with it (every
encoder here feeds its network on the network's own device); in the caller
they are put back where they were (Lightning's teardown moves them to the CPU).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch import nn
from torch.utils.data import DataLoader

from textcluster.contracts import Encoder, TrainingContext
from textcluster.dataset import Dataset
from textcluster.training.lightning import make_trainer

SHARD_NAME = "rank-{rank}.npy"
DEFAULT_CHUNK_SIZE = 1024  # rows per predict step; the encoder batches within a chunk (by length, for transformers)


def is_worker_process() -> bool:
    """True in a process Lightning's ``ddp`` launched (global rank above 0): it should not go on with the run."""
    from pytorch_lightning.utilities.rank_zero import rank_zero_only

    return int(getattr(rank_zero_only, "rank", 0) or 0) > 0


def distributed_transform(
    encoder: Encoder,
    dataset: Dataset,
    trainer_settings: Mapping[str, Any],
    shard_dir: Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    keep_shards: bool = False,
) -> np.ndarray:
    """``encoder.transform(dataset)`` (a fitted encoder), computed by the processes the settings ask for.

    ``trainer_settings``: Trainer keyword arguments (``trainer.*``), except
    ``precision``, which is not applied: the encoder's own dtype decides, and
    a ``16-true`` Trainer would cast its weights. ``shard_dir``: where the
    shards go (rank 0's folder is used by every process; None: a temporary
    folder, one machine only). The shards are removed after assembly unless
    ``keep_shards``.
    """
    if len(dataset) == 0:
        return encoder.transform(dataset)
    with _shard_folder(shard_dir) as folder:
        module = EncodeModule(encoder, dataset)
        writer = ShardWriter(folder, len(dataset), keep_shards)
        trainer = make_trainer(TrainingContext(trainer=predict_settings(trainer_settings)), callbacks=[writer])
        devices = network_devices(module.networks)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*does not have many workers.*")
                trainer.predict(module, index_loader(len(dataset), chunk_size), return_predictions=False)
        finally:
            restore_devices(module.networks, devices)
        if writer.embeddings is not None:  # this process took part (ddp, one device): it assembled already
            return writer.embeddings
        return collect_shards(writer.shard_dir, trainer.world_size, len(dataset), remove=not keep_shards)


def predict_settings(trainer_settings: Mapping[str, Any]) -> dict[str, Any]:
    """The run's Trainer settings for encoding: full precision (no autocast, no cast of the encoder's weights)."""
    return {**trainer_settings, "precision": "32-true"}


@contextlib.contextmanager
def _shard_folder(shard_dir: Path | None) -> Iterator[Path]:
    """``shard_dir`` (created), or a temporary folder removed afterwards."""
    if shard_dir is not None:
        Path(shard_dir).mkdir(parents=True, exist_ok=True)
        yield Path(shard_dir)
        return
    folder = Path(tempfile.mkdtemp(prefix="textcluster-shards-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------------- the module


class EncodeModule(pl.LightningModule):
    """``predict_step``: a batch of row indices to ``(indices, encoder.transform(dataset.select(indices)))``.

    Defined at module level so spawned processes can unpickle it; the
    encoder's ``nn.Module`` attributes are registered (``networks``) so that
    Lightning places them on each process' device.
    """

    def __init__(self, encoder: Encoder, dataset: Dataset):
        super().__init__()
        self.encoder, self.dataset = encoder, dataset
        self.networks = nn.ModuleList(encoder_networks(encoder))

    def predict_step(self, batch: np.ndarray, batch_idx: int) -> tuple[np.ndarray, np.ndarray]:
        indices = np.asarray(batch, dtype=np.int64)
        return indices, np.asarray(self.encoder.transform(self.dataset.select(indices)))


def encoder_networks(encoder: Encoder) -> list[nn.Module]:
    """The torch networks an encoder holds as attributes (a pretrained model, an autoencoder), each once."""
    found: dict[int, nn.Module] = {}
    for value in vars(encoder).values():
        if isinstance(value, nn.Module):
            found.setdefault(id(value), value)
    return list(found.values())


def network_devices(networks: nn.ModuleList) -> list[torch.device | None]:
    """Where each network's weights are (None: it has none)."""
    tensors = (next(itertools.chain(network.parameters(), network.buffers()), None) for network in networks)
    return [None if tensor is None else tensor.device for tensor in tensors]


def restore_devices(networks: nn.ModuleList, devices: list[torch.device | None]) -> None:
    for network, device in zip(networks, devices):
        if device is not None:
            network.to(device)


def index_loader(n_rows: int, chunk_size: int) -> DataLoader:
    """Row indices in chunks, in order; under DDP Lightning swaps in its distributed sampler (no shuffle)."""
    return DataLoader(np.arange(n_rows), batch_size=chunk_size, shuffle=False, collate_fn=as_index_array)


def as_index_array(batch: list) -> np.ndarray:
    """A batch of indices as a numpy array (Lightning moves tensors to the device; indices stay on the CPU)."""
    return np.asarray(batch, dtype=np.int64)


# ------------------------------------------------------------------------------------- shards


class ShardWriter(BasePredictionWriter):
    """Writes each process' rows to ``rank-<global rank>.npy``; a process that will return assembles them.

    Every process takes rank 0's folder (a broadcast), so ``ddp`` processes
    that each made a temporary folder still meet in one. A process spawned
    by the caller (``ddp_spawn``) only writes: the caller assembles.
    """

    def __init__(self, shard_dir: Path, n_rows: int, keep_shards: bool = False):
        super().__init__(write_interval="epoch")
        self.shard_dir, self.n_rows, self.keep_shards = Path(shard_dir), n_rows, keep_shards
        self.caller_pid = os.getpid()
        self.embeddings: np.ndarray | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.shard_dir = Path(trainer.strategy.broadcast(str(self.shard_dir), src=0))

    def write_on_epoch_end(self, trainer: pl.Trainer, pl_module, predictions, batch_indices) -> None:
        own_shard = self.shard_dir / SHARD_NAME.format(rank=trainer.global_rank)
        save_shard(own_shard, predictions)
        if os.getpid() != self.caller_pid:
            return  # a spawned process: the caller assembles after the processes end
        trainer.strategy.barrier("textcluster-shards-written")
        self.embeddings = assemble_shards(self.shard_dir, trainer.world_size, self.n_rows)
        trainer.strategy.barrier("textcluster-shards-read")
        if not self.keep_shards:
            own_shard.unlink(missing_ok=True)


def save_shard(path: Path, outputs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """One structured array (``index`` int64, ``row`` the embedding), written whole, then renamed into place."""
    indices = np.concatenate([index for index, _ in outputs]) if outputs else np.zeros(0, dtype=np.int64)
    rows = np.concatenate([row for _, row in outputs]) if outputs else np.zeros((0, 0), dtype=np.float32)
    shard = np.empty(len(indices), dtype=[("index", np.int64), ("row", rows.dtype, rows.shape[1:])])
    shard["index"], shard["row"] = indices, rows
    path.parent.mkdir(parents=True, exist_ok=True)  # another node's process meets a folder it has not made
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with open(partial, "wb") as file:
        np.save(file, shard, allow_pickle=False)
    os.replace(partial, path)


def assemble_shards(shard_dir: Path, world_size: int, n_rows: int) -> np.ndarray:
    """The rows of ``rank-0..world_size-1.npy`` in index order; a repeated index counts once, a missing one fails."""
    shards = [np.load(Path(shard_dir) / SHARD_NAME.format(rank=rank), allow_pickle=False) for rank in range(world_size)]
    shards = [shard for shard in shards if len(shard)]
    indices = np.concatenate([shard["index"] for shard in shards])
    rows = np.concatenate([shard["row"] for shard in shards])
    unique, first = np.unique(indices, return_index=True)  # sorted, the first occurrence of each
    if len(unique) != n_rows or unique[0] != 0 or unique[-1] != n_rows - 1:
        raise RuntimeError(
            f"the encoding shards in {shard_dir} hold {len(unique)} distinct rows of {n_rows}; "
            "a process did not write its shard (with several nodes, is the shard folder on a shared disk?)"
        )
    return rows[first]


def collect_shards(shard_dir: Path, world_size: int, n_rows: int, remove: bool) -> np.ndarray:
    """:func:`assemble_shards`, then (``remove``) delete the shard files."""
    embeddings = assemble_shards(shard_dir, world_size, n_rows)
    if remove:
        for rank in range(world_size):
            (Path(shard_dir) / SHARD_NAME.format(rank=rank)).unlink(missing_ok=True)
    return embeddings
