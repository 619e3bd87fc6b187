"""Training for self-labelling: a classifier learns pseudo-labels from augmented images (one-cycle Adam)."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from textcluster.training.augment import RandomAffine


def labelled_loader(images: torch.Tensor, targets: np.ndarray, batch_size: int, seed: int) -> DataLoader:
    """Shuffled ``(images, targets)`` batches, in an order the seed fixes."""
    data = TensorDataset(images, torch.as_tensor(targets, dtype=torch.long))
    return DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))


class SelfLabelModule(pl.LightningModule):
    """Cross-entropy on randomly shifted/rotated copies of the images; the learning rate follows one cycle.

    The one-cycle schedule (warm up, then anneal to nearly zero) lets a few
    epochs from scratch converge, which a constant rate does not.
    """

    def __init__(self, network: nn.Module, image_shape: list[int], settings: dict):
        super().__init__()
        self.network, self.settings = network, settings
        self.augment = RandomAffine(tuple(image_shape), settings["max_shift"], settings["max_rotation"])

    def training_step(self, batch, batch_index):
        images, targets = batch
        loss = F.cross_entropy(self.network(self.augment(images)), targets)
        self.log("selflabel_loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.network.parameters(), lr=self.settings["lr"])
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.settings["lr"], total_steps=self.settings["total_steps"]
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
