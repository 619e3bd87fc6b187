"""Built-in reducers: none (pass-through), PCA and UMAP, each with its fitted state as arrays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from textcluster.contracts import Reducer
from textcluster.errors import UserError
from textcluster.params import Bool, Choice, Float, Int
from textcluster.registry import reducers
from textcluster.state import estimator_state, restore_estimator

UMAP_METRICS = ("euclidean", "cosine", "manhattan", "correlation")


@reducers.register("none")
class IdentityReducer(Reducer):
    """Pass-through: cluster the embeddings as they are."""

    parameters = {}

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return X

    def transform(self, X: np.ndarray) -> np.ndarray:
        return X


def _check_components(n_components: int, X: np.ndarray) -> None:
    limit = min(X.shape)
    if n_components > limit:
        raise UserError(
            f"reducer.n_components={n_components} is larger than the data allows ({limit} for "
            f"{X.shape[0]} points of {X.shape[1]} dimensions); lower reducer.n_components"
        )


@reducers.register("pca")
class PCAReducer(Reducer):
    """Principal component analysis (scikit-learn), optionally whitened."""

    parameters = {"n_components": Int(min=1), "whiten": Bool(), "random_state": Int(min=0)}
    FITTED = (
        "components_",
        "mean_",
        "explained_variance_",
        "explained_variance_ratio_",
        "singular_values_",
        "noise_variance_",
        "n_components_",
        "n_features_in_",
        "n_samples_",
    )

    def __init__(self, n_components: int = 10, whiten: bool = False, random_state: int = 0):
        self.n_components, self.whiten, self.random_state = n_components, whiten, random_state

    def _pca(self):
        from sklearn.decomposition import PCA

        return PCA(n_components=self.n_components, whiten=self.whiten, random_state=self.random_state)

    def check_input(self, n_samples: int) -> None:
        if self.n_components > n_samples:
            raise UserError(
                f"reducer.n_components={self.n_components} is larger than the number of samples "
                f"({n_samples}); lower reducer.n_components"
            )

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        _check_components(self.n_components, X)
        self.model_ = self._pca()
        return self.model_.fit_transform(X).astype(np.float32)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.model_.transform(X).astype(np.float32)

    def get_state(self) -> dict[str, Any]:
        return estimator_state(self.model_, self.FITTED)

    def set_state(self, state: Mapping[str, Any]) -> PCAReducer:
        self.model_ = restore_estimator(self._pca(), state)
        return self


class ExactNeighbours:
    """Stands in for pynndescent's index inside ``UMAP.transform``: exact neighbours from scikit-learn.

    A fitted UMAP's own index is numba code that has no safe form; exact
    search over the training points gives the neighbours the index
    approximates, from arrays alone.
    """

    _angular_trees = False  # read by UMAP.transform to pick its search epsilon, which exact search ignores

    def __init__(self, data: np.ndarray, metric: str):
        from sklearn.neighbors import NearestNeighbors

        self.index = NearestNeighbors(metric=metric).fit(data)

    def query(self, X: np.ndarray, k: int, epsilon: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        distances, indices = self.index.kneighbors(X, n_neighbors=k)
        return indices.astype(np.int32), distances.astype(np.float32)


@reducers.register("umap")
class UMAPReducer(Reducer):
    """UMAP (umap-learn); ``min_dist=0`` and more neighbours suit clustering (as N2D does).

    New points go through umap-learn's own ``transform``, on a model rebuilt
    from arrays (training points, their layout, the fitted constants) with
    :class:`ExactNeighbours` as its search index: the same path right after
    fit and after loading, so a saved model predicts what the live one did.
    """

    parameters = {
        "n_components": Int(min=1),
        "n_neighbors": Int(min=2),
        "min_dist": Float(min=0),
        "metric": Choice(*UMAP_METRICS),
        "random_state": Int(min=0),
    }

    def __init__(
        self,
        n_components: int = 10,
        n_neighbors: int = 15,
        min_dist: float = 0.0,
        metric: str = "euclidean",
        random_state: int = 0,
    ):
        self.n_components, self.n_neighbors, self.min_dist = n_components, n_neighbors, min_dist
        self.metric, self.random_state = metric, random_state

    def _umap(self):
        try:
            import umap
        except ImportError:
            raise UserError("reducer=umap needs umap-learn: pip install umap-learn") from None
        return umap.UMAP(**self.get_params())

    def check_input(self, n_samples: int) -> None:
        if self.n_neighbors >= n_samples:
            raise UserError(f"reducer.n_neighbors={self.n_neighbors} needs more than {n_samples} points; lower it")

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        _check_components(self.n_components, X)
        fitted = self._umap()
        embedding = fitted.fit_transform(X).astype(np.float32)
        self.set_state(
            {
                "training_points": fitted._raw_data,
                "layout": fitted.embedding_,
                "input_hash": fitted._input_hash,
                "constants": {
                    "a": float(fitted._a),
                    "b": float(fitted._b),
                    "initial_alpha": float(fitted._initial_alpha),
                    "n_neighbors": int(fitted._n_neighbors),
                    "disconnection_distance": float(fitted._disconnection_distance),
                },
            }
        )
        return embedding

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.model_.transform(np.asarray(X, dtype=np.float32)).astype(np.float32)

    def get_state(self) -> dict[str, Any]:
        return self.state_

    def set_state(self, state: Mapping[str, Any]) -> UMAPReducer:
        """A UMAP ready to ``transform``: the attributes its ``transform`` reads, set from the state."""
        self.state_ = dict(state)
        constants = state["constants"]
        model = self._umap()
        model._raw_data = np.ascontiguousarray(state["training_points"], dtype=np.float32)
        model.embedding_ = np.asarray(state["layout"], dtype=np.float32)
        model._input_hash = state["input_hash"]  # the training points themselves map to their fitted layout
        model._a, model._b, model._initial_alpha = constants["a"], constants["b"], constants["initial_alpha"]
        model._n_neighbors, model._disconnection_distance = (
            constants["n_neighbors"],
            constants["disconnection_distance"],
        )
        model._small_data, model._sparse_data, model.tqdm_kwds = False, False, {"disable": True}
        model._knn_search_index = ExactNeighbours(model._raw_data, self.metric)
        self.model_ = model
        return self
