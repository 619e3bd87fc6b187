"""What clusterer plugins share: the ``n_clusters`` setting and the nearest-centre fallback for new points."""

from __future__ import annotations

import numpy as np

from textcluster.errors import UserError
from textcluster.labels import NOISE, cluster_centres
from textcluster.params import Choice, Int

N_CLUSTERS = Int(min=1) | Choice("auto", "labels")
"""``clusterer.n_clusters``: a number; ``auto`` (the pipeline searches k, see :mod:`.k_selection`); or ``labels``
(as many clusters as the data has true classes: the benchmark protocol)."""


def settled_k(key: str, n_clusters: object) -> int:
    """``n_clusters`` as the number a fit needs; ``auto`` and ``labels`` are settled by the pipeline first."""
    if not isinstance(n_clusters, (int, np.integer)):
        raise UserError(
            f"{key} was fitted with clusterer.n_clusters={n_clusters!r}; the pipeline settles auto and labels into a "
            "number before fitting: fit it through a Pipeline, or give clusterer.n_clusters=<k>"
        )
    return int(n_clusters)


def nearest(X: np.ndarray, ids: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(label of the nearest centre, Euclidean distance to it)`` for each row; noise when there is no centre."""
    from sklearn.metrics import pairwise_distances_argmin_min

    if len(ids) == 0:
        return np.full(len(X), NOISE), np.full(len(X), np.nan)
    index, distance = pairwise_distances_argmin_min(np.asarray(X), np.asarray(centres, dtype=np.asarray(X).dtype))
    return np.asarray(ids)[index], distance


class NearestCentre:
    """Mixin for k-means-like clusterers: a new point goes to the nearest of ``cluster_centers_`` (native rule)."""

    score_name = "distance"

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest centre and the Euclidean distance to it."""
        return nearest(X, np.arange(len(self.cluster_centers_)), self.cluster_centers_)


class NearestCentroidFallback:
    """Mixin for clusterers without an out-of-sample rule: a new point joins the nearest cluster mean.

    Call ``self.fit_centroids(X)`` at the end of ``fit``.
    """

    predict_method = "nearest_centroid"
    score_name = "distance"

    def fit_centroids(self, X: np.ndarray) -> None:
        self.centroid_labels_, self.centroids_ = cluster_centres(X, self.labels_)

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest centre and the Euclidean distance to it."""
        return nearest(X, self.centroid_labels_, self.centroids_)
