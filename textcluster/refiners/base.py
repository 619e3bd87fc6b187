"""The refiner contract and what a refiner sees of a trained encoder.

A refiner runs after the clusterer: it takes the encoder's trained network and
the first cluster assignment and trains both further so the clusters get
sharper (DEC, IDEC, contrastive). It needs a differentiable view of the
encoder, which each trainable encoder provides through
``Encoder.refinement_view(dataset)`` (a :class:`RefinementView`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textcluster.clusterers.base import NOISE
from textcluster.data import Dataset
from textcluster.encoders.base import Encoder, RefinementView, TrainingContext
from textcluster.errors import UserError


def refinement_view(encoder: Encoder, dataset: Dataset) -> RefinementView:
    """The encoder's view, or a clear error for encoders with nothing to refine (raw features)."""
    make_view = getattr(encoder, "refinement_view", None)
    view = make_view(dataset) if callable(make_view) else None
    if view is None:
        key = getattr(encoder, "registry_key", type(encoder).__name__)
        raise UserError(f"encoder '{key}' has no trainable network to refine; use refiner=none, or an encoder "
                        "with one (dense, cnn, rnn, transformer, pretrained)")
    return view


def initial_centers(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean embedding of each cluster of ``labels`` (noise left out) and the cluster ids in that order."""
    clusters = np.unique(labels[labels != NOISE])
    if len(clusters) < 2:
        raise UserError(f"the clusterer found {len(clusters)} cluster(s); a refiner needs at least 2. "
                        "Change the clusterer settings (e.g. clusterer.n_clusters) or use refiner=none")
    centers = np.stack([embeddings[labels == c].mean(axis=0) for c in clusters]).astype(np.float32)
    return centers, clusters


def unit_spread_scale(codes: np.ndarray, labels: np.ndarray) -> float:
    """The factor that makes the mean squared distance of a code to its cluster's centre 1.

    Student's t assignment reads distances in absolute units: codes a few tenths
    apart (a small or briefly trained network) give nearly uniform q and DEC
    learns nothing, codes hundreds apart give hard 0/1 q. Rescaling once, at
    the start, puts every encoder in the regime DEC was designed for.
    """
    kept = labels != NOISE
    centers = {c: codes[labels == c].mean(axis=0) for c in np.unique(labels[kept])}
    spread = np.mean([np.sum((code - centers[c]) ** 2) for code, c in zip(codes[kept], labels[kept])])
    return float(1.0 / np.sqrt(spread)) if spread > 0 else 1.0


@dataclass
class Refinement:
    """A refiner's output: the refined embeddings (the encoder's new codes) and the final labels."""

    embeddings: np.ndarray
    labels: np.ndarray
    history: dict


class Refiner:
    """Base of refiner plugins: ``refine(encoder, dataset, embeddings, labels, context) -> Refinement``.

    After ``refine`` the encoder itself is refined (its ``transform`` gives the
    new codes) and ``predict(embeddings)`` assigns new codes to the refined clusters.
    """

    def refine(self, encoder: Encoder, dataset: Dataset, embeddings: np.ndarray, labels: np.ndarray,
               context: TrainingContext) -> Refinement:
        raise NotImplementedError

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class NoRefiner(Refiner):
    """``refiner=none``: the clusterer's assignment is final."""

    is_identity = True

    def refine(self, encoder, dataset, embeddings, labels, context) -> Refinement:
        return Refinement(embeddings, labels, {})
