"""Built-in clusterers: k-means, DBSCAN, HDBSCAN; parameters under scikit-learn's names."""

from __future__ import annotations

import numpy as np

from textcluster.clusterers.base import NOISE, Clusterer
from textcluster.errors import UserError
from textcluster.registry import clusterers


@clusterers.register("kmeans")
class KMeansClusterer(Clusterer):
    """k-means (scikit-learn) with k-means++ starts; ``n_clusters=None`` means "as many as true classes"."""

    def __init__(self, n_clusters: int | None = None, n_init: int = 10, max_iter: int = 300, random_state: int = 0):
        self.n_clusters, self.n_init, self.max_iter, self.random_state = n_clusters, n_init, max_iter, random_state

    def fit(self, X: np.ndarray, y=None) -> "KMeansClusterer":
        from sklearn.cluster import KMeans

        if self.n_clusters is None:
            raise UserError("kmeans needs clusterer.n_clusters=<k> (this data has no labels to take k from)")
        self.check_n_clusters(X)
        self.model_ = KMeans(n_clusters=self.n_clusters, n_init=self.n_init, max_iter=self.max_iter,
                             random_state=self.random_state).fit(X)
        self.labels_ = self.model_.labels_
        self.cluster_centers_ = self.model_.cluster_centers_
        return self

    score_name = "distance"

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest centre (scikit-learn's predict) and the Euclidean distance to it."""
        labels = self.model_.predict(X)
        distances = self.model_.transform(X)[np.arange(len(X)), labels]
        return labels, distances


@clusterers.register("dbscan")
class DBSCANClusterer(Clusterer):
    """DBSCAN (scikit-learn). New points take the label of the nearest core sample within ``eps``, else noise."""

    supports_noise = True
    predict_method = "nearest_core_sample"

    def __init__(self, eps: float = 0.5, min_samples: int = 5, metric: str = "euclidean"):
        self.eps, self.min_samples, self.metric = eps, min_samples, metric

    def fit(self, X: np.ndarray, y=None) -> "DBSCANClusterer":
        from sklearn.cluster import DBSCAN

        self.model_ = DBSCAN(eps=self.eps, min_samples=self.min_samples, metric=self.metric).fit(X)
        self.labels_ = self.model_.labels_
        core = self.model_.core_sample_indices_
        self.core_points_, self.core_labels_ = X[core], self.labels_[core]
        return self

    score_name = "distance"

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_scores(X)[0]

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest core sample's label within ``eps`` (else noise) and the distance to that core sample."""
        from sklearn.neighbors import NearestNeighbors

        if len(self.core_points_) == 0:
            return np.full(len(X), NOISE), np.full(len(X), np.nan)
        distance, index = NearestNeighbors(n_neighbors=1, metric=self.metric).fit(self.core_points_).kneighbors(X)
        labels = np.where(distance[:, 0] <= self.eps, self.core_labels_[index[:, 0]], NOISE)
        return labels, distance[:, 0]


@clusterers.register("hdbscan")
class HDBSCANClusterer(Clusterer):
    """HDBSCAN (the hdbscan library). New points go through ``hdbscan.approximate_predict``."""

    supports_noise = True
    predict_method = "approximate_predict"

    def __init__(self, min_cluster_size: int = 15, min_samples: int | None = None,
                 cluster_selection_epsilon: float = 0.0, cluster_selection_method: str = "eom",
                 metric: str = "euclidean"):
        self.min_cluster_size, self.min_samples = min_cluster_size, min_samples
        self.cluster_selection_epsilon, self.cluster_selection_method = cluster_selection_epsilon, cluster_selection_method
        self.metric = metric

    def fit(self, X: np.ndarray, y=None) -> "HDBSCANClusterer":
        import hdbscan

        if self.min_cluster_size > len(X):
            raise UserError(f"clusterer.min_cluster_size={self.min_cluster_size} is larger than the number of samples "
                            f"({len(X)}); lower it or raise data.limit")
        self.model_ = hdbscan.HDBSCAN(min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
                                      cluster_selection_epsilon=self.cluster_selection_epsilon,
                                      cluster_selection_method=self.cluster_selection_method,
                                      metric=self.metric, prediction_data=True).fit(X.astype(np.float64))
        self.labels_ = self.model_.labels_
        self.probabilities_ = self.model_.probabilities_
        return self

    def soft_membership(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(cluster ids, n x k probabilities)`` of the fitted points (``hdbscan.all_points_membership_vectors``).

        Used by ``noise=soft``; None when there are fewer than two clusters (nothing to choose between).
        """
        import hdbscan

        clusters = np.unique(self.labels_[self.labels_ != NOISE])
        if len(clusters) < 2:
            return None
        vectors = np.asarray(hdbscan.all_points_membership_vectors(self.model_)).reshape(len(self.labels_), -1)
        return clusters, vectors

    score_name = "probability"

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_scores(X)[0]

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``hdbscan.approximate_predict``: labels and their membership strengths (0 for noise)."""
        import hdbscan

        labels, strengths = hdbscan.approximate_predict(self.model_, X.astype(np.float64))
        return np.asarray(labels), np.asarray(strengths, dtype=float)


@clusterers.register("gmm")
class GaussianMixtureClusterer(Clusterer):
    """Gaussian mixture (scikit-learn): soft clusters with their own shape; N2D's clusterer on a UMAP manifold.

    ``n_clusters=None`` means "as many as true classes". ``predict_proba`` gives
    each point's membership probabilities.
    """

    def __init__(self, n_clusters: int | None = None, covariance_type: str = "full", n_init: int = 1,
                 max_iter: int = 100, reg_covar: float = 1e-6, random_state: int = 0):
        self.n_clusters, self.covariance_type, self.n_init = n_clusters, covariance_type, n_init
        self.max_iter, self.reg_covar, self.random_state = max_iter, reg_covar, random_state

    def fit(self, X: np.ndarray, y=None) -> "GaussianMixtureClusterer":
        from sklearn.mixture import GaussianMixture

        if self.n_clusters is None:
            raise UserError("gmm needs clusterer.n_clusters=<k> (this data has no labels to take k from)")
        if self.covariance_type not in ("full", "tied", "diag", "spherical"):
            raise UserError(f"clusterer.covariance_type='{self.covariance_type}' is not known; "
                            "use full, tied, diag or spherical")
        self.check_n_clusters(X)
        self.model_ = GaussianMixture(n_components=self.n_clusters, covariance_type=self.covariance_type,
                                      n_init=self.n_init, max_iter=self.max_iter, reg_covar=self.reg_covar,
                                      random_state=self.random_state).fit(X)
        self.labels_ = self.model_.predict(X)
        self.cluster_centers_ = self.model_.means_
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(X)
