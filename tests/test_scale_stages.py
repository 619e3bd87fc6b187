"""The stages after the encoder at scale: UMAP fitted on a sample, PCA's solvers (incremental on a memory map),
HDBSCAN's backends; each keeps its state as data and predicts after loading as it did live."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score

from conftest import compose_small, log_every_update
from textcluster import neighbours, registry
from textcluster.build import build_pipeline, check_config
from textcluster.clusterers.builtin import HDBSCANClusterer
from textcluster.config import compose, to_plain
from textcluster.errors import UserError
from textcluster.labels import NOISE
from textcluster.noise import MostProbable
from textcluster.reducers import builtin as reducers_builtin
from textcluster.state import read_state, write_state

UMAP_SMALL = {"name": "umap", "n_components": 5, "n_neighbors": 15}


@pytest.fixture(scope="module")
def digits():
    """sklearn's 1,797 digits (64 pixels, 10 classes), float32."""
    data = load_digits()
    return data.data.astype(np.float32), data.target


@pytest.fixture(scope="module")
def sampled_umap(digits):
    """UMAP fitted on 1,000 of the 1,797 digits, and the layout it gives all of them."""
    X, _ = digits
    reducer = registry.reducers.build({**UMAP_SMALL, "fit_size": 1_000}, random_state=0)
    return reducer, reducer.fit_transform(X)


def saved_and_loaded(stage, group, config, folder):
    write_state(folder, group, stage.get_state())
    return registry.ALL[group + "s"].build(config, random_state=0).set_state(read_state(folder, group))


# ------------------------------------------------------------------------------------------ UMAP


def test_umap_fitted_on_a_sample_embeds_every_point_and_keeps_only_the_sample(digits, sampled_umap):
    X, y = digits
    reducer, embedding = sampled_umap
    assert embedding.shape == (len(X), 5) and embedding.dtype == np.float32 and np.isfinite(embedding).all()
    rows = reducer.sample(len(X))
    state = reducer.get_state()
    assert len(rows) == 1_000 and len(state["training_points"]) == 1_000
    np.testing.assert_array_equal(state["training_points"], X[rows])
    np.testing.assert_array_equal(embedding[rows], state["layout"])  # the sample keeps its fitted layout
    # the transformed rest lands among its own digit: the layout's classes stay apart
    kmeans = registry.clusterers.build({"name": "kmeans", "n_clusters": 10}, random_state=0).fit(embedding)
    assert adjusted_rand_score(y, kmeans.labels_) > 0.7


def test_sampled_umap_state_round_trips_with_identical_transform(digits, sampled_umap, tmp_path):
    X, _ = digits
    live, _ = sampled_umap
    loaded = saved_and_loaded(live, "reducer", {**UMAP_SMALL, "fit_size": 1_000}, tmp_path)
    new = X[::9] + np.random.default_rng(0).normal(scale=0.5, size=X[::9].shape).astype(np.float32)
    np.testing.assert_array_equal(loaded.transform(new), live.transform(new))


def test_umap_fit_size_at_or_above_the_corpus_fits_every_point_as_before(digits):
    X, _ = digits
    X = X[:600]
    small = {**UMAP_SMALL, "n_components": 2}
    everything = registry.reducers.build({**small, "fit_size": None}, random_state=0).fit_transform(X)
    above = registry.reducers.build({**small, "fit_size": 1_000}, random_state=0)
    np.testing.assert_array_equal(above.fit_transform(X), everything)
    assert above.sample(len(X)) is None and len(above.get_state()["training_points"]) == len(X)


def test_umap_transform_in_batches_maps_the_training_points_to_their_layout(digits, sampled_umap, monkeypatch):
    X, _ = digits
    reducer, embedding = sampled_umap
    monkeypatch.setattr(reducers_builtin, "UMAP_TRANSFORM_ROWS", 300)  # 1,000 training points: four batches
    rows = reducer.sample(len(X))
    np.testing.assert_array_equal(reducer.transform(X[rows]), embedding[rows])
    assert reducer.transform(X[:700]).shape == (700, 5)


def test_umap_transform_is_the_same_whatever_the_cores_and_batches_in_flight(digits, sampled_umap, monkeypatch):
    """Several batches are searched and laid out at once; every search covers a fixed chunk on one thread and
    every layout runs on one, so the result does not depend on how many run at once."""
    X, _ = digits
    reducer, _ = sampled_umap
    monkeypatch.setattr(reducers_builtin, "UMAP_TRANSFORM_ROWS", 250)  # three batches of the 700 points
    monkeypatch.setattr(neighbours, "SEARCH_ROWS", 100)
    new = X[:700] + np.random.default_rng(1).normal(scale=0.5, size=(700, X.shape[1])).astype(np.float32)
    layouts = []
    for cores, in_flight in [(1, 1), (3, 2), (8, 3)]:
        monkeypatch.setattr(reducers_builtin, "available_cores", lambda cores=cores: cores)
        monkeypatch.setattr(reducers_builtin, "in_flight_batches", lambda cores, n=in_flight: n)
        layouts.append(reducer.transform(new))
    for layout in layouts[1:]:
        np.testing.assert_array_equal(layout, layouts[0])
    assert np.isfinite(layouts[0]).all() and layouts[0].shape == (700, 5)


def test_the_layouts_that_run_side_by_side_are_umap_learns_own(digits, sampled_umap, monkeypatch):
    """The layout epoch is compiled again without the GIL, so that batches lay out at once: the same bits as
    umap-learn's own compile, which holds it."""
    import numba
    from umap import layouts

    X, _ = digits
    reducer, _ = sampled_umap
    ours = layouts._nb_optimize_layout_euclidean_single_epoch
    assert ours.targetoptions.get("nogil") is True  # set when the reducer first built its UMAP
    new = X[:300] + 0.25
    side_by_side = reducer.transform(new)
    umap_learns = numba.njit(layouts._optimize_layout_euclidean_single_epoch, fastmath=True, parallel=False)
    monkeypatch.setattr(layouts, "_nb_optimize_layout_euclidean_single_epoch", umap_learns)
    np.testing.assert_array_equal(reducer.transform(new), side_by_side)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_neighbours_are_scikit_learns_on_any_number_of_cores(metric, monkeypatch):
    from sklearn.neighbors import NearestNeighbors

    X = np.random.default_rng(0).normal(size=(3_000, 20)).astype(np.float32)
    monkeypatch.setattr(neighbours, "SEARCH_ROWS", 700)
    found = []
    for cores in (1, 3):
        monkeypatch.setattr(neighbours, "available_cores", lambda cores=cores: cores)
        found.append(neighbours.exact_neighbours(X, 10, metric))
    np.testing.assert_array_equal(found[0][0], found[1][0])
    distances, indices = NearestNeighbors(n_neighbors=10, metric=metric, algorithm="brute").fit(X).kneighbors(X)
    np.testing.assert_allclose(found[0][1], distances, atol=1e-5)
    assert np.mean(found[0][0] == indices) > 0.999  # the rest: neighbours at distances equal to within rounding


def test_a_umap_fit_takes_exact_neighbours_and_never_searches_itself(digits, monkeypatch):
    """The fit gets faiss' exact neighbours whatever its size (umap-learn: NN-descent from 4,096 points, below
    that every distance with one Python call per pair)."""
    import umap.umap_

    def no_search(*args, **kwargs):
        raise AssertionError("umap-learn searched the neighbours itself")

    searched = []

    def exact(X, k, metric):
        searched.append((len(X), k, metric))
        return exact_neighbours(X, k, metric)

    X, y = digits
    exact_neighbours = neighbours.exact_neighbours
    monkeypatch.setattr(neighbours, "exact_neighbours", exact)
    monkeypatch.setattr(umap.umap_, "nearest_neighbors", no_search)
    embedding = registry.reducers.build({**UMAP_SMALL, "fit_size": None}, random_state=0).fit_transform(X)
    assert searched == [(len(X), 15, "euclidean")]
    kmeans = registry.clusterers.build({"name": "kmeans", "n_clusters": 10}, random_state=0).fit(embedding)
    assert adjusted_rand_score(y, kmeans.labels_) > 0.7


def test_umap_transform_reports_its_progress(digits, sampled_umap, monkeypatch, caplog):
    """At a million points the transform takes minutes: it logs how far it is (here every batch)."""
    X, _ = digits
    reducer, _ = sampled_umap
    monkeypatch.setattr(reducers_builtin, "UMAP_TRANSFORM_ROWS", 250)
    monkeypatch.setattr(reducers_builtin, "track", log_every_update)
    with caplog.at_level("INFO", logger="textcluster.progress"):
        reducer.transform(X[:700] + 0.25)
    lines = [record.getMessage() for record in caplog.records]
    so_far = [line.split(" (")[0] for line in lines[:2]]
    assert so_far == ["umap transform: 250/700 points", "umap transform: 500/700 points"]
    assert lines[2].startswith("umap transform: 700 points in") and len(lines) == 3


def test_a_umap_fit_reports_its_search_and_its_epochs(digits, monkeypatch, caplog):
    """A fit on 50,000 points searches for about 10 s and lays out for most of a minute: both show their progress
    (here at every update). umap-learn's own bar stays what it was outside fit_umap (a transform's layouts)."""
    import inspect

    from umap import layouts

    monkeypatch.setattr(neighbours, "track", log_every_update)
    monkeypatch.setattr(neighbours, "SEARCH_ROWS", 700)
    X, _ = digits
    with caplog.at_level("INFO", logger="textcluster.progress"):
        registry.reducers.build({**UMAP_SMALL, "fit_size": None}, random_state=0).fit_transform(X)
    lines = [record.getMessage() for record in caplog.records]
    searched = [line.split(" (")[0] for line in lines if line.startswith("neighbours")]
    assert searched[:2] == ["neighbours: 700/1,797 points", "neighbours: 1,400/1,797 points"]
    assert searched[-1].startswith("neighbours: 1,797 points in")
    epochs = [line.split(" (")[0] for line in lines if line.startswith("umap layout")]
    assert epochs[:2] == ["umap layout: 1/500 epochs", "umap layout: 2/500 epochs"]  # 500: umap-learn's below 10,000
    assert epochs[-1].startswith("umap layout: 500 epochs in") and len(epochs) == 500
    assert not inspect.isgenerator(layouts.tqdm(range(3), disable=True))  # outside a fit: tqdm itself, hidden
    shown = neighbours._FIT_EPOCHS_SHOWN.set(True)
    try:  # within a fit, a loop without a length (another umap-learn's) keeps tqdm: nothing to count against
        assert list(layouts.tqdm(iter(range(3)), disable=True)) == [0, 1, 2]
        assert not inspect.isgenerator(layouts.tqdm(iter(range(3)), disable=True))
    finally:
        neighbours._FIT_EPOCHS_SHOWN.reset(shown)


def test_umap_fit_size_and_neighbours_are_checked():
    with pytest.raises(UserError, match=r"reducer\.fit_size=10 is not valid: it must be an integer >= 1000 or null"):
        registry.reducers.build({"name": "umap", "fit_size": 10})
    with pytest.raises(UserError, match=r"reducer\.fit_size='all' is not valid"):
        registry.reducers.build({"name": "umap", "fit_size": "all"})
    reducer = registry.reducers.build({"name": "umap", "n_neighbors": 1_500, "fit_size": 1_000})
    with pytest.raises(UserError, match=r"n_neighbors=1500 needs more than 1000 points \(reducer\.fit_size\)"):
        reducer.check_input(5_000)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
def test_exact_neighbours_are_scikit_learns(digits, metric):
    from sklearn.neighbors import NearestNeighbors

    X, _ = digits
    index = neighbours.ExactNeighbours(X[:1_500], metric)
    queries = X[1_500:] + np.random.default_rng(0).normal(scale=0.3, size=X[1_500:].shape).astype(np.float32)
    indices, distances = index.query(queries, 10)
    expected_distances, expected_indices = NearestNeighbors(metric=metric).fit(X[:1_500]).kneighbors(queries, 10)
    assert indices.dtype == np.int32 and distances.dtype == np.float32
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-5)
    assert (indices == expected_indices).mean() > 0.99  # float32 sums may order near-ties differently


@pytest.mark.parametrize("option", ["umap", "umap_text", "umap_n2d"])
def test_umap_presets_inherit_fit_size(option):
    from textcluster.config import compose

    umap = compose(["reducer=umap"]).reducer
    preset = compose([f"reducer={option}"]).reducer
    assert "fit_size" in preset and preset.fit_size == umap.fit_size
    assert compose([f"reducer={option}", "reducer.fit_size=2000"]).reducer.fit_size == 2000


# ------------------------------------------------------------------------------------------ PCA


def pca(solver, n_components=10):
    return registry.reducers.build({"name": "pca", "n_components": n_components, "svd_solver": solver}, random_state=0)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "incremental"])
def test_pca_solvers_find_the_same_subspace(digits, solver, monkeypatch):
    X, _ = digits
    monkeypatch.setattr(reducers_builtin, "BATCH_ROWS", 400)  # incremental: five batches (the last one joins)
    reference = pca("auto").fit_transform(X)
    model = pca(solver)
    reduced = model.fit_transform(X)
    assert reduced.shape == reference.shape and reduced.dtype == np.float32
    # the cosines of the principal angles between the two 10-d subspaces: 1 is the same subspace
    cosines = np.linalg.svd(model.model_.components_ @ _components(X).T, compute_uv=False)
    assert cosines.min() > 0.999
    np.testing.assert_array_equal(pca(solver).set_state(model.get_state()).transform(X), model.transform(X))


def _components(X):
    from sklearn.decomposition import PCA

    return PCA(n_components=10, svd_solver="full").fit(X).components_


def test_incremental_pca_reads_a_memory_map_and_round_trips(digits, tmp_path, monkeypatch):
    X, _ = digits
    monkeypatch.setattr(reducers_builtin, "BATCH_ROWS", 500)
    np.save(tmp_path / "vectors.npy", X)
    mapped = np.load(tmp_path / "vectors.npy", mmap_mode="r")  # read-only, as data=embeddings maps it
    live = pca("incremental")
    reduced = live.fit_transform(mapped)
    assert reduced.shape == (len(X), 10) and live.get_state()["n_samples_"] == len(X)
    config = {"name": "pca", "n_components": 10, "svd_solver": "incremental"}
    loaded = saved_and_loaded(live, "reducer", config, tmp_path)
    np.testing.assert_array_equal(loaded.transform(mapped), reduced)


def test_batches_cover_the_rows_and_keep_a_minimum_size():
    batches = reducers_builtin._batches(1_005, 250, min_size=10)
    assert [(rows.start, rows.stop) for rows in batches] == [(0, 250), (250, 500), (500, 750), (750, 1_005)]
    assert [(rows.start, rows.stop) for rows in reducers_builtin._batches(3, 250)] == [(0, 3)]


def test_pca_solver_is_checked():
    with pytest.raises(UserError, match=r"reducer\.svd_solver='lapack' is not valid: it must be one of 'auto'"):
        registry.reducers.build({"name": "pca", "svd_solver": "lapack"})


# ------------------------------------------------------------------------------------------ HDBSCAN


def hdbscan(backend, **settings):
    config = {"name": "hdbscan", "min_cluster_size": 20, "backend": backend, **settings}
    return registry.clusterers.build(config, random_state=0)


@pytest.fixture(scope="module")
def both_backends(sampled_umap):
    _, embedding = sampled_umap
    return embedding, {backend: hdbscan(backend).fit(embedding) for backend in ("hdbscan", "fast")}


def test_hdbscan_backends_find_the_same_digits(digits, both_backends):
    _, y = digits
    embedding, fitted = both_backends
    reference, fast = fitted["hdbscan"].labels_, fitted["fast"].labels_
    assert adjusted_rand_score(reference, fast) > 0.9
    for labels in (reference, fast):
        # the ten digits, a few split in two where a CPU's float sums give another layout (13 on a Zen 3)
        assert 8 <= len(set(labels) - {NOISE}) <= 15 and (labels == NOISE).mean() < 0.1
        assert adjusted_rand_score(y, labels) > 0.7


def test_fast_backend_predicts_after_loading_as_live(both_backends, tmp_path):
    embedding, fitted = both_backends
    live = fitted["fast"]
    assert type(live.model_).__module__.startswith("hdbscan")  # prediction runs through hdbscan's own code
    loaded = saved_and_loaded(
        live, "clusterer", {"name": "hdbscan", "min_cluster_size": 20, "backend": "fast"}, tmp_path
    )
    new = embedding[::5] + np.random.default_rng(0).normal(scale=0.2, size=embedding[::5].shape)
    for points in (embedding, new):
        live_labels, live_scores = live.predict_scores(points)
        loaded_labels, loaded_scores = loaded.predict_scores(points)
        np.testing.assert_array_equal(loaded_labels, live_labels)
        np.testing.assert_array_equal(loaded_scores, live_scores)
    # approximate_predict agrees with the fitted labels on the clustered points: the label numbering is hdbscan's
    clustered = live.labels_ != NOISE
    assert (live.predict(embedding)[clustered] == live.labels_[clustered]).mean() > 0.95


def test_fast_backend_gives_soft_noise_its_membership_vectors(both_backends):
    embedding, fitted = both_backends
    clusterer = fitted["fast"]
    clusters, vectors = clusterer.soft_membership()
    assert vectors.shape == (len(embedding), len(clusters))
    labels, report = MostProbable().apply(clusterer.labels_, embedding, clusterer)
    assert not (labels == NOISE).any() and report.fraction_after == 0
    kept = clusterer.labels_ != NOISE
    np.testing.assert_array_equal(labels[kept], clusterer.labels_[kept])


def test_fast_backend_takes_every_setting(both_backends):
    embedding, _ = both_backends
    leaf = hdbscan("fast", cluster_selection_method="leaf", min_samples=5, cluster_selection_epsilon=0).fit(embedding)
    assert len(set(leaf.labels_) - {NOISE}) >= 2
    leaf.predict_scores(embedding[:10])


def test_hdbscan_backend_is_checked():
    with pytest.raises(
        UserError, match=r"clusterer\.backend='gpu' is not valid: it must be one of 'auto', 'fast', 'hdb"
    ):
        registry.clusterers.build({"name": "hdbscan", "backend": "gpu"})


def test_hdbscan_defaults_are_the_measured_ones():
    """The exact tree (fast) on a sample: composed config and class agree (reducers-hdbscan-scale.md chose them)."""
    composed = to_plain(compose(["clusterer=hdbscan"]))["clusterer"]
    assert (composed["backend"], composed["fit_size"]) == ("auto", 50_000)
    settings = {name: value for name, value in composed.items() if name != "name"}
    defaults = inspect.signature(HDBSCANClusterer).parameters
    assert settings == {name: defaults[name].default for name in settings}
    assert registry.clusterers.build(composed).resolved_backend() == "fast"


def test_hdbscan_non_euclidean_metric_takes_the_hdbscan_library(both_backends):
    """fast_hdbscan's tree is euclidean only: auto hands another metric to the hdbscan library, an explicit
    backend=fast is refused when the stages are built (before the data loads), and cosine, which hdbscan
    cannot predict with, is refused by the config check."""
    embedding, _ = both_backends
    manhattan = hdbscan("auto", metric="manhattan")
    assert manhattan.resolved_backend() == "hdbscan"
    manhattan.fit(embedding)
    clustered = manhattan.labels_ != NOISE
    assert len(set(manhattan.labels_[clustered])) >= 2
    assert (manhattan.predict(embedding)[clustered] == manhattan.labels_[clustered]).mean() > 0.95
    config = to_plain(compose_small("clusterer=hdbscan", "clusterer.metric=manhattan", "clusterer.backend=fast"))
    with pytest.raises(
        UserError,
        match=r"^clusterer\.backend=fast builds the tree for metric=euclidean only; .*"
        r"set clusterer\.backend=auto \(or hdbscan\)$",
    ):
        build_pipeline(config)
    config = to_plain(compose_small("clusterer=hdbscan", "clusterer.metric=cosine"))
    with pytest.raises(UserError, match=r"^clusterer\.metric='cosine' is not valid: it must be one of 'euclidean'"):
        check_config(config)


@pytest.fixture(scope="module")
def sampled_hdbscan(both_backends):
    embedding, _ = both_backends
    return hdbscan("fast", fit_size=1_000).fit(embedding)


def test_hdbscan_on_a_sample_labels_every_point_and_keeps_only_the_sample(both_backends, sampled_hdbscan):
    embedding, fitted = both_backends
    clusterer = sampled_hdbscan
    rows = clusterer.sample(len(embedding))
    assert len(clusterer.labels_) == len(embedding) == len(clusterer.probabilities_)
    state = clusterer.get_state()
    assert len(state["points"]) == len(state["labels"]) == 1_000
    np.testing.assert_array_equal(state["points"], embedding[rows].astype(np.float64))
    assert adjusted_rand_score(fitted["hdbscan"].labels_, clusterer.labels_) > 0.85  # the same digits
    # the other points are labelled by approximate_predict, as new documents would be
    others = np.setdiff1d(np.arange(len(embedding)), rows)
    np.testing.assert_array_equal(clusterer.labels_[others], clusterer.predict(embedding[others]))


def test_sampled_hdbscan_round_trips_and_feeds_soft_noise(both_backends, sampled_hdbscan, tmp_path):
    embedding, _ = both_backends
    live = sampled_hdbscan
    config = {"name": "hdbscan", "min_cluster_size": 20, "backend": "fast", "fit_size": 1_000}
    loaded = saved_and_loaded(live, "clusterer", config, tmp_path)
    for got, expected in zip(loaded.predict_scores(embedding), live.predict_scores(embedding)):
        np.testing.assert_array_equal(got, expected)
    clusters, vectors = live.soft_membership()
    assert vectors.shape == (len(embedding), len(clusters)) and np.isfinite(vectors).all()
    labels, _ = MostProbable().apply(live.labels_, embedding, live)
    assert not (labels == NOISE).any()


def test_hdbscan_fit_size_is_checked():
    with pytest.raises(UserError, match=r"clusterer\.fit_size=10 is not valid: it must be an integer >= 1000 or null"):
        registry.clusterers.build({"name": "hdbscan", "fit_size": 10})
    clusterer = registry.clusterers.build({"name": "hdbscan", "min_cluster_size": 2_000, "fit_size": 1_000})
    with pytest.raises(UserError, match=r"min_cluster_size=2000 is larger than clusterer\.fit_size \(1000\)"):
        clusterer.check_input(5_000)


def test_hdbscan_predicts_in_batches_what_one_call_predicts(both_backends, monkeypatch):
    import hdbscan as hdbscan_library

    from textcluster.clusterers import builtin as clusterers_builtin

    embedding, fitted = both_backends
    monkeypatch.setattr(clusterers_builtin, "PREDICT_ROWS", 256)  # 1,797 points: eight batches
    labels, strengths = fitted["hdbscan"].predict_scores(embedding)
    expected_labels, expected_strengths = hdbscan_library.approximate_predict(fitted["hdbscan"].model_, embedding)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_array_equal(strengths, expected_strengths)
    assert [len(part) for part in fitted["hdbscan"].predict_scores(embedding[:0])] == [0, 0]


def kmeans(fit_size: int | None):
    return registry.clusterers.build({"name": "kmeans", "n_clusters": 10, "fit_size": fit_size}, random_state=0)


@pytest.fixture(scope="module")
def kmeans_fits(digits):
    """k-means with k = 10 on the 1,797 digits: fitted on every point, and on 1,000 of them (100 per centre)."""
    X, _ = digits
    return kmeans(None).fit(X), kmeans(1_000).fit(X)


def test_kmeans_above_fit_size_fits_a_sample_and_labels_every_point(digits, kmeans_fits, caplog):
    X, _ = digits
    sampled = kmeans_fits[1]
    rows = sampled.sample(len(X))
    assert len(rows) == 1_000 == len(np.unique(rows))
    assert len(sampled.labels_) == len(X)
    # every point, fitted or not, is labelled by its nearest centre: what predict gives a new document
    np.testing.assert_array_equal(sampled.labels_, sampled.predict(X))
    assert set(sampled.get_state()) == {"labels_", "cluster_centers_"}  # the sample is not kept
    with caplog.at_level("INFO", logger="textcluster.clusterers.builtin"):
        kmeans(1_000).fit(X[:1_200])
    assert "kmeans: fitting on 1000 of 1200 points (clusterer.fit_size)" in caplog.text


def test_kmeans_at_or_below_fit_size_fits_every_point_as_before(digits, kmeans_fits):
    X, _ = digits
    everything = kmeans_fits[0]
    assert kmeans(len(X)).sample(len(X)) is None
    np.testing.assert_array_equal(kmeans(len(X)).fit(X).labels_, everything.labels_)


def test_kmeans_on_a_sample_keeps_the_quality_of_the_full_fit(digits, kmeans_fits):
    """Measured on the digits (seeds 0-4, 1,000 of 1,797, k = 10): NMI within 0.011 of the full fit's, the
    k-means objective on all points 0.4-0.7% above it (benchmarks/results/kmeans-scale.md: the text corpora)."""
    from sklearn.metrics import normalized_mutual_info_score

    X, y = digits
    everything, sampled = kmeans_fits
    assert (
        abs(normalized_mutual_info_score(y, sampled.labels_) - normalized_mutual_info_score(y, everything.labels_))
        < 0.02
    )

    def inertia(model):
        return ((X - model.cluster_centers_[model.labels_]) ** 2).sum()

    assert 1.0 <= inertia(sampled) / inertia(everything) < 1.015


def test_kmeans_fit_size_is_checked():
    with pytest.raises(UserError, match=r"^clusterer\.fit_size=10 is not valid: it must be an integer >= 1000 or null"):
        registry.clusterers.build({"name": "kmeans", "fit_size": 10})
    with pytest.raises(UserError, match=r"^clusterer\.fit_size='all' is not valid"):
        registry.clusterers.build({"name": "kmeans", "fit_size": "all"})
    clusterer = registry.clusterers.build({"name": "kmeans", "n_clusters": 2_000, "fit_size": 1_000})
    with pytest.raises(UserError, match=r"n_clusters=2000 is larger than clusterer\.fit_size \(1000\)"):
        clusterer.check_input(5_000)
