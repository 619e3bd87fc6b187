"""Built-in reducers: none (pass-through), PCA and UMAP, each with its fitted state as arrays."""

from __future__ import annotations

import copy
import logging
import types
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from textcluster.compiled import keep_compiled_code
from textcluster.contracts import Reducer
from textcluster.errors import UserError
from textcluster.machine import available_cores
from textcluster.neighbours import ExactNeighbours, fit_umap, joined, search_in_chunks
from textcluster.params import NULL, Bool, Choice, Float, Int
from textcluster.progress import track
from textcluster.registry import reducers
from textcluster.seeding import FIT_SIZE, FIT_SIZE_MIN, fit_sample
from textcluster.state import estimator_state, restore_estimator

log = logging.getLogger(__name__)

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


PCA_SOLVERS = ("auto", "full", "covariance_eigh", "randomized", "incremental")
BATCH_ROWS = 10_000  # rows per batch where a reducer streams its input (incremental PCA, transforms)


def _batches(n_rows: int, size: int | None = None, min_size: int = 1) -> list[slice]:
    """Consecutive row slices of at most ``size`` (default BATCH_ROWS) rows; a last one under ``min_size`` joins
    the one before."""
    starts = list(range(0, n_rows, size or BATCH_ROWS))
    if len(starts) > 1 and n_rows - starts[-1] < min_size:
        starts.pop()
    return [slice(start, stop) for start, stop in zip(starts, starts[1:] + [n_rows])]


@reducers.register("pca")
class PCAReducer(Reducer):
    """Principal component analysis (scikit-learn), optionally whitened.

    ``svd_solver`` is scikit-learn's (``auto`` picks ``covariance_eigh`` for
    tall data), or ``incremental``: the mean and covariance summed over
    batches of rows in float64, then ``covariance_eigh``'s eigendecomposition,
    so a memory-mapped input is read a batch at a time and never copied whole
    (scikit-learn copies a read-only one). It gives the exact components;
    scikit-learn's ``IncrementalPCA`` keeps only ``n_components`` directions
    between batches and loses the last ones on the flat spectrum of sentence
    embeddings. The state is always a plain PCA's fitted arrays.
    """

    parameters = {
        "n_components": Int(min=1),
        "whiten": Bool(),
        "svd_solver": Choice(*PCA_SOLVERS),
        "random_state": Int(min=0),
    }
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

    def __init__(self, n_components: int = 10, whiten: bool = False, svd_solver: str = "auto", random_state: int = 0):
        self.n_components, self.whiten, self.svd_solver = n_components, whiten, svd_solver
        self.random_state = random_state

    def _pca(self, svd_solver: str = "auto"):
        from sklearn.decomposition import PCA

        return PCA(
            n_components=self.n_components, whiten=self.whiten, svd_solver=svd_solver, random_state=self.random_state
        )

    def check_input(self, n_samples: int) -> None:
        if self.n_components > n_samples:
            raise UserError(
                f"reducer.n_components={self.n_components} is larger than the number of samples "
                f"({n_samples}); lower reducer.n_components"
            )

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        _check_components(self.n_components, X)
        if self.svd_solver == "incremental":
            self.model_ = restore_estimator(self._pca(), self._fit_in_batches(X))
            return self.transform(X)
        self.model_ = self._pca(self.svd_solver)
        return self.model_.fit_transform(X).astype(np.float32)

    def _fit_in_batches(self, X: np.ndarray) -> dict[str, Any]:
        """``covariance_eigh``'s PCA (scikit-learn's steps and sign convention) from sums over row batches."""
        from sklearn.utils.extmath import svd_flip

        n, d = X.shape
        total, gram = np.zeros(d), np.zeros((d, d))
        for rows in _batches(n):
            batch = np.asarray(X[rows], dtype=np.float64)
            total += batch.sum(axis=0)
            gram += batch.T @ batch
        mean = total / n
        covariance = (gram - n * np.outer(mean, mean)) / max(n - 1, 1)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        variance = np.clip(eigenvalues[::-1], 0.0, None)  # eigh's rounding can go slightly below zero
        _, components = svd_flip(None, np.ascontiguousarray(eigenvectors[:, ::-1].T), u_based_decision=False)
        k = self.n_components
        return {
            "components_": components[:k].copy(),
            "mean_": mean,
            "explained_variance_": variance[:k].copy(),
            "explained_variance_ratio_": variance[:k] / variance.sum(),
            "singular_values_": np.sqrt(variance[:k] * max(n - 1, 1)),
            "noise_variance_": float(variance[k:].mean()) if k < min(n, d) else 0.0,
            "n_components_": k,
            "n_features_in_": d,
            "n_samples_": n,
        }

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Batch by batch, so only the output is the size of the input (a memory map is never read whole)."""
        out = np.empty((len(X), self.model_.n_components_), dtype=np.float32)
        for rows in _batches(len(X)):
            out[rows] = self.model_.transform(np.asarray(X[rows]))
        return out

    def get_state(self) -> dict[str, Any]:
        return estimator_state(self.model_, self.FITTED)

    def set_state(self, state: Mapping[str, Any]) -> PCAReducer:
        self.model_ = restore_estimator(self._pca(), state)
        return self


class SearchedNeighbours:
    """The neighbours of one batch, searched beforehand: what ``UMAP.transform`` gets when it asks its index."""

    _angular_trees = False  # read by UMAP.transform to pick its search epsilon, which is not used here

    def __init__(self, indices: np.ndarray, distances: np.ndarray):
        self.indices, self.distances = indices, distances

    def query(self, X: np.ndarray, k: int, epsilon: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        if X.shape[0] != len(self.indices) or k != self.indices.shape[1]:  # a programming error, not user input
            raise ValueError(f"searched neighbours of {self.indices.shape} asked for {X.shape[0]} rows x {k}")
        return self.indices, self.distances


UMAP_TRANSFORM_ROWS = 10_000  # umap-learn optimises a transform of up to 10,000 rows for 100 epochs, more for 30


def in_flight_batches(cores: int) -> int:
    """Batches searched or laid out at once (a few MB each): one per core and one more, so no core waits."""
    return cores + 1


def _let_layouts_run_side_by_side() -> None:
    """Compile umap-learn's layout epoch with numba's ``nogil``, so that threads lay batches out at once.

    umap-learn compiles it holding the GIL: a layout (a seeded UMAP's, on one thread) then blocks every other
    layout in the process. ``nogil`` changes nothing in the compiled code but the lock, so the layouts keep
    their bits (tests/test_scale_stages.py checks them against umap-learn's own). Where another umap-learn
    has other internals, its own function stays: the same layouts, one at a time.
    """
    from umap import layouts

    compiled = getattr(layouts, "_nb_optimize_layout_euclidean_single_epoch", None)
    epoch = getattr(layouts, "_optimize_layout_euclidean_single_epoch", None)
    if epoch is None or getattr(compiled, "targetoptions", {}).get("nogil"):
        return
    import numba

    # its own copy of the function, under its own name: numba's on-disk cache (textcluster.compiled) names entries
    # by function and keys them by code, not by options, and umap-learn compiles the same function without nogil
    own = types.FunctionType(epoch.__code__, epoch.__globals__, f"{epoch.__name__}_nogil", epoch.__defaults__)
    own.__qualname__ = own.__name__
    layouts._nb_optimize_layout_euclidean_single_epoch = numba.njit(own, fastmath=True, parallel=False, nogil=True)


@reducers.register("umap")
class UMAPReducer(Reducer):
    """UMAP (umap-learn); ``min_dist=0`` and more neighbours suit clustering (as N2D does).

    New points go through umap-learn's own ``transform``, on a model rebuilt
    from arrays (training points, their layout, the fitted constants) with
    :class:`ExactNeighbours` as its search index: the same path right after
    fit and after loading, so a saved model predicts what the live one did.

    ``fit_size``: with more points than this, UMAP is fitted on a seeded
    random sample of ``fit_size`` points and the others are transformed in
    batches, so time and memory grow linearly past it and the state keeps
    only the sample; null fits every point. 50,000 fits a corpus of up to that size whole
    (benchmarks/reducers_hdbscan_scale.py, benchmarks/results/reducers-hdbscan-scale.md).
    """

    parameters = {
        "n_components": Int(min=1),
        "n_neighbors": Int(min=2),
        "min_dist": Float(min=0),
        "metric": Choice(*UMAP_METRICS),
        "fit_size": Int(min=FIT_SIZE_MIN) | NULL,
        "random_state": Int(min=0),
    }

    def __init__(
        self,
        n_components: int = 10,
        n_neighbors: int = 15,
        min_dist: float = 0.0,
        metric: str = "euclidean",
        fit_size: int | None = FIT_SIZE,
        random_state: int = 0,
    ):
        self.n_components, self.n_neighbors, self.min_dist = n_components, n_neighbors, min_dist
        self.metric, self.fit_size, self.random_state = metric, fit_size, random_state

    def _umap(self):
        try:
            import umap
        except ImportError:
            raise UserError("reducer=umap needs umap-learn: pip install umap-learn") from None
        _let_layouts_run_side_by_side()
        keep_compiled_code()  # after the line above, so the nogil layout epoch is kept too
        params = {name: value for name, value in self.get_params().items() if name != "fit_size"}
        # a seeded UMAP runs on one thread whatever n_jobs says; its default (-1) makes it warn that it
        # overrode the value, on every run. Asking for the one thread it uses says the same without the warning
        return umap.UMAP(**params, n_jobs=1)

    def check_input(self, n_samples: int) -> None:
        fitted = n_samples if self.fit_size is None else min(n_samples, self.fit_size)
        if self.n_neighbors >= fitted:
            where = f"{fitted} points" + (" (reducer.fit_size)" if fitted < n_samples else "")
            raise UserError(f"reducer.n_neighbors={self.n_neighbors} needs more than {where}; lower it")

    def sample(self, n_samples: int) -> np.ndarray | None:
        """The sorted rows UMAP is fitted on (seeded by ``random_state``), or None for all of them."""
        return fit_sample(n_samples, self.fit_size, self.random_state)

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        _check_components(self.n_components, X)
        rows = self.sample(len(X))
        if rows is None:
            return self._fit(X)
        log.info(
            "umap: fitting on %d of %d points (reducer.fit_size), then placing the other %d in batches",
            len(rows),
            len(X),
            len(X) - len(rows),
        )
        embedding = np.empty((len(X), self.n_components), dtype=np.float32)
        embedding[rows] = self._fit(np.asarray(X[rows], dtype=np.float32))
        rest = np.setdiff1d(np.arange(len(X)), rows, assume_unique=True)
        batches = [rest[batch] for batch in _batches(len(rest), UMAP_TRANSFORM_ROWS)]
        for batch, layout in self._transform_batches(X, batches, len(rest)):
            embedding[batch] = layout
        return embedding

    def _fit(self, X: np.ndarray) -> np.ndarray:
        fitted = self._umap()
        embedding = fit_umap(fitted, X).astype(np.float32)  # set_state below gives it ExactNeighbours as index
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

    def _transform_batch(self, X: np.ndarray, neighbours: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """umap-learn's transform of ``X``; with ``neighbours`` (already searched), it does not search again."""
        model = self.model_
        if neighbours is not None:
            model = copy.copy(model)  # shallow: the arrays are shared, the live model keeps its own index
            model._knn_search_index = SearchedNeighbours(*neighbours)
        return model.transform(np.asarray(X, dtype=np.float32)).astype(np.float32)

    def _transform_batches(self, X: np.ndarray, batches: Sequence[Any], total: int) -> Iterator[tuple[Any, np.ndarray]]:
        """``(batch, the transform of X[batch])`` for each batch in turn (``total`` rows in all, for the
        progress), a few batches at once on every core.

        Each batch's neighbours are searched in fixed chunks of rows, each chunk on one thread, and its layout
        runs on one thread (a seeded UMAP's must); faiss' search and the layout (compiled ``nogil``) release the
        GIL, so the searches and layouts of the batches in flight share the cores. A batch's result depends on
        its rows alone, never on the number of cores or on what runs beside it.
        """
        index, k = self.model_._knn_search_index, self.model_.n_neighbors
        cores = available_cores()
        searchers = ThreadPoolExecutor(cores, initializer=index.use_one_thread)
        layouts = ThreadPoolExecutor(cores)

        def lay_out(rows: np.ndarray, chunks: list[Future]) -> np.ndarray:
            return self._transform_batch(rows, joined(chunks))

        def start(batch: Any) -> Future:
            rows = np.asarray(X[batch], dtype=np.float32)
            return layouts.submit(lay_out, rows, search_in_chunks(searchers, index, rows, k))

        ahead = in_flight_batches(cores)
        try:
            running = deque(start(batch) for batch in batches[:ahead])
            with track(total, "umap transform", "points") as progress:
                for i, batch in enumerate(batches):
                    layout = running.popleft().result()
                    if i + ahead < len(batches):
                        running.append(start(batches[i + ahead]))
                    yield batch, layout
                    progress.update(len(layout))
        finally:  # an error or Ctrl-C: work not started is dropped, running searches and layouts end on their own
            searchers.shutdown(wait=False, cancel_futures=True)
            layouts.shutdown(wait=False, cancel_futures=True)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """umap-learn's ``transform``, batch by batch (bounded memory, and each batch gets its 100 epochs).

        The training points themselves, given whole, map to their fitted layout, as in umap-learn.
        """
        if self._is_training_set(X):
            return self._transform_batch(X)
        out = np.empty((len(X), self.model_.embedding_.shape[1]), dtype=np.float32)
        batches = _batches(len(X), UMAP_TRANSFORM_ROWS)
        for rows, layout in self._transform_batches(X, batches, len(X)):
            out[rows] = layout
        return out

    def _is_training_set(self, X: np.ndarray) -> bool:
        import joblib

        if len(X) != len(self.model_._raw_data):
            return False
        return joblib.hash(np.ascontiguousarray(X, dtype=np.float32)) == self.model_._input_hash

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
