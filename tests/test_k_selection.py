"""clusterer.n_clusters=auto: the k search recovers k where the data has it, and runs write its curve."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import normalized_mutual_info_score

from conftest import compose_small, read_json
from textcluster import registry
from textcluster.clusterers.k_selection import KSearch, default_k_max
from textcluster.errors import UserError


def kmeans(**params):
    return registry.clusterers.build({"name": "kmeans", **params}, random_state=0)


@pytest.mark.parametrize("true_k", [3, 7, 12])
def test_the_search_recovers_k_on_well_separated_blobs(true_k):
    X, y = make_blobs(n_samples=1500, centers=true_k, cluster_std=0.6, center_box=(-40, 40), random_state=true_k)
    selection = KSearch().select(kmeans(), X, seed=0)
    assert selection.chosen == true_k
    assert selection.ks[0] == 2 and selection.scores[selection.ks.index(true_k)] == pytest.approx(max(selection.scores))


def test_gmm_takes_auto_too():
    X, _ = make_blobs(n_samples=800, centers=5, cluster_std=0.5, center_box=(-30, 30), random_state=1)
    gmm = registry.clusterers.build({"name": "gmm"}, random_state=0)
    assert KSearch().select(gmm, X, seed=0).chosen == 5


def test_the_range_grows_with_the_corpus_and_the_search_stops_early():
    assert [default_k_max(n) for n in (30, 2_000, 12_340, 20_000, 1_000_000)] == [10, 20, 50, 63, 100]
    X, _ = make_blobs(n_samples=3000, centers=4, cluster_std=0.5, center_box=(-30, 30), random_state=0)
    selection = KSearch(patience=5).select(kmeans(), X, seed=0)
    assert selection.chosen == 4 and selection.ks[-1] == 4 + 5 and selection.stopped_early  # 5 past the best
    assert selection.sample_size == 3000 and selection.k_range == (2, 24)
    sampled = KSearch(sample_size=500).select(kmeans(), X, seed=0)  # the sample only decides k
    assert sampled.sample_size == 500 and sampled.chosen == 4


def test_the_pick_is_the_largest_k_within_the_tolerance_of_the_best():
    X, _ = make_blobs(n_samples=1200, centers=6, cluster_std=2.5, center_box=(-20, 20), random_state=3)
    selection = KSearch(tolerance=0.2, patience=20).select(kmeans(), X, seed=0)
    best = max(selection.scores)
    within = [k for k, score in zip(selection.ks, selection.scores) if score >= best * 0.8]
    assert selection.chosen == max(within) and len(within) > 1
    assert (
        KSearch(tolerance=0.0, patience=20).select(kmeans(), X, seed=0).chosen
        == selection.ks[int(np.argmax(selection.scores))]
    )


def test_too_few_documents_for_a_search_is_one_line():
    with pytest.raises(UserError, match=r"n_clusters=auto needs at least 3 documents"):
        KSearch().select(kmeans(), np.zeros((2, 3)), seed=0)


def test_the_search_finds_the_topics_of_a_real_slice(data_file, tmp_path):
    """StackOverflow titles of 4 tags through the text recipe (no encoder named): k near 4 and the tags found."""
    texts = data_file("stackoverflow", "StackOverflow.txt").read_text(encoding="utf-8").splitlines()
    tags = np.array(data_file("stackoverflow", "StackOverflow_gnd.txt").read_text().split(), dtype=int)
    keep = np.flatnonzero(np.isin(tags, [1, 2, 3, 4]))[::4][:800]
    path = tmp_path / "titles.csv"
    import pandas as pd

    pd.DataFrame({"text": [texts[i] for i in keep], "label": tags[keep]}).to_csv(path, index=False)
    from textcluster.experiment import run_experiment

    run = run_experiment(
        compose_small("data=csv", f"data.path={path}", "data.label_column=label"),
        tmp_path / "run",
    )
    selection = read_json(tmp_path / "run" / "k_selection.json")
    assert run.pipeline.encoder_.key() == "hybrid" and 3 <= selection["chosen_k"] <= 6
    assert normalized_mutual_info_score(tags[keep], run.pipeline.labels_) > 0.7
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'id="k_selection"' in html and f"chosen k = {selection['chosen_k']}" in html
