"""Exact nearest neighbours for UMAP and the kNN graph: faiss' brute-force search on every core.

umap-learn searches neighbours by NN-descent from 4,096 points on: approximate (it found 98-99% of the exact
ones on short texts' embeddings) and numba code that compiles for about 20 s in every process. Below that it
measures every distance through scikit-learn, which calls its numba distance from Python once per pair of
points (9 million calls at 3,000 points, about 10 s on 2 cores). The stages that lay out or link a set of up
to ``EXACT_SEARCH_MAX`` points (a UMAP fit on its sample, the report's map, Leiden's graph) search it exactly
here instead, which at 50,000 points x 456 dimensions takes about 11 s on 2 cores and at 3,000 well under one.
Every search covers a fixed chunk of rows on one thread, so the neighbours (and what is built from them) do not
depend on the number of cores.
"""

from __future__ import annotations

import contextvars
import warnings
from collections.abc import Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from textcluster import console
from textcluster.machine import available_cores
from textcluster.progress import track

FAISS_METRICS = ("euclidean", "cosine")  # the metrics ExactNeighbours searches with faiss
SEARCH_ROWS = 2_500  # rows per neighbour search, each on one thread (faiss' result depends on both)
EXACT_SEARCH_MAX = 50_000  # the largest set searched exactly (a UMAP fit's default sample): n^2 grows fast


class ExactNeighbours:
    """Exact neighbours among ``data``, from arrays alone; stands in for pynndescent's index inside
    ``UMAP.transform`` too.

    A fitted UMAP's own index is numba code that has no safe form; exact
    search over the training points gives the neighbours the index
    approximates. Euclidean and cosine search is faiss' flat (brute-force)
    index, which scans in small tiles: a sampled fit transforms most of a
    large corpus through here, and scikit-learn's search holds a distance
    block of about 1 GB and its argsort at once, at a few times the time.
    The other metrics use scikit-learn.
    """

    _angular_trees = False  # read by UMAP.transform to pick its search epsilon, which exact search ignores

    def __init__(self, data: np.ndarray, metric: str):
        self.metric = metric
        if metric in FAISS_METRICS:
            console.install()  # faiss' loader logs its CPU-feature probe as it imports
            import faiss

            points = self._prepared(data)
            self.index = (faiss.IndexFlatIP if metric == "cosine" else faiss.IndexFlatL2)(points.shape[1])
            self.index.add(points)
        else:
            from sklearn.neighbors import NearestNeighbors

            self.index = NearestNeighbors(metric=metric).fit(data)

    def use_one_thread(self) -> None:
        """Search on the calling thread alone (faiss' OpenMP setting is per thread): its distances differ in
        the last bits with the thread count, and UMAP's layout of a point follows them."""
        if self.metric in FAISS_METRICS:
            import faiss

            faiss.omp_set_num_threads(1)

    def _prepared(self, X: np.ndarray) -> np.ndarray:
        """float32 rows, unit length for cosine (faiss then ranks by inner product)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if self.metric != "cosine":
            return X
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.maximum(norms, np.finfo(np.float32).tiny)  # a zero row stays zero: distance 1, as sklearn's

    def query(self, X: np.ndarray, k: int, epsilon: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self.metric not in FAISS_METRICS:
            distances, indices = self.index.kneighbors(X, n_neighbors=k)
            return indices.astype(np.int32), distances.astype(np.float32)
        scores, indices = self.index.search(self._prepared(X), k)
        distances = 1.0 - scores if self.metric == "cosine" else np.sqrt(np.maximum(scores, 0.0))
        return indices.astype(np.int32), np.maximum(distances, 0.0).astype(np.float32)


def search_in_chunks(pool: ThreadPoolExecutor, index: ExactNeighbours, rows: np.ndarray, k: int) -> list[Future]:
    """The neighbours of ``rows`` as futures of fixed chunks, each chunk searched on one of ``pool``'s threads
    (whose faiss runs one thread: :meth:`ExactNeighbours.use_one_thread`)."""
    starts = range(0, len(rows), SEARCH_ROWS)
    return [pool.submit(index.query, rows[start : start + SEARCH_ROWS], k) for start in starts]


def joined(chunks: list[Future]) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, distances)`` of the chunks' searches, in row order."""
    return tuple(np.concatenate(parts) for parts in zip(*(chunk.result() for chunk in chunks)))


def nearest_in(index: ExactNeighbours, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, distances)`` of each query's ``k`` nearest rows of ``index``, searched on every core."""
    with ThreadPoolExecutor(available_cores(), initializer=index.use_one_thread) as pool:
        chunks = search_in_chunks(pool, index, np.ascontiguousarray(queries, dtype=np.float32), k)
        with track(len(queries), "neighbours", "points") as progress:
            for chunk in chunks:
                progress.update(len(chunk.result()[0]))
        return joined(chunks)


def exact_neighbours(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows of ``X`` (itself among them), searched exactly on every core."""
    return nearest_in(ExactNeighbours(X, metric), X, k)


def umap_neighbours(X: np.ndarray, n_neighbors: int, metric: Any) -> tuple:
    """umap-learn's ``precomputed_knn`` for a fit on ``X``: the exact neighbours, else ``(None, None, None)``
    where the metric or size is not one searched here. Its third element, an index for ``transform``, stays
    None."""
    if len(X) > EXACT_SEARCH_MAX or metric not in FAISS_METRICS:
        return None, None, None
    return *exact_neighbours(X, n_neighbors, metric), None


def fit_umap(model: Any, X: np.ndarray) -> np.ndarray:
    """``model.fit_transform(X)`` for an unfitted ``umap.UMAP``, given exact neighbours (``umap_neighbours``);
    its layout's epochs show as progress."""
    model.precomputed_knn = umap_neighbours(X, model.n_neighbors, model.metric)
    _show_fit_epochs()
    shown = _FIT_EPOCHS_SHOWN.set(True)
    try:
        with warnings.catch_warnings():
            # without an index of its own it warns that it cannot transform: the reducer gives it ExactNeighbours
            warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
            return model.fit_transform(X)
    finally:
        _FIT_EPOCHS_SHOWN.reset(shown)


_FIT_EPOCHS_SHOWN = contextvars.ContextVar("fit_epochs_shown", default=False)  # set in fit_umap's own thread


def _show_fit_epochs() -> None:
    """Let the epochs of a layout that fit_umap runs show through :func:`track` (a bar, or a log line every 30 s).

    umap-learn loops over a layout's epochs through ``tqdm(range(n_epochs), **tqdm_kwds)``, hidden unless the
    UMAP is verbose, and verbose prints its own lines rather than the package's: a 50,000-point fit lays out
    for most of a minute without a sign. The module's ``tqdm`` becomes a function that tracks the epochs within
    fit_umap (in its thread) and calls tqdm as before everywhere else (a transform's layouts on the reducer's
    threads, a user's own UMAP). Where another umap-learn has no such name, nothing changes.
    """
    from umap import layouts

    original = getattr(layouts, "tqdm", None)
    if original is None or getattr(original, "tracks_fit_epochs", False):
        return

    def epochs(iterable: Any, **tqdm_kwds: Any) -> Any:
        # an iterable without a length (another umap-learn's loop) keeps umap's own tqdm: no total to track
        if _FIT_EPOCHS_SHOWN.get() and hasattr(iterable, "__len__"):
            return _tracked_epochs(iterable)
        return original(iterable, **tqdm_kwds)

    epochs.tracks_fit_epochs = True
    layouts.tqdm = epochs


def _tracked_epochs(epochs: Collection[int]) -> Iterator[int]:
    with track(len(epochs), "umap layout", "epochs") as progress:
        for epoch in epochs:
            yield epoch
            progress.update(1)
