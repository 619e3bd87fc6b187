"""Spectral clustering and Leiden communities: right clusters, the seed, new points, state as data, bad values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import normalized_mutual_info_score

from conftest import compose_small
from textcluster import registry
from textcluster.build import build_pipeline, load_data
from textcluster.clusterers.graph import neighbourhood_graph
from textcluster.config import to_plain
from textcluster.errors import UserError
from textcluster.state import read_state, write_state


def build(config):
    return registry.clusterers.build(config, random_state=0)


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=600, centers=5, n_features=8, cluster_std=1.0, random_state=0)


@pytest.mark.parametrize(
    "config", [{"name": "spectral", "n_clusters": 5}, {"name": "leiden"}], ids=["spectral", "leiden"]
)
def test_separated_blobs_are_found_and_new_points_join_them(blobs, config, tmp_path):
    X, y = blobs
    model = build(config).fit(X)
    assert len(set(model.labels_)) == 5  # leiden: the number comes from the graph alone
    assert normalized_mutual_info_score(y, model.labels_) > 0.99
    assert model.predict_method == "nearest_centroid"
    assert np.array_equal(model.predict(X), model.labels_)
    files = write_state(tmp_path, "clusterer", model.get_state())
    assert {path.suffix for path in files} <= {".json", ".safetensors"}
    restored = build(config).set_state(read_state(tmp_path, "clusterer"))
    shifted = X + np.random.default_rng(1).normal(0, 0.3, X.shape)
    assert np.array_equal(restored.predict(shifted), model.predict(shifted))


def test_leidens_graph_links_the_exact_neighbours_without_nn_descent(blobs, monkeypatch):
    """Up to neighbours.EXACT_SEARCH_MAX points the graph is built on faiss' exact neighbours, without
    umap-learn's NN-descent (approximate, and about 20 s of compiling in every process); above, NN-descent."""
    import umap.umap_

    from textcluster import neighbours
    from textcluster.clusterers.graph import neighbourhood_graph

    X, _ = blobs
    indices, distances = neighbours.exact_neighbours(X, 15, "euclidean")
    searched = []

    def nn_descent(X, k, *args, **kwargs):  # stands in for umap-learn's search, and counts its calls
        searched.append(len(X))
        return indices, distances, None

    monkeypatch.setattr(umap.umap_, "nearest_neighbors", nn_descent)
    graph = neighbourhood_graph(X, 15, "euclidean", 0)
    assert searched == []
    linked = graph.tocsr()
    assert all(set(indices[i]) - {i} <= set(linked[i].indices) for i in range(len(X)))  # each point's 14 others
    monkeypatch.setattr("textcluster.clusterers.graph.EXACT_SEARCH_MAX", len(X) - 1)  # too many: NN-descent
    assert (neighbourhood_graph(X, 15, "euclidean", 0) != graph).nnz == 0 and searched == [len(X)]


def test_spectral_follows_the_graph_where_kmeans_cuts_straight():
    X, y = make_moons(n_samples=400, noise=0.05, random_state=0)
    spectral = build({"name": "spectral", "n_clusters": 2}).fit(X)
    kmeans = build({"name": "kmeans", "n_clusters": 2}).fit(X)
    assert normalized_mutual_info_score(y, spectral.labels_) > 0.95
    assert normalized_mutual_info_score(y, kmeans.labels_) < 0.5


def test_leiden_resolution_sets_the_grain_and_the_seed_repeats_it(blobs):
    X, _ = blobs
    coarse = build({"name": "leiden", "resolution": 1.0}).fit(X).labels_
    fine = build({"name": "leiden", "resolution": 8.0}).fit(X).labels_
    assert len(set(fine)) > 2 * len(set(coarse))
    assert np.array_equal(fine, build({"name": "leiden", "resolution": 8.0}).fit(X).labels_)


def test_leiden_searches_the_resolution_for_a_number_of_clusters():
    X, _ = make_blobs(n_samples=800, centers=8, n_features=8, cluster_std=1.5, center_box=(-4, 4), random_state=2)
    free = build({"name": "leiden"}).fit(X)
    for k in (3, 8, 12):
        model = build({"name": "leiden", "n_clusters": k}).fit(X)
        assert len(set(model.labels_)) == k
        assert (model.resolution_ < free.resolution_) == (k < len(set(free.labels_)))
    apart, _ = make_blobs(n_samples=800, centers=8, n_features=8, cluster_std=1.5, random_state=2)
    pieces = connected_components(neighbourhood_graph(apart, 15, "euclidean", 0), directed=False)[0]
    assert pieces > 3  # blobs far apart: a graph in pieces, and no resolution joins two pieces
    assert len(set(build({"name": "leiden", "n_clusters": 3}).fit(apart).labels_)) == pieces  # the closest
    with pytest.raises(UserError, match="settles auto and labels into a number"):
        build({"name": "leiden", "n_clusters": "labels"}).fit(X)  # only a Pipeline knows the classes


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"name": "leiden", "resolution": 0}, "clusterer.resolution=0 is not valid"),
        ({"name": "leiden", "metric": "manhattan"}, "clusterer.metric='manhattan' is not valid"),
        ({"name": "spectral", "assign_labels": "qr"}, "clusterer.assign_labels='qr' is not valid"),
        ({"name": "spectral", "n_neighbors": 1}, "clusterer.n_neighbors=1 is not valid"),
    ],
)
def test_bad_values_are_named(config, fragment):
    with pytest.raises(UserError, match=fragment.replace("[", r"\[")):
        build(config).check_params()


@pytest.mark.parametrize("key", ["spectral", "leiden"])
def test_more_neighbours_than_samples_is_refused_before_fitting(key):
    with pytest.raises(UserError, match="clusterer.n_neighbors=15 needs more than that many samples, got 10"):
        build({"name": key, "n_clusters": 2} if key == "spectral" else {"name": key}).check_input(10)


@pytest.mark.parametrize(
    "overrides",
    [
        ("clusterer=spectral", "clusterer.n_clusters=labels"),
        ("clusterer=leiden",),
        ("clusterer=leiden", "clusterer.n_clusters=labels"),
    ],
    ids=str,
)
def test_each_composes_and_runs_on_real_snippets(overrides, data_file):
    """The conf files compose into a pipeline that clusters a slice of SearchSnippets better than chance."""
    path = data_file("searchsnippets", "SearchSnippets.txt")
    labels = data_file("searchsnippets", "SearchSnippets_gnd.txt")
    data = ("data=lines", f"data.path={path}", f"data.labels_path={labels}")
    config = to_plain(compose_small(*data, "encoder=raw", "reducer=pca", *overrides, limit=600))
    pipeline = build_pipeline(config)
    pipeline.fit(load_data(config))
    assert pipeline.metrics_["nmi"] > 0.1  # TF-IDF of 600 snippets: weak, but far from the ~0.01 of chance
    assert pipeline.metrics_["n_clusters"] >= 2
    if "clusterer.n_clusters=labels" in overrides:
        assert pipeline.metrics_["n_clusters"] == 8  # SearchSnippets' domains
