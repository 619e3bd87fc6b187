"""Built-in clusterers: fitted labels, predict routes, noise, parameter checks, and state that saves as data."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from textcluster import registry
from textcluster.clusterers import Clusterer, NearestCentroidFallback
from textcluster.errors import UserError
from textcluster.labels import NOISE
from textcluster.state import read_state, write_state

FAR_POINTS = np.array([[60.0, 60.0], [-60.0, 50.0], [50.0, -70.0], [-55.0, -55.0]])


@pytest.fixture(scope="module")
def blobs_with_outliers():
    """Three tight blobs of 100 points, then four isolated points far from everything."""
    X, y = make_blobs(n_samples=300, centers=[[0, 0], [10, 0], [0, 10]], cluster_std=0.5, random_state=0)
    return np.vstack([X, FAR_POINTS]), y


def build(config):
    return registry.clusterers.build(config, random_state=0)


def test_kmeans_predict_reproduces_training_labels(blobs_with_outliers):
    X, y = blobs_with_outliers
    model = build({"name": "kmeans", "n_clusters": 3}).fit(X[:300])
    assert isinstance(model, Clusterer) and model.predict_method == "native"
    assert np.array_equal(model.predict(X[:300]), model.labels_)
    # the blobs are far apart: one cluster per blob, whatever the numbering
    assert all(len(set(model.labels_[y == blob])) == 1 for blob in range(3))
    assert len(set(model.labels_)) == 3
    assert model.cluster_centers_.shape == (3, 2)


def test_kmeans_is_seeded():
    X = np.random.default_rng(0).normal(size=(200, 5))  # no structure: only the seed decides
    first = build({"name": "kmeans", "n_clusters": 4, "n_init": 1}).fit(X).labels_
    again = build({"name": "kmeans", "n_clusters": 4, "n_init": 1}).fit(X).labels_
    assert np.array_equal(first, again)


@pytest.mark.parametrize("seed", [0, 7])
def test_kmeans_starts_one_at_a_time_give_scikit_learns_fit_to_the_bit(seed, monkeypatch):
    """The starts run one by one (a long fit shows them as progress): the same random stream and the same rule
    for the best as KMeans(n_init=...) in one call, so the same centres and labels; the progress is shown only
    where one start's points x centres reach PROGRESS_PAIRS (never for the k search's small fits)."""
    from sklearn.cluster import KMeans

    from textcluster.clusterers import builtin

    shown = []

    class Recorder:
        def update(self, n):
            shown.append(n)

    monkeypatch.setattr(builtin, "track", lambda total, what, unit: contextlib.nullcontext(Recorder()))
    X, _ = make_blobs(n_samples=600, centers=12, n_features=6, cluster_std=3.0, random_state=seed)
    X = X.astype(np.float32)
    reference = KMeans(n_clusters=12, n_init=6, random_state=seed).fit(X)
    monkeypatch.setattr(builtin, "PROGRESS_PAIRS", 600 * 12)  # 600 x 12 pairs: one start at a time, with progress
    ours = build({"name": "kmeans", "n_clusters": 12, "n_init": 6, "random_state": seed}).fit(X)
    np.testing.assert_array_equal(ours.cluster_centers_, reference.cluster_centers_)
    np.testing.assert_array_equal(ours.labels_, reference.labels_)
    assert shown == [1] * 6
    shown.clear()
    monkeypatch.setattr(builtin, "PROGRESS_PAIRS", 600 * 12 + 1)
    build({"name": "kmeans", "n_clusters": 12, "n_init": 6, "random_state": seed}).fit(X)
    assert shown == []  # below the threshold: no progress


def test_auto_starts_are_ten_until_they_pass_the_pairs_bound_and_three_at_least():
    from textcluster.clusterers.builtin import AUTO_STARTS_PAIRS, auto_starts

    assert auto_starts(5_000, 500) == 10  # the k search's fits: always ten
    assert auto_starts(50_000, 100) == 10  # 50,000,000 pairs: the bound itself
    assert auto_starts(50_000, 101) == 9
    assert auto_starts(50_000, 287) == 3  # the final fit of a million short texts
    assert auto_starts(50_000, 5_000) == 3  # never fewer
    assert auto_starts(AUTO_STARTS_PAIRS // 10, 1) == 10
    assert auto_starts(AUTO_STARTS_PAIRS // 10 + 1, 1) == 9


def test_kmeans_n_init_auto_runs_the_settled_starts_and_says_so(monkeypatch, caplog):
    """auto fits what KMeans(n_init=<its starts>) fits, and logs when it runs fewer than ten; a number is kept."""
    from sklearn.cluster import KMeans

    from textcluster.clusterers import builtin

    X, _ = make_blobs(n_samples=600, centers=12, n_features=6, cluster_std=3.0, random_state=0)
    X = X.astype(np.float32)
    monkeypatch.setattr(builtin, "AUTO_STARTS_PAIRS", 600 * 12 * 4)  # four starts' worth
    with caplog.at_level("INFO", logger="textcluster.clusterers.builtin"):
        ours = build({"name": "kmeans", "n_clusters": 12, "random_state": 0}).fit(X)
    reference = KMeans(n_clusters=12, n_init=4, random_state=0).fit(X)
    np.testing.assert_array_equal(ours.cluster_centers_, reference.cluster_centers_)
    assert "kmeans: 4 starts, not 10 (clusterer.n_init=auto" in caplog.text
    assert "clusterer.n_init=10 runs them all" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="textcluster.clusterers.builtin"):
        explicit = build({"name": "kmeans", "n_clusters": 12, "n_init": 10, "random_state": 0}).fit(X)
    np.testing.assert_array_equal(
        explicit.cluster_centers_, KMeans(n_clusters=12, n_init=10, random_state=0).fit(X).cluster_centers_
    )
    assert "starts, not" not in caplog.text


def test_same_partition_is_a_relabelling():
    from textcluster.clusterers.builtin import same_partition

    assert same_partition(np.array([0, 0, 1, 2]), np.array([5, 5, 3, 4]))
    assert not same_partition(np.array([0, 0, 1, 2]), np.array([5, 6, 3, 4]))
    assert not same_partition(np.array([0, 0, 1, 1]), np.array([5, 5, 5, 3]))


@pytest.mark.parametrize(
    "config", [{"name": "dbscan", "eps": 1.0}, {"name": "hdbscan", "min_cluster_size": 10}], ids=["dbscan", "hdbscan"]
)
def test_density_clusterers_mark_outliers_as_noise(blobs_with_outliers, config):
    X, y = blobs_with_outliers
    model = build(config).fit(X)
    assert np.all(model.labels_[-4:] == NOISE)
    found = set(model.labels_[model.labels_ != NOISE])
    assert len(found) == 3
    for blob in range(3):  # each blob's clustered points share one label
        in_blob = model.labels_[:300][y == blob]
        assert len(set(in_blob[in_blob != NOISE])) == 1
    assert (model.labels_[:300] == NOISE).mean() < 0.1


def test_dbscan_predict_fallback(blobs_with_outliers):
    X, y = blobs_with_outliers
    model = build({"name": "dbscan", "eps": 1.0}).fit(X)
    assert model.predict_method == "nearest_core_sample"

    core = np.flatnonzero([any((point == model.core_points_).all(axis=1)) for point in X])
    assert len(core) > 250
    assert np.array_equal(model.predict(X[core]), model.labels_[core])
    label_of_blob = [
        np.bincount(model.labels_[:300][(y == blob) & (model.labels_[:300] != NOISE)]).argmax() for blob in range(3)
    ]
    new = np.array([[0.1, -0.1], [10.2, 0.3], [30.0, 30.0]])  # at blob 0, at blob 1, far from every core sample
    assert model.predict(new).tolist() == [label_of_blob[0], label_of_blob[1], NOISE]


def test_dbscan_with_no_core_samples_predicts_noise():
    X = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 10.0]])
    model = build({"name": "dbscan", "eps": 0.5, "min_samples": 2}).fit(X)
    assert np.all(model.labels_ == NOISE)
    assert np.all(model.predict(X) == NOISE)


def test_hdbscan_predicts_what_hdbscan_itself_predicts(blobs_with_outliers):
    import hdbscan

    X, _ = blobs_with_outliers
    # the hdbscan backend: the reference is the library's own tree (fast's numbers the clusters its own way)
    model = build({"name": "hdbscan", "min_cluster_size": 10, "backend": "hdbscan"}).fit(X)
    assert model.predict_method == "approximate_predict"
    new = np.vstack([X[::7] + 0.05, FAR_POINTS * 2])
    reference = hdbscan.HDBSCAN(min_cluster_size=10, prediction_data=True).fit(X.astype(np.float64))
    expected_labels, expected_strengths = hdbscan.approximate_predict(reference, new)
    labels, strengths = model.predict_scores(new)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(strengths, expected_strengths)
    assert np.all(model.predict(FAR_POINTS * 2) == NOISE)


def test_hdbscan_on_many_dimensions_builds_its_tree_on_exact_neighbours_without_nn_descent(monkeypatch):
    import fast_hdbscan.nndescent
    from sklearn.metrics import adjusted_rand_score
    from sklearn.neighbors import NearestNeighbors

    def no_nn_descent(*args, **kwargs):
        raise AssertionError("NN-descent searched the neighbours")

    monkeypatch.setattr(fast_hdbscan.nndescent, "build_knn_graph", no_nn_descent)
    X, y = make_blobs(n_samples=600, centers=4, n_features=48, cluster_std=2.0, random_state=0)
    model = build({"name": "hdbscan", "min_cluster_size": 20, "min_samples": 8})
    first, again = model.fit(X).labels_.copy(), model.fit(X).labels_
    assert np.array_equal(first, again)
    clustered = first != NOISE
    assert clustered.mean() > 0.9 and adjusted_rand_score(y[clustered], first[clustered]) > 0.99

    graph = model._exact_neighbour_graph(X)  # each point's 24 nearest besides itself (3 x min_samples), exact
    distances, indices = NearestNeighbors(n_neighbors=25).fit(X).kneighbors(X)
    assert np.all(np.diff(graph.indptr) == 25)
    np.testing.assert_allclose(np.sort(graph.toarray(), axis=1)[:, -24:], distances[:, 1:], rtol=1e-4)


def test_hdbscan_on_many_dimensions_predicts_as_hdbscans_own_kdtree_would():
    import hdbscan

    X, _ = make_blobs(n_samples=600, centers=4, n_features=48, cluster_std=2.0, random_state=0)
    model = build({"name": "hdbscan", "min_cluster_size": 20, "min_samples": 8}).fit(X)
    searched = model.model_.prediction_data_
    assert type(searched).__name__ == "ExactSearchPredictionData"
    model.model_.generate_prediction_data()  # hdbscan's own, on its KDTree
    own = model.model_.prediction_data_
    assert type(own) is hdbscan.prediction.PredictionData
    np.testing.assert_allclose(searched.core_distances, own.core_distances, rtol=1e-5)
    far = make_blobs(n_samples=20, n_features=48, centers=1, center_box=(40, 50), random_state=1)[0]
    new = np.vstack([X[::5] + 0.3, far])
    labels, strengths = hdbscan.approximate_predict(model.model_, new)
    model.model_._prediction_data = searched
    ours_labels, ours_strengths = model.predict_scores(new)
    np.testing.assert_array_equal(ours_labels, labels)
    np.testing.assert_allclose(ours_strengths, strengths, rtol=1e-4, atol=1e-6)
    assert (ours_labels[:-20] != NOISE).mean() > 0.9 and (ours_strengths[-20:] < 0.1).all()


@pytest.mark.parametrize(
    "config",
    [
        {"name": "kmeans", "n_clusters": 3},
        {"name": "gmm", "n_clusters": 3},
        {"name": "dbscan", "eps": 1.0},
        {"name": "hdbscan", "min_cluster_size": 10},
    ],
    ids=["kmeans", "gmm", "dbscan", "hdbscan"],
)
def test_state_saved_as_data_predicts_exactly_as_the_live_model(blobs_with_outliers, tmp_path, config):
    X, _ = blobs_with_outliers
    live = build(config).fit(X)
    files = write_state(tmp_path, "clusterer", live.get_state())
    assert {path.suffix for path in files} <= {".json", ".safetensors"}
    loaded = build(config).set_state(read_state(tmp_path, "clusterer"))
    new = np.random.default_rng(1).uniform(-5, 15, size=(200, 2))
    for points in (X, new):
        live_labels, live_scores = live.predict_scores(points)
        loaded_labels, loaded_scores = loaded.predict_scores(points)
        np.testing.assert_array_equal(loaded_labels, live_labels)
        np.testing.assert_array_equal(loaded_scores, live_scores)


def test_n_clusters_is_checked_against_the_declared_values():
    X = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(UserError, match=r"clusterer\.n_clusters=10 is larger than the number of samples \(5\)"):
        build({"name": "kmeans", "n_clusters": 10}).check_input(len(X))
    with pytest.raises(
        UserError,
        match=r"clusterer\.n_clusters=0 is not valid: it must be an integer >= 1 or one of 'auto', 'labels'",
    ):
        build({"name": "kmeans", "n_clusters": 0})
    with pytest.raises(UserError, match=r"clusterer\.n_clusters=null is not valid"):  # null no longer reads labels
        build({"name": "kmeans", "n_clusters": None})
    with pytest.raises(UserError, match=r"kmeans was fitted with clusterer\.n_clusters='auto'; the pipeline settles"):
        build({"name": "kmeans"}).fit(X)


def test_hdbscan_min_cluster_size_larger_than_samples():
    with pytest.raises(UserError, match=r"clusterer\.min_cluster_size=15 is larger than the number of samples \(5\)"):
        build({"name": "hdbscan", "min_cluster_size": 15}).check_input(5)


def test_hdbscan_auto_min_cluster_size_scales_with_the_corpus():
    auto = build({"name": "hdbscan"})
    assert auto.min_cluster_size == "auto"
    auto.check_input(5)  # auto never asks for more than the data has
    sizes = {n: auto.resolved_min_cluster_size(n) for n in (5, 1_000, 12_340, 1_000_000)}
    assert sizes == {5: 5, 1_000: 15, 12_340: 62, 1_000_000: 5_000}
    assert build({"name": "hdbscan", "min_cluster_size": 40}).resolved_min_cluster_size(1_000_000) == 40


def test_nearest_centroid_fallback():
    class Fixed(NearestCentroidFallback):
        def __init__(self, labels):
            self.labels_ = np.asarray(labels)

    X = np.array([[0.0], [2.0], [10.0], [12.0], [100.0]])
    model = Fixed([4, 4, 9, 9, NOISE])
    model.fit_centroids(X)
    assert model.centroids_.ravel().tolist() == [1.0, 11.0]  # the noise point is no centre
    assert model.predict_scores(np.array([[-5.0], [7.0], [90.0]]))[0].tolist() == [4, 9, 9]

    all_noise = Fixed([NOISE] * 5)
    all_noise.fit_centroids(X)
    assert all_noise.predict_scores(X)[0].tolist() == [NOISE] * 5
