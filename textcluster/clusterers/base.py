"""The clusterer contract: scikit-learn estimator shape plus a declared predict route."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from textcluster.errors import UserError

NOISE = -1


class Clusterer(ClusterMixin, BaseEstimator):
    """Base class for clusterer plugins.

    ``fit(X)`` returns self and sets ``labels_`` (noise is ``-1`` when
    ``supports_noise``). ``predict(X)`` assigns new points; ``predict_method``
    names how: ``"native"`` for methods with a real out-of-sample rule
    (k-means, GMM), otherwise the declared fallback.
    """

    supports_noise = False
    predict_method = "native"

    def check_n_clusters(self, X: np.ndarray) -> None:
        n_clusters = getattr(self, "n_clusters", None)
        if n_clusters is None:
            return
        if n_clusters < 1:
            raise UserError(f"clusterer.n_clusters must be at least 1, got {n_clusters}")
        if n_clusters > len(X):
            raise UserError(f"clusterer.n_clusters={n_clusters} is larger than the number of samples ({len(X)}); "
                            "lower clusterer.n_clusters or raise data.limit")


class NearestCentroidFallback:
    """Predict by the nearest centre of the fitted clusters (noise excluded)."""

    predict_method = "nearest_centroid"

    def _fit_centroids(self, X: np.ndarray) -> None:
        clusters = np.unique(self.labels_[self.labels_ != NOISE])
        self.centroid_labels_ = clusters
        self.centroids_ = np.stack([X[self.labels_ == c].mean(axis=0) for c in clusters]) if len(clusters) else np.zeros((0, X.shape[1]))

    def predict(self, X: np.ndarray) -> np.ndarray:
        if len(self.centroid_labels_) == 0:
            return np.full(len(X), NOISE)
        distances = ((X[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(-1)
        return self.centroid_labels_[distances.argmin(axis=1)]
