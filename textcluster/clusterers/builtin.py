"""Built-in clusterers: k-means, DBSCAN, HDBSCAN, Gaussian mixture; parameters under scikit-learn's names.

Each keeps what its out-of-sample rule needs as arrays (centres, core samples,
HDBSCAN's tree, the mixture's parameters), so a saved model predicts without a
pickle and exactly as the live one did.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from textcluster.clusterers.base import N_CLUSTERS, NearestCentre, settled_k
from textcluster.contracts import Clusterer
from textcluster.errors import NoClustersError, UserError
from textcluster.labels import NOISE, cluster_ids
from textcluster.neighbours import EXACT_SEARCH_MAX, exact_neighbours
from textcluster.params import NULL, Choice, Float, Int, Str
from textcluster.progress import track
from textcluster.registry import clusterers
from textcluster.seeding import FIT_SIZE, FIT_SIZE_MIN, fit_sample
from textcluster.state import estimator_state, restore_estimator

log = logging.getLogger(__name__)


@clusterers.register("kmeans")
class KMeansClusterer(NearestCentre, Clusterer):
    """k-means (scikit-learn) with k-means++ starts; a new point goes to the nearest centre.

    ``fit_size``: with more points than this, k-means is fitted on a seeded
    random sample of ``fit_size`` points and every point is then labelled by
    its nearest centre, so the fit stops growing with the corpus and only the
    assignment (O(n k)) does; null fits every point. What a sample costs
    follows its points per centre (faiss trains on at most 256): the default
    keeps about 100 or more at the k search's largest k. All ``n_init`` starts
    run on the sample: the bound makes them affordable, and one start alone
    leaves a worse optimum.

    ``n_init``: the number of k-means++ starts, the best kept; ``auto`` runs
    ten, fewer (three at least) where ten would pass :data:`AUTO_STARTS_PAIRS`
    points x centres in all: the bound keeps the final fit of a large corpus
    at a few seconds whatever k the search found, as ``fit_size`` keeps it
    whatever the corpus' size.
    Measured: benchmarks/kmeans_scale.py (benchmarks/results/kmeans-scale.md),
    benchmarks/kmeans_starts.py (benchmarks/results/kmeans-starts.md).
    """

    parameters = {
        "n_clusters": N_CLUSTERS,
        "n_init": Int(min=1) | Choice("auto"),
        "max_iter": Int(min=1),
        "fit_size": Int(min=FIT_SIZE_MIN) | NULL,
        "random_state": Int(min=0),
    }

    def __init__(
        self,
        n_clusters: int | str = "auto",
        n_init: int | str = "auto",
        max_iter: int = 300,
        fit_size: int | None = FIT_SIZE,
        random_state: int = 0,
    ):
        self.n_clusters, self.n_init, self.max_iter = n_clusters, n_init, max_iter
        self.fit_size, self.random_state = fit_size, random_state

    def sample(self, n_samples: int) -> np.ndarray | None:
        """The sorted rows k-means is fitted on (seeded by ``random_state``), or None for all of them."""
        return fit_sample(n_samples, self.fit_size, self.random_state)

    def fit(self, X: np.ndarray) -> KMeansClusterer:
        rows = self.sample(len(X))
        if rows is not None:
            log.info(
                "kmeans: fitting on %d of %d points (clusterer.fit_size), then each to its nearest centre",
                len(rows),
                len(X),
            )
        k = settled_k("kmeans", self.n_clusters)
        fitted = X if rows is None else X[rows]
        model = best_of_starts(fitted, k, self.starts(len(fitted), k), self.max_iter, self.random_state)
        self.cluster_centers_ = model.cluster_centers_
        # sklearn's predict works through the rows in chunks: memory beyond X is the labels
        self.labels_ = model.labels_ if rows is None else model.predict(X)
        return self

    def starts(self, n_points: int, k: int) -> int:
        """How many starts a fit of ``n_points`` points at ``k`` centres runs: ``n_init``, or what ``auto`` settles."""
        if self.n_init != "auto":
            return self.n_init
        starts, most = auto_starts(n_points, k), AUTO_STARTS[1]
        if starts < most:
            log.info(
                "kmeans: %d starts, not %d (clusterer.n_init=auto bounds %d points x %d centres x the starts by %s; "
                "clusterer.n_init=%d runs them all)",
                starts,
                most,
                n_points,
                k,
                f"{AUTO_STARTS_PAIRS:,}",
                most,
            )
        return starts


AUTO_STARTS = (3, 10)  # n_init=auto: ten starts, three at least (one alone is 1-4% worse in inertia)
AUTO_STARTS_PAIRS = 50_000_000  # points x centres of all starts together past which auto runs fewer (about 4 s
# on 2 cores): at large k the best of three is as near the best of ten as one seed's best of ten is to another's


def auto_starts(n_points: int, k: int) -> int:
    """``n_init=auto``'s starts: as many of ten as fit in AUTO_STARTS_PAIRS, never fewer than three."""
    fewest, most = AUTO_STARTS
    return max(fewest, min(most, AUTO_STARTS_PAIRS // max(n_points * k, 1)))


PROGRESS_PAIRS = 5_000_000  # points x centres of one start from which the starts show progress (a second or so
# each on 2 cores): the final fit of a large corpus, never the k search's fits on its 5,000-point sample


def best_of_starts(X: np.ndarray, n_clusters: int, n_init: int, max_iter: int, seed: int):
    """scikit-learn's ``KMeans(n_init=n_init, random_state=seed)``; a long fit runs it one start at a time so that
    it shows its progress. The starts draw from one random stream, as within one fit, and the best is kept by
    scikit-learn's rule (the lowest inertia, unless that start is the same partition relabelled): the same
    centres and labels to the bit."""
    from sklearn.cluster import KMeans

    if len(X) * n_clusters < PROGRESS_PAIRS:  # one call: each start on its own validates and centres X again
        return KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, random_state=seed).fit(X)
    stream = np.random.RandomState(seed)
    best = None
    with track(n_init, "kmeans", "starts") as progress:
        for _ in range(n_init):
            start = KMeans(n_clusters=n_clusters, n_init=1, max_iter=max_iter, random_state=stream).fit(X)
            if best is None or (start.inertia_ < best.inertia_ and not same_partition(start.labels_, best.labels_)):
                best = start
            progress.update(1)
    return best


def same_partition(labels: np.ndarray, other: np.ndarray) -> bool:
    """Whether ``other`` is ``labels`` relabelled: each label of ``labels`` meets one label of ``other``."""
    pairs = np.unique(np.stack([labels, other]), axis=1)
    return pairs.shape[1] == len(np.unique(labels))


@clusterers.register("dbscan")
class DBSCANClusterer(Clusterer):
    """DBSCAN (scikit-learn). New points take the label of the nearest core sample within ``eps``, else noise."""

    predict_method = "nearest_core_sample"
    score_name = "distance"
    density_based = True
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
CONDENSED_TREE_DTYPES = (np.intp, np.intp, np.float64, np.intp)  # hdbscan's own (fast_hdbscan's sizes are floats)
AUTO_MIN_CLUSTER_SIZE, AUTO_CLUSTER_FRACTION = 15, 0.005
HDBSCAN_BACKENDS = ("auto", "fast", "hdbscan")
# hdbscan's prediction data needs a scikit-learn KD or ball tree metric that takes no extra argument; cosine is
# not one, and the metrics of boolean data (jaccard, dice, hamming...) say nothing about embeddings
HDBSCAN_METRICS = ("euclidean", "l2", "manhattan", "cityblock", "l1", "chebyshev", "infinity", "braycurtis", "canberra")
# fast_hdbscan's exact k-d tree up to here; above, a graph of nearest neighbours, and faiss for hdbscan's prediction
FAST_TREE_MAX_DIMENSIONS = 30
PREDICT_ROWS = 10_000  # points per approximate_predict / membership_vector call on the points outside a sample


def _row_batches(n_rows: int) -> list[slice]:
    return [slice(start, min(start + PREDICT_ROWS, n_rows)) for start in range(0, n_rows, PREDICT_ROWS)]


@clusterers.register("hdbscan")
class HDBSCANClusterer(Clusterer):
    """HDBSCAN. New points go through ``hdbscan.approximate_predict``.

    ``backend`` builds the hierarchy: ``fast`` (fast_hdbscan: the same
    algorithm with the exact minimum spanning tree, multicore, its Boruvka run
    in its reproducible order; euclidean only; above 30 dimensions the tree
    of a graph of exact nearest neighbours) or ``hdbscan`` (the hdbscan
    library, whose default tree is approximate and merged clusters the exact
    one keeps). ``auto`` is ``fast`` for the euclidean metric and ``hdbscan``
    for the others. Either way the fitted model is an ``hdbscan.HDBSCAN``, so
    prediction and the membership vectors of ``noise=soft`` are hdbscan's own;
    that is why ``metric`` is one hdbscan can predict with (no cosine: on
    unit-length vectors euclidean orders neighbours as cosine does).
    Measured: benchmarks/results/reducers-hdbscan-scale.md.

    ``fit_size``: with more points than this, the hierarchy is built on a
    seeded random sample of ``fit_size`` points (``min_cluster_size=auto``
    then takes its share of the sample) and the other points are labelled by
    ``approximate_predict``, batch by batch, their membership vectors by
    ``membership_vector``. HDBSCAN's core distances are a k-nearest-neighbour
    search with k = min_samples, which ``auto`` makes grow with the corpus:
    on all points the cost grows with the square of the corpus, on a sample
    it stops growing. null fits every point.

    The state is what the prediction data is computed from (the clustered
    points, only the sample's when sampled, the condensed tree and their
    labels); loading rebuilds the prediction data with hdbscan's own
    ``generate_prediction_data``.
    """

    predict_method = "approximate_predict"
    score_name = "probability"
    density_based = True
    parameters = {
        "min_cluster_size": Int(min=2) | Choice("auto"),
        "min_samples": Int(min=1) | NULL,
        "cluster_selection_epsilon": Float(min=0),
        "cluster_selection_method": Choice("eom", "leaf"),
        "metric": Choice(*HDBSCAN_METRICS),
        "backend": Choice(*HDBSCAN_BACKENDS),
        "fit_size": Int(min=FIT_SIZE_MIN) | NULL,
        "random_state": Int(min=0),
    }

    def __init__(
        self,
        min_cluster_size: int | str = "auto",
        min_samples: int | None = None,
        cluster_selection_epsilon: float = 0.0,
        cluster_selection_method: str = "eom",
        metric: str = "euclidean",
        backend: str = "auto",
        fit_size: int | None = FIT_SIZE,
        random_state: int = 0,
    ):
        self.min_cluster_size, self.min_samples = min_cluster_size, min_samples
        self.cluster_selection_epsilon, self.cluster_selection_method = (
            cluster_selection_epsilon,
            cluster_selection_method,
        )
        self.metric, self.backend, self.fit_size, self.random_state = metric, backend, fit_size, random_state
        # Here, not in check_params: the builder constructs the stages before the data loads, check_params runs after.
        if backend == "fast" and metric != "euclidean" and metric in HDBSCAN_METRICS:  # others: check_params says
            raise UserError(
                f"clusterer.backend=fast builds the tree for metric=euclidean only; for clusterer.metric={metric} "
                "set clusterer.backend=auto (or hdbscan)"
            )

    def resolved_backend(self) -> str:
        """``auto``: fast_hdbscan's exact tree where it has one (euclidean), the hdbscan library elsewhere."""
        if self.backend != "auto":
            return self.backend
        return "fast" if self.metric == "euclidean" else "hdbscan"

    def _settings(self, min_cluster_size: int) -> dict[str, Any]:
        """The clustering settings under the names both libraries use."""
        return {
            "min_cluster_size": min_cluster_size,
            "min_samples": self.min_samples,
            "cluster_selection_epsilon": float(self.cluster_selection_epsilon),  # fast_hdbscan refuses an int
            "cluster_selection_method": self.cluster_selection_method,
            "metric": self.metric,
        }

    def _hdbscan(self, min_cluster_size: int):
        import hdbscan

        return hdbscan.HDBSCAN(**self._settings(min_cluster_size), prediction_data=True)

    def resolved_min_cluster_size(self, n_samples: int) -> int:
        """``auto``: 0.5% of the corpus, at least 15 and at most the corpus (hdbscan's own default is a fixed
        15, which on 12,340 snippets gives 123 clusters and 27% noise). Measured: benchmarks/results/k-selection.md."""
        if self.min_cluster_size != "auto":
            return int(self.min_cluster_size)
        return min(n_samples, max(AUTO_MIN_CLUSTER_SIZE, round(AUTO_CLUSTER_FRACTION * n_samples)))

    def check_input(self, n_samples: int) -> None:
        fitted = n_samples if self.fit_size is None else min(n_samples, self.fit_size)
        if self.min_cluster_size != "auto" and self.min_cluster_size > fitted:
            where = "clusterer.fit_size" if fitted < n_samples else "the number of samples"
            raise UserError(
                f"clusterer.min_cluster_size={self.min_cluster_size} is larger than {where} ({fitted}); "
                "lower it or raise data.limit"
            )

    def sample(self, n_samples: int) -> np.ndarray | None:
        """The sorted rows the hierarchy is built on (seeded by ``random_state``), or None for all of them."""
        return fit_sample(n_samples, self.fit_size, self.random_state)

    def fit(self, X: np.ndarray) -> HDBSCANClusterer:
        self.fit_rows_ = self.sample(len(X))
        points = np.asarray(X if self.fit_rows_ is None else X[self.fit_rows_], dtype=np.float64)
        self.min_cluster_size_ = self.resolved_min_cluster_size(len(points))
        if self.resolved_backend() == "fast":
            self.model_ = self._fit_fast(points)
        else:
            self.model_ = self._hdbscan(self.min_cluster_size_).fit(points)
            self._refuse_all_noise(self.model_.labels_)
        self.labels_, self.probabilities_ = self.model_.labels_, self.model_.probabilities_
        if self.fit_rows_ is not None:
            self._points = X  # a reference, not a copy: soft_membership places the other points by it
            self.labels_, self.probabilities_ = self._label_the_rest(X)
        return self

    def _refuse_all_noise(self, labels: np.ndarray) -> None:
        """No cluster at all leaves nothing to describe and the noise policy nothing to assign to: say why."""
        n_points = len(labels)
        if n_points == 0 or (np.asarray(labels) != NOISE).any():
            return
        size = self.min_cluster_size_
        setting = f"min_cluster_size={size}" + (
            " (auto: 0.5% of the points, at least 15)" if self.min_cluster_size == "auto" else ""
        )
        points = f"{n_points} points" + (" of the clusterer.fit_size sample" if self.fit_rows_ is not None else "")
        if 2 * size > n_points:  # the root is never a cluster: two of them must fit
            why = f"it needs two groups of at least {size} points, and there are {n_points}"
            fix = f"set clusterer.min_cluster_size={max(2, n_points // 2)} or less"
        else:
            why = f"no group of {size} points is dense enough to be a cluster"
            fix = "set a smaller clusterer.min_cluster_size (or clusterer.min_samples)"
        raise NoClustersError(
            f"clusterer=hdbscan labelled all {points} noise with {setting}: {why}; {fix}, "
            "or use clusterer=kmeans, which puts every point in a cluster"
        )

    def _label_the_rest(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels, probabilities = np.empty(len(X), dtype=np.intp), np.empty(len(X), dtype=np.float64)
        labels[self.fit_rows_], probabilities[self.fit_rows_] = self.model_.labels_, self.model_.probabilities_
        rest = self._other_rows(len(X))
        labels[rest], probabilities[rest] = self.predict_scores(X[rest])
        return labels, probabilities

    def _other_rows(self, n_samples: int) -> np.ndarray:
        return np.setdiff1d(np.arange(n_samples), self.fit_rows_, assume_unique=True)

    def _fit_fast(self, X: np.ndarray):
        """fast_hdbscan's labels and condensed tree, handed to an hdbscan model for prediction."""
        import fast_hdbscan

        settings, points = self._settings(self.min_cluster_size_), X
        if X.shape[1] > FAST_TREE_MAX_DIMENSIONS and len(X) <= EXACT_SEARCH_MAX:
            settings["metric"], points = "precomputed", self._exact_neighbour_graph(X)
        # reproducible: the parallel Boruvka otherwise merges equal-weight edges in thread order
        fitted = fast_hdbscan.HDBSCAN(**settings, reproducible=True).fit(points)
        # before hdbscan's prediction data is built: an all-noise fit has nothing to predict with
        self._refuse_all_noise(fitted.labels_)
        tree = fitted._condensed_tree
        return self._prediction_model(
            X, [tree[name] for name in CONDENSED_TREE_FIELDS], fitted.labels_, fitted.probabilities_
        )

    def _exact_neighbour_graph(self, X: np.ndarray):
        """The sparse graph of each point's exact nearest neighbours, as many as fast_hdbscan's NN-descent
        would find (3 x min_samples, at least 15), weighted by their euclidean distances.

        Above ``FAST_TREE_MAX_DIMENSIONS`` fast_hdbscan builds its spanning tree on such a graph; searched by
        its own NN-descent the neighbours are approximate, unseeded, and the search's numba code compiles for
        20-30 s in every process (it cannot be cached). faiss finds them exactly in a fraction of that.
        """
        from scipy.sparse import csr_matrix

        min_samples = self.min_samples or self.min_cluster_size_
        k = min(len(X), max(3 * min_samples, 15) + 1)  # + 1: each point is its own nearest, dropped by fast_hdbscan
        indices, distances = exact_neighbours(X, k, "euclidean")
        rows = np.arange(0, len(X) * k + 1, k)
        return csr_matrix((distances.ravel().astype(np.float64), indices.ravel(), rows), shape=(len(X), len(X)))

    def _prediction_model(self, points: np.ndarray, tree_columns: list, labels: np.ndarray, probabilities: np.ndarray):
        """An ``hdbscan.HDBSCAN`` set from arrays, with its prediction data generated."""
        model = self._hdbscan(self.min_cluster_size_)
        model._raw_data = np.asarray(points, dtype=np.float64)
        columns = [np.asarray(column, dtype=dtype) for column, dtype in zip(tree_columns, CONDENSED_TREE_DTYPES)]
        model._condensed_tree = np.rec.fromarrays(columns, names=list(CONDENSED_TREE_FIELDS)).view(np.ndarray)
        model.labels_, model.probabilities_ = np.asarray(labels), np.asarray(probabilities)
        model._metric_kwargs = {}
        if points.shape[1] > FAST_TREE_MAX_DIMENSIONS and self.metric == "euclidean":
            from textcluster.clusterers.hdbscan_prediction import exact_search_prediction_data

            model._prediction_data = exact_search_prediction_data(model)
        else:
            model.generate_prediction_data()
        return model

    def soft_membership(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(cluster ids, n x k probabilities)`` of the fitted points: ``hdbscan.all_points_membership_vectors``,
        and for the points outside a sample ``hdbscan.membership_vector``.

        Used by ``noise=soft``; None when there are fewer than two clusters (nothing to choose between).
        """
        import hdbscan

        clusters = cluster_ids(self.model_.labels_)
        if len(clusters) < 2:
            return None
        fitted = np.asarray(hdbscan.all_points_membership_vectors(self.model_)).reshape(len(self.model_.labels_), -1)
        if self.fit_rows_ is None:
            return clusters, fitted
        vectors = np.empty((len(self.labels_), fitted.shape[1]))
        vectors[self.fit_rows_] = fitted
        rest = self._other_rows(len(self.labels_))
        for rows in _row_batches(len(rest)):
            points = np.asarray(self._points[rest[rows]], dtype=np.float64)
            vectors[rest[rows]] = np.asarray(hdbscan.membership_vector(self.model_, points)).reshape(len(points), -1)
        return clusters, vectors

    def predict_membership(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(cluster ids, n x k probabilities)`` of new points: ``hdbscan.membership_vector``, in batches (what
        Pipeline.predict_proba reads); None with fewer than two clusters, as :meth:`soft_membership`."""
        import hdbscan

        clusters = cluster_ids(self.model_.labels_)
        if len(clusters) < 2:
            return None
        vectors = np.empty((len(X), len(clusters)))
        for rows in _row_batches(len(X)):
            points = np.asarray(X[rows], dtype=np.float64)
            vectors[rows] = np.asarray(hdbscan.membership_vector(self.model_, points)).reshape(len(points), -1)
        return clusters, vectors

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``hdbscan.approximate_predict``: labels and their membership strengths (0 for noise).

        In batches: each point's 2 x min_samples neighbours are held at once for its whole batch.
        """
        import hdbscan

        labels, strengths = np.empty(len(X), dtype=np.intp), np.empty(len(X), dtype=np.float64)
        for rows in _row_batches(len(X)):
            found = hdbscan.approximate_predict(self.model_, np.asarray(X[rows], dtype=np.float64))
            labels[rows], strengths[rows] = found
        return labels, strengths

    def get_state(self) -> dict[str, Any]:
        """The prediction model's arrays: with a sample, the sample's points and labels only."""
        tree = self.model_._condensed_tree
        return {
            "points": self.model_._raw_data,
            "labels": self.model_.labels_,
            "probabilities": self.model_.probabilities_,
            "condensed_tree": {name: np.asarray(tree[name]) for name in CONDENSED_TREE_FIELDS},
            "min_cluster_size": np.asarray(self.min_cluster_size_),
        }

    def set_state(self, state: Mapping[str, Any]) -> HDBSCANClusterer:
        self.min_cluster_size_ = int(np.asarray(state["min_cluster_size"]).reshape(-1)[0])
        tree = [state["condensed_tree"][name] for name in CONDENSED_TREE_FIELDS]
        self.model_ = self._prediction_model(state["points"], tree, state["labels"], state["probabilities"])
        self.labels_, self.probabilities_, self.fit_rows_ = self.model_.labels_, self.model_.probabilities_, None
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
            n_components=settled_k("gmm", self.n_clusters),
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

    def predict_membership(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(component ids, posterior)``: the mixture's own soft assignment (Pipeline.predict_proba reads it)."""
        return np.arange(self.model_.n_components), self.predict_proba(X)

    def get_state(self) -> dict[str, Any]:
        return {"labels": self.labels_, **estimator_state(self.model_, self.FITTED)}

    def set_state(self, state: Mapping[str, Any]) -> GaussianMixtureClusterer:
        state = dict(state)
        self.labels_ = np.asarray(state.pop("labels"))
        self.model_ = restore_estimator(self._mixture(), state)
        return self
