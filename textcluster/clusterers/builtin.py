"""Built-in clusterers: k-means, DBSCAN, HDBSCAN, Gaussian mixture; parameters under scikit-learn's names.

Each keeps what its out-of-sample rule needs as arrays (centres, core samples,
HDBSCAN's tree, the mixture's parameters), so a saved model predicts without a
pickle and exactly as the live one did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from textcluster.clusterers.base import N_CLUSTERS, nearest
from textcluster.contracts import Clusterer
from textcluster.errors import UserError
from textcluster.labels import NOISE, cluster_ids
from textcluster.params import NULL, Choice, Float, Int, Str
from textcluster.registry import clusterers
from textcluster.state import estimator_state, restore_estimator


def _needs_k(key: str, n_clusters: Any) -> int:
    if not isinstance(n_clusters, (int, np.integer)):
        raise UserError(
            f"{key} was fitted with clusterer.n_clusters={n_clusters!r}; the pipeline settles auto and labels "
            "into a number before fitting: fit it through a Pipeline, or give clusterer.n_clusters=<k>"
        )
    return int(n_clusters)


@clusterers.register("kmeans")
class KMeansClusterer(Clusterer):
    """k-means (scikit-learn) with k-means++ starts; a new point goes to the nearest centre."""

    score_name = "distance"
    parameters = {"n_clusters": N_CLUSTERS, "n_init": Int(min=1), "max_iter": Int(min=1), "random_state": Int(min=0)}

    def __init__(self, n_clusters: int | str = "auto", n_init: int = 10, max_iter: int = 300, random_state: int = 0):
        self.n_clusters, self.n_init, self.max_iter, self.random_state = n_clusters, n_init, max_iter, random_state

    def fit(self, X: np.ndarray) -> KMeansClusterer:
        from sklearn.cluster import KMeans

        model = KMeans(
            n_clusters=_needs_k("kmeans", self.n_clusters),
            n_init=self.n_init,
            max_iter=self.max_iter,
            random_state=self.random_state,
        ).fit(X)
        self.labels_, self.cluster_centers_ = model.labels_, model.cluster_centers_
        return self

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest centre and the Euclidean distance to it."""
        return nearest(X, np.arange(len(self.cluster_centers_)), self.cluster_centers_)


@clusterers.register("dbscan")
class DBSCANClusterer(Clusterer):
    """DBSCAN (scikit-learn). New points take the label of the nearest core sample within ``eps``, else noise."""

    predict_method = "nearest_core_sample"
    score_name = "distance"
    parameters = {"eps": Float(min=0, min_open=True), "min_samples": Int(min=1), "metric": Str()}

    def __init__(self, eps: float = 0.5, min_samples: int = 5, metric: str = "euclidean"):
        self.eps, self.min_samples, self.metric = eps, min_samples, metric

    def fit(self, X: np.ndarray) -> DBSCANClusterer:
        from sklearn.cluster import DBSCAN

        model = DBSCAN(eps=self.eps, min_samples=self.min_samples, metric=self.metric).fit(X)
        self.labels_ = model.labels_
        core = model.core_sample_indices_
        self.core_points_, self.core_labels_ = np.asarray(X)[core], self.labels_[core]
        return self

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest core sample's label within ``eps`` (else noise) and the distance to that core sample."""
        from sklearn.neighbors import NearestNeighbors

        if len(self.core_points_) == 0:
            return np.full(len(X), NOISE), np.full(len(X), np.nan)
        distance, index = NearestNeighbors(n_neighbors=1, metric=self.metric).fit(self.core_points_).kneighbors(X)
        labels = np.where(distance[:, 0] <= self.eps, self.core_labels_[index[:, 0]], NOISE)
        return labels, distance[:, 0]


CONDENSED_TREE_FIELDS = ("parent", "child", "lambda_val", "child_size")
AUTO_MIN_CLUSTER_SIZE, AUTO_CLUSTER_FRACTION = 15, 0.005


@clusterers.register("hdbscan")
class HDBSCANClusterer(Clusterer):
    """HDBSCAN (the hdbscan library). New points go through ``hdbscan.approximate_predict``.

    The state is what that function's prediction data is computed from (the
    clustered points, the condensed tree and the labels); loading rebuilds the
    prediction data with hdbscan's own ``generate_prediction_data``.
    """

    predict_method = "approximate_predict"
    score_name = "probability"
    parameters = {
        "min_cluster_size": Int(min=2) | Choice("auto"),
        "min_samples": Int(min=1) | NULL,
        "cluster_selection_epsilon": Float(min=0),
        "cluster_selection_method": Choice("eom", "leaf"),
        "metric": Str(),
    }

    def __init__(
        self,
        min_cluster_size: int | str = "auto",
        min_samples: int | None = None,
        cluster_selection_epsilon: float = 0.0,
        cluster_selection_method: str = "eom",
        metric: str = "euclidean",
    ):
        self.min_cluster_size, self.min_samples = min_cluster_size, min_samples
        self.cluster_selection_epsilon, self.cluster_selection_method = (
            cluster_selection_epsilon,
            cluster_selection_method,
        )
        self.metric = metric

    def _hdbscan(self, min_cluster_size: int):
        import hdbscan

        params = {**self.get_params(), "min_cluster_size": min_cluster_size}
        return hdbscan.HDBSCAN(**params, prediction_data=True)

    def resolved_min_cluster_size(self, n_samples: int) -> int:
        """``auto``: 0.5% of the corpus, at least 15 and at most the corpus (hdbscan's own default is a fixed
        15, which on 12,340 snippets gives 123 clusters and 27% noise). Measured: benchmarks/results/k-selection.md."""
        if self.min_cluster_size != "auto":
            return int(self.min_cluster_size)
        return min(n_samples, max(AUTO_MIN_CLUSTER_SIZE, round(AUTO_CLUSTER_FRACTION * n_samples)))

    def check_input(self, n_samples: int) -> None:
        if self.min_cluster_size != "auto" and self.min_cluster_size > n_samples:
            raise UserError(
                f"clusterer.min_cluster_size={self.min_cluster_size} is larger than the number of samples "
                f"({n_samples}); lower it or raise data.limit"
            )

    def fit(self, X: np.ndarray) -> HDBSCANClusterer:
        self.min_cluster_size_ = self.resolved_min_cluster_size(len(X))
        self.model_ = self._hdbscan(self.min_cluster_size_).fit(np.asarray(X, dtype=np.float64))
        self.labels_, self.probabilities_ = self.model_.labels_, self.model_.probabilities_
        return self

    def soft_membership(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(cluster ids, n x k probabilities)`` of the fitted points (``hdbscan.all_points_membership_vectors``).

        Used by ``noise=soft``; None when there are fewer than two clusters (nothing to choose between).
        """
        import hdbscan

        clusters = cluster_ids(self.labels_)
        if len(clusters) < 2:
            return None
        vectors = np.asarray(hdbscan.all_points_membership_vectors(self.model_)).reshape(len(self.labels_), -1)
        return clusters, vectors

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``hdbscan.approximate_predict``: labels and their membership strengths (0 for noise)."""
        import hdbscan

        labels, strengths = hdbscan.approximate_predict(self.model_, np.asarray(X, dtype=np.float64))
        return np.asarray(labels), np.asarray(strengths, dtype=float)

    def get_state(self) -> dict[str, Any]:
        tree = self.model_._condensed_tree
        return {
            "points": self.model_._raw_data,
            "labels": self.labels_,
            "probabilities": self.probabilities_,
            "condensed_tree": {name: np.asarray(tree[name]) for name in CONDENSED_TREE_FIELDS},
            "min_cluster_size": np.asarray(self.min_cluster_size_),
        }

    def set_state(self, state: Mapping[str, Any]) -> HDBSCANClusterer:
        columns = [np.asarray(state["condensed_tree"][name]) for name in CONDENSED_TREE_FIELDS]
        self.min_cluster_size_ = int(np.asarray(state["min_cluster_size"]).reshape(-1)[0])
        model = self._hdbscan(self.min_cluster_size_)
        model._raw_data = np.asarray(state["points"], dtype=np.float64)
        model._condensed_tree = np.rec.fromarrays(columns, names=list(CONDENSED_TREE_FIELDS)).view(np.ndarray)
        model.labels_, model.probabilities_ = np.asarray(state["labels"]), np.asarray(state["probabilities"])
        model._metric_kwargs = {}
        model.generate_prediction_data()
        self.model_, self.labels_, self.probabilities_ = model, model.labels_, model.probabilities_
        return self


@clusterers.register("gmm")
class GaussianMixtureClusterer(Clusterer):
    """Gaussian mixture (scikit-learn): soft clusters with their own shape; N2D's clusterer on a UMAP manifold.

    ``predict_proba`` gives each point's membership probabilities.
    """

    score_name = "probability"
    parameters = {
        "n_clusters": N_CLUSTERS,
        "covariance_type": Choice("full", "tied", "diag", "spherical"),
        "n_init": Int(min=1),
        "max_iter": Int(min=1),
        "reg_covar": Float(min=0),
        "random_state": Int(min=0),
    }
    FITTED = (
        "weights_",
        "means_",
        "covariances_",
        "precisions_",
        "precisions_cholesky_",
        "converged_",
        "n_iter_",
        "lower_bound_",
        "n_features_in_",
    )

    def __init__(
        self,
        n_clusters: int | str = "auto",
        covariance_type: str = "full",
        n_init: int = 1,
        max_iter: int = 100,
        reg_covar: float = 1e-6,
        random_state: int = 0,
    ):
        self.n_clusters, self.covariance_type, self.n_init = n_clusters, covariance_type, n_init
        self.max_iter, self.reg_covar, self.random_state = max_iter, reg_covar, random_state

    def _mixture(self):
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(
            n_components=_needs_k("gmm", self.n_clusters),
            covariance_type=self.covariance_type,
            n_init=self.n_init,
            max_iter=self.max_iter,
            reg_covar=self.reg_covar,
            random_state=self.random_state,
        )

    def fit(self, X: np.ndarray) -> GaussianMixtureClusterer:
        self.model_ = self._mixture().fit(X)
        self.labels_ = self.model_.predict(X)
        return self

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The most probable component and its probability."""
        probabilities = self.predict_proba(X)
        return probabilities.argmax(axis=1), probabilities.max(axis=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(X)

    def get_state(self) -> dict[str, Any]:
        return {"labels": self.labels_, **estimator_state(self.model_, self.FITTED)}

    def set_state(self, state: Mapping[str, Any]) -> GaussianMixtureClusterer:
        state = dict(state)
        self.labels_ = np.asarray(state.pop("labels"))
        self.model_ = restore_estimator(self._mixture(), state)
        return self
