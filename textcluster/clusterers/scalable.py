"""k-means for large corpora: faiss k-means trained on a bounded sample, and scikit-learn's MiniBatchKMeans.

Both cost O(n) after a fit whose size does not grow with n: faiss trains on at
most ``max_points_per_centroid`` points per centre (its own rule, applied here
with the run's seed so the sample is reproducible), then every point goes to
its nearest centre in batches, so memory beyond the input stays bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from textcluster import console
from textcluster.clusterers.base import N_CLUSTERS, NearestCentre, settled_k
from textcluster.contracts import Clusterer
from textcluster.errors import UserError
from textcluster.params import Bool, Choice, Int
from textcluster.progress import track
from textcluster.registry import clusterers

log = logging.getLogger(__name__)

ASSIGN_BATCH = 65_536  # rows per nearest-centre search: about 100 MB of float32 at d = 384


def _batches(n: int, size: int = ASSIGN_BATCH) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _float32_rows(X: np.ndarray) -> np.ndarray:
    """faiss reads C-contiguous float32; a memory-mapped float32 file passes through without a copy."""
    return np.ascontiguousarray(X, dtype=np.float32)


def _faiss():
    console.install()  # faiss' loader logs its CPU-feature probe as it imports
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss-cpu is a dependency
        raise UserError("clusterer=faiss_kmeans needs faiss: pip install faiss-cpu (or faiss-gpu)") from None
    return faiss


@clusterers.register("faiss_kmeans")
class FaissKMeans(Clusterer):
    """faiss k-means (Lloyd iterations from random starts, as faiss does them) on a seeded sample of at
    most ``max_points_per_centroid`` points per centre; then each point goes to its nearest centre.

    ``spherical``: centres are kept at unit length (for unit-length embeddings: k-means on cosine).
    ``gpu``: auto uses faiss-gpu when it is installed and sees a GPU.
    """

    score_name = "distance"
    parameters = {
        "n_clusters": N_CLUSTERS,
        "max_iter": Int(min=1),
        "n_init": Int(min=1),
        "max_points_per_centroid": Int(min=1),
        "spherical": Bool(),
        "gpu": Choice("auto", "never"),
        "random_state": Int(min=0),
    }

    def __init__(
        self,
        n_clusters: int | str = "auto",
        max_iter: int = 20,
        n_init: int = 1,
        max_points_per_centroid: int = 256,
        spherical: bool = False,
        gpu: str = "auto",
        random_state: int = 0,
    ):
        self.n_clusters, self.max_iter, self.n_init = n_clusters, max_iter, n_init
        self.max_points_per_centroid, self.spherical = max_points_per_centroid, spherical
        self.gpu, self.random_state = gpu, random_state

    def _use_gpu(self, faiss) -> bool:
        return self.gpu == "auto" and hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0

    def training_sample(self, X: np.ndarray, k: int) -> np.ndarray:
        """The rows k-means trains on: all of them, or a seeded sample of k * max_points_per_centroid."""
        limit = k * self.max_points_per_centroid
        if len(X) <= limit:
            return _float32_rows(X)
        rows = np.sort(np.random.default_rng(self.random_state).choice(len(X), size=limit, replace=False))
        log.info("faiss_kmeans: training on %d of %d points (%d per centre)", limit, len(X), limit // k)
        return _float32_rows(X[rows])

    def fit(self, X: np.ndarray) -> FaissKMeans:
        faiss = _faiss()
        k = settled_k("faiss_kmeans", self.n_clusters)
        sample = self.training_sample(X, k)
        kmeans = faiss.Kmeans(
            sample.shape[1],
            k,
            niter=self.max_iter,
            nredo=self.n_init,
            seed=self.random_state,
            spherical=self.spherical,
            max_points_per_centroid=max(self.max_points_per_centroid, len(sample) // k + 1),  # sampled here already
            # faiss prints "WARNING clustering n points to k centroids: please provide at least 39k training
            # points" below 39 points per centre, and trains all the same: few points per topic are normal here
            min_points_per_centroid=1,
            gpu=self._use_gpu(faiss),
            verbose=False,
        )
        kmeans.train(sample)
        self.cluster_centers_ = np.asarray(kmeans.centroids, dtype=np.float32)
        self.labels_, squared = self._assign(X)
        self.inertia_ = float(squared.sum(dtype=np.float64))
        return self

    def _assign(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(nearest centre, squared Euclidean distance)`` for every row, in batches."""
        faiss = _faiss()
        index = faiss.IndexFlatL2(self.cluster_centers_.shape[1])
        index.add(self.cluster_centers_)
        labels = np.empty(len(X), dtype=np.int64)
        squared = np.empty(len(X), dtype=np.float32)
        with track(len(X), "assigning to the nearest centre", "points") as progress:
            for rows in _batches(len(X)):
                distance, nearest_centre = index.search(_float32_rows(X[rows]), 1)
                labels[rows], squared[rows] = nearest_centre[:, 0], np.maximum(distance[:, 0], 0.0)
                progress.update(rows.stop - rows.start)
        return labels, squared

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest centre and the Euclidean distance to it."""
        labels, squared = self._assign(X)
        return labels, np.sqrt(squared).astype(np.float64)

    def get_state(self) -> dict[str, Any]:
        return {"cluster_centers_": self.cluster_centers_, "inertia_": self.inertia_}


@clusterers.register("minibatch_kmeans")
class MiniBatchKMeansClusterer(NearestCentre, Clusterer):
    """scikit-learn's MiniBatchKMeans: k-means++ on a sample, updates from mini-batches; a new point goes to
    the nearest centre."""

    parameters = {
        "n_clusters": N_CLUSTERS,
        "batch_size": Int(min=1),
        "max_iter": Int(min=1),
        "n_init": Int(min=1),
        "random_state": Int(min=0),
    }

    def __init__(
        self,
        n_clusters: int | str = "auto",
        batch_size: int = 4096,
        max_iter: int = 20,
        n_init: int = 1,
        random_state: int = 0,
    ):
        self.n_clusters, self.batch_size, self.max_iter = n_clusters, batch_size, max_iter
        self.n_init, self.random_state = n_init, random_state

    def fit(self, X: np.ndarray) -> MiniBatchKMeansClusterer:
        from sklearn.cluster import MiniBatchKMeans

        model = MiniBatchKMeans(
            n_clusters=settled_k("minibatch_kmeans", self.n_clusters),
            batch_size=self.batch_size,
            max_iter=self.max_iter,
            n_init=self.n_init,
            random_state=self.random_state,
        ).fit(X)
        self.labels_, self.cluster_centers_ = model.labels_, model.cluster_centers_
        self.inertia_ = float(model.inertia_)
        return self

    def get_state(self) -> dict[str, Any]:
        return {"cluster_centers_": self.cluster_centers_, "inertia_": self.inertia_}
