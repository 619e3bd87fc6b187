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
    score_name: str | None = None  # what predict_scores' second value is ("distance", "probability"), if any

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(labels, scores)`` for new points; ``scores`` (named by ``score_name``) is None when there are none.

        The default: ``predict``, and the highest ``predict_proba`` when the clusterer has one (a probability).
        """
        labels = np.asarray(self.predict(X))
        proba = getattr(self, "predict_proba", None)
        return labels, (np.asarray(proba(X)).max(axis=1) if callable(proba) else None)

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
    score_name = "distance"

    def _fit_centroids(self, X: np.ndarray) -> None:
        clusters = np.unique(self.labels_[self.labels_ != NOISE])
        self.centroid_labels_ = clusters
        self.centroids_ = np.stack([X[self.labels_ == c].mean(axis=0) for c in clusters]) if len(clusters) else np.zeros((0, X.shape[1]))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_scores(X)[0]

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest centre and the Euclidean distance to it."""
        if len(self.centroid_labels_) == 0:
            return np.full(len(X), NOISE), np.full(len(X), np.nan)
        distances = ((X[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(-1)
        nearest = distances.argmin(axis=1)
        return self.centroid_labels_[nearest], np.sqrt(distances[np.arange(len(X)), nearest])


def predict_with_scores(clusterer, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """``(labels, scores, score_name)`` for new points from any clusterer plugin (duck-typed)."""
    key = getattr(clusterer, "registry_key", type(clusterer).__name__)
    if callable(getattr(clusterer, "predict_scores", None)):
        labels, scores = clusterer.predict_scores(X)
    elif callable(getattr(clusterer, "predict", None)):
        labels, scores = np.asarray(clusterer.predict(X)), None
    else:
        raise UserError(f"clusterer '{key}' cannot assign new points (no predict and no declared fallback); "
                        "give it a predict method, e.g. by mixing in NearestCentroidFallback")
    name = getattr(clusterer, "score_name", None)
    if scores is not None and name is None:
        name = "probability" if callable(getattr(clusterer, "predict_proba", None)) else "score"
    if scores is None:
        return np.asarray(labels), None, None
    return np.asarray(labels), np.asarray(scores, dtype=float), name
