"""The one place a ``pytorch_lightning.Trainer`` is made, and the best-weights keeper the encoders train with."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytorch_lightning as pl

from textcluster import console
from textcluster.contracts import TrainingContext


def make_trainer(
    context: TrainingContext,
    *,
    max_epochs: int | None = None,
    callbacks: Sequence[pl.Callback] = (),
    log_version: str | None = None,
) -> pl.Trainer:
    """A Trainer with the run's settings (``trainer.*``); ``max_epochs`` overrides theirs.

    Lightning writes no checkpoint files (the best weights are kept in memory,
    :class:`KeepBestWeights`) and logs CSV under ``<log_dir>/logs`` when the
    context names a folder.
    """
    from pytorch_lightning.loggers import CSVLogger

    console.install()  # Lightning's tips, device inventory and known deprecations (see textcluster.console)
    settings = dict(context.trainer)
    share_tensors_through_files(settings)
    if max_epochs is not None:
        settings["max_epochs"] = max_epochs
    logger = (
        CSVLogger(save_dir=str(context.log_dir), name="logs", version=log_version)
        if context.log_dir is not None
        else False
    )
    return pl.Trainer(
        logger=logger, callbacks=list(callbacks), enable_checkpointing=False, enable_model_summary=False, **settings
    )


def share_tensors_through_files(settings: dict) -> None:
    """Under ``ddp_spawn``, hand tensors to the new processes through files, not file descriptors.

    The spawn pickles the module and its loaders; a tensor made only for the
    pickle (a DataLoader's ``torch.Generator`` state) is freed at once, its
    descriptor closed and its number reused before the processes start, and
    Python refuses the list (``ValueError: bad value(s) in fds_to_keep``).
    torch's ``file_system`` sharing passes names instead (a process-wide setting).
    """
    if str(settings.get("strategy", "")).startswith("ddp_spawn"):
        import torch.multiprocessing

        torch.multiprocessing.set_sharing_strategy("file_system")


class KeepBestWeights(pl.Callback):
    """Copies the module's weights whenever ``monitor`` reaches a new minimum; ``restore`` puts the best back.

    What a ``ModelCheckpoint(save_top_k=1)`` does, without writing a pickled
    checkpoint: a validation loss is read after each validation, a training
    loss after each training epoch.
    """

    def __init__(self, monitor: str):
        self.monitor = monitor
        self.best_score = math.inf
        self.best_state: dict | None = None

    def _consider(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if value is None or trainer.sanity_checking:
            return
        value = float(value)
        if value < self.best_score:
            self.best_score = value
            self.best_state = {key: tensor.detach().cpu().clone() for key, tensor in module.state_dict().items()}

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.monitor.startswith("val"):
            self._consider(trainer, module)

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not self.monitor.startswith("val"):
            self._consider(trainer, module)

    def restore(self, module: pl.LightningModule) -> bool:
        if self.best_state is None:
            return False
        module.load_state_dict(self.best_state)
        return True
