"""The Lightning module behind the clustering refiners (see :mod:`textcluster.refiners.clustering`)."""

from __future__ import annotations

import logging

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from textcluster.contracts import RefinementView
from textcluster.training.batching import BucketBatchSampler

log = logging.getLogger(__name__)


def student_t_assignment(codes: torch.Tensor, centers: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """DEC's soft assignment: q_ij proportional to (1 + |z_i - mu_j|^2 / alpha)^(-(alpha + 1) / 2)."""
    squared = torch.cdist(codes, centers).pow(2)
    kernel = (1.0 + squared / alpha).pow(-(alpha + 1.0) / 2.0)
    return kernel / kernel.sum(dim=1, keepdim=True)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's sharpened target: p_ij proportional to q_ij^2 / f_j, with f_j the soft size of cluster j."""
    weight = q.pow(2) / q.sum(dim=0, keepdim=True)
    return weight / weight.sum(dim=1, keepdim=True)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) averaged over rows."""
    return (p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(dim=1).mean()


def nt_xent(first: torch.Tensor, second: torch.Tensor, temperature: float) -> torch.Tensor:
    """Instance-wise contrastive loss (SimCLR's NT-Xent): each view must pick its twin among the 2B - 1 others."""
    views = F.normalize(torch.cat([first, second]), dim=1)
    similarity = views @ views.T / temperature
    n = len(first)
    similarity.fill_diagonal_(float("-inf"))
    twins = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(views.device)
    return F.cross_entropy(similarity, twins)


def row_loader(n_rows: int, view: RefinementView, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """Batches of ``(rows, *inputs)``: the row ids let a batch look up its rows of the target distribution.

    Views of variable-length inputs (``view.lengths``: token counts) get length-bucketed batches when shuffled.
    """

    def collate(rows):
        rows = np.asarray(rows)
        return (torch.from_numpy(rows), *view.inputs(rows))

    if shuffle and view.lengths is not None:  # see textcluster.training.batching
        return DataLoader(
            np.arange(n_rows),
            batch_sampler=BucketBatchSampler(view.lengths, batch_size, True, seed),
            collate_fn=collate,
        )
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        np.arange(n_rows), batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate
    )


class ClusteringModule(pl.LightningModule):
    """The encoder's network plus a clustering layer, trained on the loss terms the refiner asks for."""

    def __init__(self, view: RefinementView, centers: np.ndarray, settings: dict):
        super().__init__()
        self.view, self.settings = view, settings
        self.network = view.network  # registered, so Lightning moves and optimises it
        self.centers = nn.Parameter(torch.from_numpy(centers))
        width = centers.shape[1]
        self.projection = (
            nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 128))
            if settings["contrastive_weight"] > 0
            else None
        )
        self.target: torch.Tensor | None = None  # p over all rows (full-data target)
        self.previous_labels: np.ndarray | None = None

    # ---------------------------------------------------------------- assignment and target

    def assign(self, codes: torch.Tensor) -> torch.Tensor:
        return student_t_assignment(codes, self.centers.float(), self.settings["alpha"])

    def update_target(self) -> bool:
        """Recompute p over all rows; True when fewer than ``tol`` of the labels changed (converged)."""
        with torch.no_grad():
            q = self.assign(self.view.encode_all())
        self.target = target_distribution(q)
        labels = q.argmax(dim=1).cpu().numpy()
        converged = False
        if self.previous_labels is not None:
            changed = float((labels != self.previous_labels).mean())
            log.info("refiner step %d: %.4f of the labels changed", self.global_step, changed)
            converged = changed < self.settings["tol"]
        self.previous_labels = labels
        return converged

    # ---------------------------------------------------------------- training

    def on_train_batch_start(self, batch, batch_idx):
        full_target = self.settings["target"] == "full" and self.settings["clustering_weight"] > 0
        due = full_target and self.global_step % self.settings["update_interval"] == 0
        if due and self.update_target() and self.global_step > 0:
            log.info("refiner converged: fewer than tol=%g of the labels changed", self.settings["tol"])
            self.trainer.should_stop = True
            return -1  # ends the epoch; should_stop ends the fit
        return None

    def training_step(self, batch, batch_idx):
        rows, *inputs = batch
        settings = self.settings
        loss = torch.zeros((), device=self.device)
        if settings["contrastive_weight"] > 0:
            first, second = self.view.augment(*inputs), self.view.augment(*inputs)
            codes_first, codes_second = self.view.encode(*first), self.view.encode(*second)
            contrast = nt_xent(self.projection(codes_first), self.projection(codes_second), settings["temperature"])
            self.log("contrastive_loss", contrast, on_step=False, on_epoch=True)
            loss = loss + settings["contrastive_weight"] * contrast
        if settings["clustering_weight"] > 0:
            seen = self.view.augment(*inputs) if settings["augment"] else inputs
            q = self.assign(self.view.encode(*seen))
            if settings["target"] == "full":
                p = self.target[rows.to(self.target.device)].to(q.device)
            elif settings["augment"]:  # per batch, from clean inputs (SCCL)
                with torch.no_grad():
                    p = target_distribution(self.assign(self.view.encode(*inputs)))
            else:  # q itself came from the clean inputs: no second forward pass
                p = target_distribution(q.detach())
            kl = kl_divergence(p, q)
            self.log("kl_loss", kl, on_step=False, on_epoch=True)
            loss = loss + settings["clustering_weight"] * kl
        if settings["reconstruction_weight"] > 0:
            reconstruction = self.view.reconstruction_loss(*inputs)
            if reconstruction is not None:
                self.log("reconstruction_loss", reconstruction, on_step=False, on_epoch=True)
                loss = loss + settings["reconstruction_weight"] * reconstruction
        self.log("train_loss", loss, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        groups = [
            {"params": self.network.parameters(), "lr": self.settings["lr"]},
            {"params": [self.centers], "lr": self.settings["lr"] * self.settings["center_lr_scale"]},
        ]
        if self.projection is not None:
            groups.append({"params": self.projection.parameters(), "lr": self.settings["lr"] * 10})
        return torch.optim.Adam(groups)
