"""Graph clustering on a k-nearest-neighbour graph of the points: spectral clustering and Leiden communities.

Spectral clustering is scikit-learn's, on its symmetrised kNN affinity. Leiden's graph is UMAP's fuzzy
neighbourhood graph (``umap.umap_.fuzzy_simplicial_set``: each point's ``n_neighbors`` nearest
neighbours, searched exactly up to ``neighbours.EXACT_SEARCH_MAX`` points and by umap-learn's NN-descent
above, with weights that fall off beyond each point's own nearest distance), the graph scanpy clusters.
Leiden (the ``leidenalg`` library of its authors, on ``igraph``) then finds the partition of highest
modularity at the given ``resolution``.
"""

from __future__ import annotations

import numpy as np

from textcluster.clusterers.base import N_CLUSTERS, NearestCentroidFallback, settled_k
from textcluster.contracts import Clusterer
from textcluster.errors import UserError
from textcluster.neighbours import EXACT_SEARCH_MAX, FAISS_METRICS, exact_neighbours
from textcluster.params import NULL, Choice, Float, Int
from textcluster.registry import clusterers

GRAPH_METRICS = FAISS_METRICS  # the metrics searched exactly


def check_neighbours(n_neighbors: int, n_samples: int) -> None:
    """A kNN graph needs more points than neighbours per point."""
    if n_neighbors >= n_samples:
        raise UserError(
            f"clusterer.n_neighbors={n_neighbors} needs more than that many samples, got {n_samples}; "
            "lower clusterer.n_neighbors or raise data.limit"
        )


def neighbourhood_graph(X: np.ndarray, n_neighbors: int, metric: str, random_state: int):
    """The symmetric fuzzy kNN graph of the rows of ``X`` (a scipy sparse matrix of edge weights in (0, 1])."""
    from umap.umap_ import fuzzy_simplicial_set

    X = np.asarray(X, dtype=np.float32)
    searched = {}
    if len(X) <= EXACT_SEARCH_MAX:  # else umap-learn's NN-descent: n^2 distances would take too long
        searched = dict(zip(("knn_indices", "knn_dists"), exact_neighbours(X, n_neighbors, metric)))
    seed = np.random.RandomState(random_state)
    graph, _sigmas, _rhos = fuzzy_simplicial_set(X, n_neighbors, seed, metric, **searched)
    return graph.tocoo()


def leiden_membership(graph, resolution: float, n_iterations: int, random_state: int) -> np.ndarray:
    """Each node's community (numbered from the largest community down) in the modularity partition."""
    import igraph
    import leidenalg

    upper = graph.row < graph.col  # the graph is symmetric: each edge once
    network = igraph.Graph(n=graph.shape[0], edges=np.column_stack([graph.row[upper], graph.col[upper]]).tolist())
    partition = leidenalg.find_partition(
        network,
        leidenalg.RBConfigurationVertexPartition,
        weights=graph.data[upper].tolist(),
        resolution_parameter=resolution,
        n_iterations=n_iterations,
        seed=random_state,
    )
    return np.asarray(partition.membership, dtype=np.intp)


SPECTRAL_LABEL_ASSIGNMENT = ("cluster_qr", "kmeans", "discretize")


@clusterers.register("spectral")
class SpectralClusterer(NearestCentroidFallback, Clusterer):
    """Spectral clustering (scikit-learn) on a k-nearest-neighbour graph: clusters of any shape that a
    neighbourhood graph holds together. It has no rule for new points, so a new point joins the nearest
    cluster mean (``nearest_centroid``).

    ``n_neighbors``: the graph's neighbours per point (scikit-learn's affinity ``nearest_neighbors``,
    symmetrised); ``assign_labels``: how the spectral embedding becomes labels (``cluster_qr`` has no
    random restarts to depend on). Its eigenvectors need the whole graph at once, so it suits corpora of
    up to some tens of thousands of documents.
    """

    builds_graph = True
    parameters = {
        "n_clusters": N_CLUSTERS,
        "n_neighbors": Int(min=2),
        "assign_labels": Choice(*SPECTRAL_LABEL_ASSIGNMENT),
        "random_state": Int(min=0),
    }

    def __init__(
        self, n_clusters: int | str = "auto", n_neighbors: int = 15, assign_labels: str = "cluster_qr", random_state=0
    ):
        self.n_clusters, self.n_neighbors = n_clusters, n_neighbors
        self.assign_labels, self.random_state = assign_labels, random_state

    def check_input(self, n_samples: int) -> None:
        super().check_input(n_samples)
        check_neighbours(self.n_neighbors, n_samples)

    def fit(self, X: np.ndarray) -> SpectralClusterer:
        from sklearn.cluster import SpectralClustering

        X = np.asarray(X)
        self.labels_ = SpectralClustering(
            n_clusters=settled_k("spectral", self.n_clusters),
            affinity="nearest_neighbors",
            n_neighbors=min(self.n_neighbors, len(X) - 1),  # the k search fits small samples too
            assign_labels=self.assign_labels,
            random_state=self.random_state,
        ).fit_predict(X)
        self.fit_centroids(X)
        return self


RESOLUTION_STEPS = 24  # Leiden runs a search for n_clusters may take (each a few seconds at 10^4 points)


@clusterers.register("leiden")
class LeidenClusterer(NearestCentroidFallback, Clusterer):
    """Leiden communities of the kNN graph; a new point joins the nearest cluster mean (``nearest_centroid``).

    ``resolution``: higher gives more, smaller communities (1 is plain modularity). ``n_clusters``: null
    (the default) lets the resolution decide how many; a number (or ``labels``, the true classes) searches
    the resolution that gives that many communities instead (doubling, then bisecting in log scale, the
    graph built once), the closest count when none gives it exactly. ``n_iterations``: Leiden passes, -1
    until no pass improves the partition.
    """

    builds_graph = True
    parameters = {
        "n_clusters": Int(min=2) | Choice("labels") | NULL,
        "n_neighbors": Int(min=2),
        "metric": Choice(*GRAPH_METRICS),
        "resolution": Float(min=0, min_open=True),
        "n_iterations": Int(min=-1),
        "random_state": Int(min=0),
    }

    def __init__(
        self,
        n_clusters: int | str | None = None,
        n_neighbors: int = 15,
        metric: str = "euclidean",
        resolution: float = 1.0,
        n_iterations: int = -1,
        random_state: int = 0,
    ):
        self.n_clusters, self.n_neighbors, self.metric, self.resolution = n_clusters, n_neighbors, metric, resolution
        self.n_iterations, self.random_state = n_iterations, random_state

    def check_input(self, n_samples: int) -> None:
        check_neighbours(self.n_neighbors, n_samples)
        if self.n_iterations == 0:
            raise UserError("clusterer.n_iterations=0 runs no Leiden pass; give a positive number, or -1")

    def fit(self, X: np.ndarray) -> LeidenClusterer:
        X = np.asarray(X)
        graph = neighbourhood_graph(X, self.n_neighbors, self.metric, self.random_state)
        partition = lambda resolution: leiden_membership(graph, resolution, self.n_iterations, self.random_state)
        if self.n_clusters is None:
            self.resolution_, self.labels_ = float(self.resolution), partition(self.resolution)
        else:
            self.resolution_, self.labels_ = resolution_for(
                partition, settled_k("leiden", self.n_clusters), self.resolution
            )
        self.fit_centroids(X)
        return self


def resolution_for(partition, k: int, start: float) -> tuple[float, np.ndarray]:
    """The resolution (and its labels) whose partition has ``k`` communities, else the one closest to ``k``.

    The count grows with the resolution (not strictly: Leiden is a heuristic), so the search doubles or
    halves from ``start`` until it brackets ``k``, then bisects in log scale, at most RESOLUTION_STEPS runs.
    """
    tried: dict[float, np.ndarray] = {}

    def count(resolution: float) -> int:
        if resolution not in tried:
            tried[resolution] = partition(resolution)
        return len(np.unique(tried[resolution]))

    low = high = start
    if count(start) < k:
        while count(high) < k and len(tried) < RESOLUTION_STEPS:
            low, high = high, high * 2
    else:
        while count(low) > k and len(tried) < RESOLUTION_STEPS:
            low, high = low / 2, low
    while k not in (count(low), count(high)) and len(tried) < RESOLUTION_STEPS and high / low > 1.001:
        middle = float(np.sqrt(low * high))
        low, high = (middle, high) if count(middle) < k else (low, middle)
    best = min(tried, key=lambda resolution: (abs(count(resolution) - k), resolution))
    return best, tried[best]
