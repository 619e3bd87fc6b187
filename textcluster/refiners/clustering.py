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
import numpy as np
import torch

from textcluster.data import Dataset
from textcluster.encoders.base import Encoder, TrainingContext
from textcluster.errors import UserError
from textcluster.refiners.base import (Refinement, RefinementView, Refiner, initial_centers, refinement_view,
                                      unit_spread_scale)
from textcluster.registry import refiners

log = logging.getLogger(__name__)


def check_views_differ(view: RefinementView) -> None:
    """Contrastive learning from two identical views teaches nothing: refuse an encoder without augmentation."""
    view.network.train()
    inputs = view.inputs(np.arange(min(view.n_rows, 8)))
    first, second = view.augment(*inputs), view.augment(*inputs)
    view.network.eval()
    if all(torch.equal(a, b) for a, b in zip(first, second)):
        raise UserError("refiner=contrastive needs two different views of each item, but this encoder's "
                        "augmentation is off; turn it on (encoder.augment.enabled=true or encoder.input_dropout>0 "
                        "for dense, encoder.token_dropout>0 for cnn/rnn/transformer)")


class ClusteringRefiner(Refiner):
    """Shared settings and the fit/predict flow of ``dec``, ``idec`` and ``contrastive``."""

    def __init__(self, max_epochs: int = 20, batch_size: int = 256, lr: float = 1e-4, update_interval: int = 140,
                 tol: float = 0.001, alpha: float = 1.0, augment: bool = False, clustering_weight: float = 1.0,
                 reconstruction_weight: float = 0.0, contrastive_weight: float = 0.0, temperature: float = 0.5,
                 target: str = "full", center_lr_scale: float = 1.0, normalize: bool = False, rescale: bool = False):
        if target not in ("full", "batch"):
            raise UserError(f"refiner.target='{target}' is not known; use full (DEC: over all data every "
                            "update_interval steps) or batch (SCCL: within each batch)")
        if max_epochs < 1 or batch_size < 2 or update_interval < 1:
            raise UserError("refiner.max_epochs and refiner.update_interval must be >= 1 and refiner.batch_size >= 2")
        self.max_epochs, self.batch_size = int(max_epochs), int(batch_size)
        self.normalize, self.rescale = bool(normalize), bool(rescale)
        self.settings = dict(lr=float(lr), update_interval=int(update_interval), tol=float(tol), alpha=float(alpha),
                             augment=bool(augment), clustering_weight=float(clustering_weight),
                             reconstruction_weight=float(reconstruction_weight),
                             contrastive_weight=float(contrastive_weight), temperature=float(temperature),
                             target=target, center_lr_scale=float(center_lr_scale))

    def refine(self, encoder: Encoder, dataset: Dataset, embeddings: np.ndarray, labels: np.ndarray,
               context: TrainingContext) -> Refinement:
        from textcluster.training.clustering import ClusteringModule  # Lightning is slow to import

        view = self.view(encoder, dataset)
        # The clusterer's labels (found on the encoder's embeddings, often L2-normalised) pick the
        # starting centres in the refiner's own code space (``normalize``; DEC works on raw codes).
        codes = view.encode_all().cpu().numpy()
        self.scale_ = unit_spread_scale(codes, labels) if self.rescale else 1.0
        view.scale = self.scale_
        centers, self.cluster_ids_ = initial_centers(codes * self.scale_, labels)
        if self.settings["contrastive_weight"] > 0:
            check_views_differ(view)
        module = ClusteringModule(view, centers, self.settings)
        device = next(view.network.parameters()).device
        self._fit(module, view, context)
        view.network.to(device)
        self.centers_ = module.centers.detach().float().cpu().numpy()
        codes = view.encode_all().cpu().numpy()
        final = self.predict(codes)
        history = {"steps": int(module.global_step), "label_changes": module.label_changes,
                   "first_loss": module.losses[0] if module.losses else None,
                   "last_loss": module.losses[-1] if module.losses else None}
        log.info("refiner %s: %d steps, %d of %d labels differ from the clusterer's",
                 getattr(self, "registry_key", type(self).__name__), history["steps"],
                 int((final != labels).sum()), len(labels))
        return Refinement(codes, final, history)

    def view(self, encoder: Encoder, dataset: Dataset) -> RefinementView:
        view = refinement_view(encoder, dataset)
        view.normalize = self.normalize
        view.scale = getattr(self, "scale_", 1.0)
        return view

    def transform(self, encoder: Encoder, dataset: Dataset) -> np.ndarray:
        """The refined codes of (new) items, in the space of the refined centres."""
        return self.view(encoder, dataset).encode_all().cpu().numpy()

    def _fit(self, module, view: RefinementView, context: TrainingContext) -> None:
        import pytorch_lightning as pl
        from pytorch_lightning.loggers import CSVLogger

        from textcluster.training.clustering import row_loader

        trainer_settings = {k: v for k, v in context.trainer.items() if k not in ("max_epochs",)}
        logger = CSVLogger(save_dir=str(context.run_dir), name="logs", version="refiner") \
            if context.run_dir is not None else False
        trainer = pl.Trainer(max_epochs=self.max_epochs, logger=logger, enable_checkpointing=False,
                             enable_model_summary=False, **trainer_settings)
        loader = row_loader(view.n_rows, view, self.batch_size, shuffle=True, seed=context.seed)
        view.network.train()
        trainer.fit(module, loader)
        view.network.eval()

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        return self.cluster_ids_[self.predict_proba(embeddings).argmax(axis=1)]

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        from textcluster.training.clustering import student_t_assignment

        return student_t_assignment(torch.from_numpy(np.asarray(embeddings, dtype=np.float32)),
                                    torch.from_numpy(self.centers_), self.settings["alpha"]).numpy()


@refiners.register("dec")
class DECRefiner(ClusteringRefiner):
    """DEC: KL(p || q) only (``augment: true`` gives DEC-DA)."""

    def __init__(self, max_epochs: int = 20, batch_size: int = 256, lr: float = 1e-4, update_interval: int = 140,
                 tol: float = 0.001, alpha: float = 1.0, augment: bool = False, center_lr_scale: float = 1.0,
                 normalize: bool = False, rescale: bool = False):
        super().__init__(max_epochs=max_epochs, batch_size=batch_size, lr=lr, update_interval=update_interval,
                         tol=tol, alpha=alpha, augment=augment, center_lr_scale=center_lr_scale, normalize=normalize,
                         rescale=rescale)


@refiners.register("idec")
class IDECRefiner(ClusteringRefiner):
    """IDEC: DEC plus ``reconstruction_weight`` times the encoder's pretraining loss."""

    def __init__(self, max_epochs: int = 20, batch_size: int = 256, lr: float = 1e-4, update_interval: int = 140,
                 tol: float = 0.001, alpha: float = 1.0, augment: bool = False, reconstruction_weight: float = 1.0,
                 clustering_weight: float = 0.1, center_lr_scale: float = 1.0, normalize: bool = False,
                 rescale: bool = False):
        super().__init__(max_epochs=max_epochs, batch_size=batch_size, lr=lr, update_interval=update_interval,
                         tol=tol, alpha=alpha, augment=augment, clustering_weight=clustering_weight,
                         reconstruction_weight=reconstruction_weight, center_lr_scale=center_lr_scale,
                         normalize=normalize, rescale=rescale)


@refiners.register("contrastive")
class ContrastiveRefiner(ClusteringRefiner):
    """SCCL-style: NT-Xent between two augmented views plus the per-batch clustering loss."""

    def __init__(self, max_epochs: int = 3, batch_size: int = 64, lr: float = 1e-5, alpha: float = 1.0,
                 contrastive_weight: float = 1.0, clustering_weight: float = 1.0, temperature: float = 0.5,
                 center_lr_scale: float = 100.0, normalize: bool = False, rescale: bool = False):
        super().__init__(max_epochs=max_epochs, batch_size=batch_size, lr=lr, alpha=alpha,
                         contrastive_weight=contrastive_weight, clustering_weight=clustering_weight,
                         temperature=temperature, target="batch", center_lr_scale=center_lr_scale,
                         normalize=normalize, rescale=rescale)
