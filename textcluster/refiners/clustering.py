"""Deep clustering refiners: DEC, IDEC and SCCL-style contrastive clustering, as one Lightning module.

All three train the encoder's network together with a clustering layer (one
learnable centre per cluster, initialised from the clusterer's clusters):

- ``dec`` (Xie et al. 2016): Student's t soft assignment q of each code to each
  centre; the target p squares q and divides by cluster frequency (confident
  assignments count more, large clusters less), is recomputed over the whole
  data every ``update_interval`` steps, and the loss is KL(p || q). Training
  stops when fewer than ``tol`` of the labels changed between two updates.
- ``idec`` (Guo et al. 2017): DEC plus ``reconstruction_weight`` times the
  encoder's own pretraining loss, which keeps the code from collapsing.
- ``contrastive`` (SCCL, Zhang et al. 2021): two augmented views of each item
  (masked tokens for text, shifted/rotated images), an instance-wise
  contrastive loss (NT-Xent on a projection head) plus the clustering loss
  with the target taken per batch.

``augment: true`` makes DEC/IDEC see augmented inputs while the target comes
from clean ones (DEC-DA, Guo et al. 2018).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from textcluster.contracts import Encoder, RefinementView, Refiner, TrainingContext
from textcluster.dataset import Dataset
from textcluster.errors import UserError
from textcluster.params import Bool, Float, Int
from textcluster.refiners.base import initial_centers, unit_spread_scale
from textcluster.registry import refiners
from textcluster.results import Refinement

log = logging.getLogger(__name__)

POSITIVE = Float(min=0, min_open=True)
SHARED = {
    "max_epochs": Int(min=1),
    "batch_size": Int(min=2),
    "lr": POSITIVE,
    "alpha": POSITIVE,
    "center_lr_scale": POSITIVE,
    "normalize": Bool(),
    "rescale": Bool(),
}
DEC_SETTINGS = {**SHARED, "update_interval": Int(min=1), "tol": Float(min=0, max=1), "augment": Bool()}
WEIGHT = Float(min=0)


def check_views_differ(view: RefinementView) -> None:
    """Contrastive learning from two identical views teaches nothing: refuse an encoder without augmentation."""
    view.network.train()
    inputs = view.inputs(np.arange(min(view.n_rows, 8)))
    first, second = view.augment(*inputs), view.augment(*inputs)
    view.network.eval()
    if all(torch.equal(a, b) for a, b in zip(first, second)):
        raise UserError(
            "refiner=contrastive needs two different views of each item, but this encoder's "
            "augmentation is off; turn it on (encoder.augment.enabled=true or encoder.input_dropout>0 "
            "for dense, encoder.token_dropout>0 for cnn/rnn/transformer)"
        )


class ClusteringRefiner(Refiner):
    """Shared settings and the fit/predict flow of ``dec``, ``idec`` and ``contrastive``.

    The subclasses fix which loss terms are on (``target``, the weights); the
    settings live under their own names so ``get_params`` sees them.
    """

    target = "full"  # full: DEC's p over all data every update_interval steps; batch: SCCL's per-batch p

    def __init__(
        self,
        max_epochs: int = 20,
        batch_size: int = 256,
        lr: float = 1e-4,
        update_interval: int = 140,
        tol: float = 0.001,
        alpha: float = 1.0,
        augment: bool = False,
        clustering_weight: float = 1.0,
        reconstruction_weight: float = 0.0,
        contrastive_weight: float = 0.0,
        temperature: float = 0.5,
        center_lr_scale: float = 1.0,
        normalize: bool = False,
        rescale: bool = False,
    ):
        self.max_epochs, self.batch_size, self.lr = max_epochs, batch_size, lr
        self.update_interval, self.tol, self.alpha, self.augment = update_interval, tol, alpha, augment
        self.clustering_weight, self.reconstruction_weight = clustering_weight, reconstruction_weight
        self.contrastive_weight, self.temperature = contrastive_weight, temperature
        self.center_lr_scale, self.normalize, self.rescale = center_lr_scale, normalize, rescale

    @property
    def settings(self) -> dict[str, Any]:
        """What :class:`~textcluster.training.clustering.ClusteringModule` reads."""
        return dict(
            lr=float(self.lr),
            update_interval=int(self.update_interval),
            tol=float(self.tol),
            alpha=float(self.alpha),
            augment=bool(self.augment),
            clustering_weight=float(self.clustering_weight),
            reconstruction_weight=float(self.reconstruction_weight),
            contrastive_weight=float(self.contrastive_weight),
            temperature=float(self.temperature),
            target=self.target,
            center_lr_scale=float(self.center_lr_scale),
        )

    def refine(
        self, encoder: Encoder, dataset: Dataset, embeddings: np.ndarray, labels: np.ndarray, context: TrainingContext
    ) -> Refinement:
        from textcluster.training.clustering import ClusteringModule  # Lightning is slow to import

        self.scale_ = 1.0
        view = self.view(encoder, dataset)
        # The clusterer's labels (found on the encoder's embeddings, often L2-normalised) pick the
        # starting centres in the refiner's own code space (``normalize``; DEC works on raw codes).
        codes = view.encode_all().cpu().numpy()
        self.scale_ = unit_spread_scale(codes, labels) if self.rescale else 1.0
        view.scale = self.scale_
        centers, self.cluster_ids_ = initial_centers(codes * self.scale_, labels)
        if self.contrastive_weight > 0:
            check_views_differ(view)
        module = ClusteringModule(view, centers, self.settings)
        device = next(view.network.parameters()).device
        self._fit(module, view, context)
        view.network.to(device)
        self.centers_ = module.centers.detach().float().cpu().numpy()
        codes = view.encode_all().cpu().numpy()
        final = self.predict_scores(codes)[0]
        log.info(
            "refiner %s: %d steps, %d of %d labels differ from the clusterer's",
            self.key(),
            int(module.global_step),
            int((final != labels).sum()),
            len(labels),
        )
        return Refinement(codes, final)

    def view(self, encoder: Encoder, dataset: Dataset) -> RefinementView:
        view = encoder.refinement_view(dataset)
        view.normalize, view.scale = self.normalize, self.scale_
        return view

    def transform(self, encoder: Encoder, dataset: Dataset) -> np.ndarray:
        """The refined codes of (new) items, in the space of the refined centres."""
        return self.view(encoder, dataset).encode_all().cpu().numpy()

    def _fit(self, module, view: RefinementView, context: TrainingContext) -> None:
        from textcluster.training.clustering import row_loader
        from textcluster.training.lightning import make_trainer

        trainer = make_trainer(context, max_epochs=self.max_epochs, log_version="refiner")
        loader = row_loader(view.n_rows, view, self.batch_size, shuffle=True, seed=context.seed)
        view.network.train()
        trainer.fit(module, loader)
        view.network.eval()

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        from textcluster.training.clustering import student_t_assignment

        return student_t_assignment(
            torch.from_numpy(np.asarray(codes, dtype=np.float32)),
            torch.from_numpy(np.asarray(self.centers_, dtype=np.float32)),
            float(self.alpha),
        ).numpy()

    def predict_scores(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The most probable refined cluster (Student's t) and its probability."""
        probabilities = self.predict_proba(codes)
        return np.asarray(self.cluster_ids_)[probabilities.argmax(axis=1)], probabilities.max(axis=1)

    def set_state(self, state: Mapping[str, Any]) -> ClusteringRefiner:
        super().set_state(state)
        self.scale_ = float(self.scale_)
        return self


@refiners.register("dec")
class DECRefiner(ClusteringRefiner):
    """DEC: KL(p || q) only (``augment: true`` gives DEC-DA)."""

    parameters = DEC_SETTINGS

    def __init__(
        self,
        max_epochs: int = 20,
        batch_size: int = 256,
        lr: float = 1e-4,
        update_interval: int = 140,
        tol: float = 0.001,
        alpha: float = 1.0,
        augment: bool = False,
        center_lr_scale: float = 1.0,
        normalize: bool = False,
        rescale: bool = False,
    ):
        super().__init__(
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            update_interval=update_interval,
            tol=tol,
            alpha=alpha,
            augment=augment,
            center_lr_scale=center_lr_scale,
            normalize=normalize,
            rescale=rescale,
        )


@refiners.register("idec")
class IDECRefiner(ClusteringRefiner):
    """IDEC: DEC plus ``reconstruction_weight`` times the encoder's pretraining loss."""

    parameters = {**DEC_SETTINGS, "reconstruction_weight": WEIGHT, "clustering_weight": WEIGHT}

    def __init__(
        self,
        max_epochs: int = 20,
        batch_size: int = 256,
        lr: float = 1e-4,
        update_interval: int = 140,
        tol: float = 0.001,
        alpha: float = 1.0,
        augment: bool = False,
        reconstruction_weight: float = 1.0,
        clustering_weight: float = 0.1,
        center_lr_scale: float = 1.0,
        normalize: bool = False,
        rescale: bool = False,
    ):
        super().__init__(
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            update_interval=update_interval,
            tol=tol,
            alpha=alpha,
            augment=augment,
            clustering_weight=clustering_weight,
            reconstruction_weight=reconstruction_weight,
            center_lr_scale=center_lr_scale,
            normalize=normalize,
            rescale=rescale,
        )


@refiners.register("contrastive")
class ContrastiveRefiner(ClusteringRefiner):
    """SCCL-style: NT-Xent between two augmented views plus the per-batch clustering loss."""

    target = "batch"
    parameters = {**SHARED, "contrastive_weight": WEIGHT, "clustering_weight": WEIGHT, "temperature": POSITIVE}

    def __init__(
        self,
        max_epochs: int = 3,
        batch_size: int = 64,
        lr: float = 1e-5,
        alpha: float = 1.0,
        contrastive_weight: float = 1.0,
        clustering_weight: float = 1.0,
        temperature: float = 0.5,
        center_lr_scale: float = 100.0,
        normalize: bool = False,
        rescale: bool = False,
    ):
        super().__init__(
            max_epochs=max_epochs,
            batch_size=batch_size,
            lr=lr,
            alpha=alpha,
            contrastive_weight=contrastive_weight,
            clustering_weight=clustering_weight,
            temperature=temperature,
            center_lr_scale=center_lr_scale,
            normalize=normalize,
            rescale=rescale,
        )
