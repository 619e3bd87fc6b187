"""Reducer plugins: optional dimensionality reduction between embedding and clustering."""

from __future__ import annotations

import numpy as np

from textcluster.errors import UserError
from textcluster.registry import reducers


@reducers.register("none")
class IdentityReducer:
    """Pass-through: cluster the embeddings as they are."""

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return X

    def transform(self, X: np.ndarray) -> np.ndarray:
        return X


def _check_components(n_components: int, X: np.ndarray, key: str) -> None:
    limit = min(X.shape)
    if n_components > limit:
        raise UserError(f"reducer.n_components={n_components} is larger than the data allows ({limit} for "
                        f"{X.shape[0]} points of {X.shape[1]} dimensions); lower reducer.n_components")


@reducers.register("pca")
class PCAReducer:
    """Principal component analysis (scikit-learn), optionally whitened."""

    def __init__(self, n_components: int = 10, whiten: bool = False, random_state: int = 0):
        self.n_components, self.whiten, self.random_state = n_components, whiten, random_state

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA

        _check_components(self.n_components, X, "pca")
        self.model_ = PCA(n_components=self.n_components, whiten=self.whiten, random_state=self.random_state)
        return self.model_.fit_transform(X).astype(np.float32)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.model_.transform(X).astype(np.float32)


@reducers.register("umap")
class UMAPReducer:
    """UMAP (umap-learn); ``min_dist=0`` and more neighbours suit clustering (as N2D does)."""

    def __init__(self, n_components: int = 10, n_neighbors: int = 15, min_dist: float = 0.0,
                 metric: str = "euclidean", random_state: int = 0):
        self.params = dict(n_components=n_components, n_neighbors=n_neighbors, min_dist=min_dist,
                           metric=metric, random_state=random_state)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        try:
            import umap
        except ImportError:
            raise UserError("reducer=umap needs umap-learn: pip install umap-learn") from None
        if self.params["n_neighbors"] >= len(X):
            raise UserError(f"reducer.n_neighbors={self.params['n_neighbors']} needs more than {len(X)} points; lower it")
        _check_components(self.params["n_components"], X, "umap")
        self.model_ = umap.UMAP(**self.params)
        return self.model_.fit_transform(X).astype(np.float32)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.model_.transform(X).astype(np.float32)
