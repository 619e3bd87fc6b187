"""What the refiners share: the starting centres from the clusterer's clusters, and the code scale.

A refiner runs after the clusterer: it takes the encoder's trained network and
the first cluster assignment and trains both further so the clusters get
sharper (DEC, IDEC, contrastive). It needs a differentiable view of the
encoder, which each trainable encoder provides through
``Encoder.refinement_view(dataset)`` (a :class:`~textcluster.contracts.RefinementView`).
"""

from __future__ import annotations

import numpy as np

from textcluster.errors import UserError
from textcluster.labels import NOISE, cluster_centres

MIN_CLUSTERS = 2


def initial_centers(codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(centres, cluster ids)``: the mean code of each cluster of ``labels`` (noise left out)."""
    ids, centres = cluster_centres(codes, labels)
    if len(ids) < MIN_CLUSTERS:
        raise UserError(
            f"the clusterer found {len(ids)} cluster(s); a refiner needs at least {MIN_CLUSTERS}. "
            "Change the clusterer settings (e.g. clusterer.n_clusters) or use refiner=none"
        )
    return centres.astype(np.float32), ids


def unit_spread_scale(codes: np.ndarray, labels: np.ndarray) -> float:
    """The factor that makes the mean squared distance of a code to its cluster's centre 1.

    Student's t assignment reads distances in absolute units: codes a few tenths
    apart (a small or briefly trained network) give nearly uniform q and DEC
    learns nothing, codes hundreds apart give hard 0/1 q. Rescaling once, at
    the start, puts every encoder in the regime DEC was designed for.
    """
    kept = labels != NOISE
    ids, centres = cluster_centres(codes, labels)
    centre_of = centres[np.searchsorted(ids, labels[kept])]
    spread = float(np.mean(np.sum((codes[kept] - centre_of) ** 2, axis=1)))
    return float(1.0 / np.sqrt(spread)) if spread > 0 else 1.0
