"""clusterer.n_clusters=auto: the k search recovers k where the data has it, and runs write its curve."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import normalized_mutual_info_score

from conftest import compose_small, read_json
from textcluster import registry
from textcluster.clusterers.k_selection import KSearch, KSelection, default_k_max, k_grid, levels
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


def test_the_range_grows_with_the_documents_searched_and_the_search_stops_early():
    assert [default_k_max(n) for n in (30, 2_000, 5_000)] == [10, 200, 500]
    assert KSearch().k_range(1_000_000) == (2, 500)  # a tenth of the 5,000-document sample
    assert k_grid(2, 100, 6)[:10] == list(range(2, 12)) and k_grid(2, 100, 6)[-1] == 100
    X, _ = make_blobs(n_samples=3000, centers=4, cluster_std=0.5, center_box=(-30, 30), random_state=0)
    selection = KSearch(patience=4).select(kmeans(), X, seed=0)
    assert selection.chosen == 4 and selection.clear and selection.stopped_early
    assert 4 * 2**4 <= selection.ks[-1] < 4 * 2**4 * 1.2  # four doublings past the level, then no further
    assert selection.sample_size == 3000 and selection.k_range == (2, 300)
    sampled = KSearch(sample_size=500).select(kmeans(), X, seed=0)  # the sample only decides k
    assert sampled.sample_size == 500 and sampled.chosen == 4


def test_levels_are_peaks_that_fall_within_a_factor_of_two_and_a_slow_rise_is_none():
    ks = [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128]
    coarse_then_fine = [0.60, 0.50, 0.45, 0.50, 0.52, 0.55, 0.48, 0.45, 0.44, 0.46, 0.48, 0.50, 0.52]
    found = levels(ks, coarse_then_fine)
    assert {ks[i] for i in found} == {2, 12}  # 128 still rises at the grid's end: no level
    assert found[ks.index(12)] == pytest.approx(0.55 - 0.50)  # the smaller fall within 6 to 24 (left: 0.50)
    assert levels(ks, [0.5 + 0.001 * i for i in range(len(ks))]) == {}


def test_a_peak_whose_window_runs_past_k_max_is_a_level_as_k_min_is():
    """The shape of a million short texts' curve: k_min falls to its right, the curve climbs to a peak just below
    k_max and falls from it; both ends are levels by the side searched, and the finer one is the pick (it was 2
    while the peak's window past k_max made it no level)."""
    ks = [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 500]
    scores = [0.43, 0.38, 0.31, 0.30, 0.28, 0.27, 0.28, 0.29, 0.31, 0.34, 0.37, 0.42, 0.45, 0.48, 0.50, 0.47, 0.45]
    chosen, found, clear = KSearch().pick(ks, scores)
    assert chosen == 256 and clear
    assert found[ks.index(256)] == pytest.approx(0.05) and found[0] == pytest.approx(0.12)
    assert KSearch().pick(ks[:-2], scores[:-2])[0] == 2  # no fall after the last k: no level, k_min stays


def test_k_min_alone_gives_way_to_a_finer_level_nearly_as_clear():
    """The curve of a million short texts (benchmarks/results/scale-default.md, 12:31): k_min = 2 falls by 0.117
    to its right, the peak at 256 by 0.028 (just under the 0.03 threshold). k_min's one-sided level was the pick
    (NMI 0.06); now the best silhouette decides, and 2 stays one override away."""
    ks = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 25, 29, 32, 36, 40, 45]
    ks += [51, 57, 64, 72, 81, 91, 102, 114, 128, 144, 161, 181, 203, 228, 256, 287, 323, 362, 406, 456, 500]
    scores = [0.4261, 0.3822, 0.3096, 0.3045, 0.3098, 0.2871, 0.2838, 0.2766, 0.2709, 0.2694, 0.2872, 0.2633]
    scores += [0.2743, 0.2678, 0.2948, 0.2889, 0.2999, 0.2800, 0.2881, 0.2700, 0.2848, 0.2947, 0.2991, 0.3174]
    scores += [0.3093, 0.3274, 0.3302, 0.3387, 0.3434, 0.3588, 0.3796, 0.3903, 0.3886, 0.4127, 0.4236, 0.4483]
    scores += [0.4536, 0.4589, 0.4703, 0.4773, 0.4753, 0.4782, 0.4818, 0.4742, 0.4719, 0.4707, 0.4566, 0.4442]
    scores += [0.4410]
    chosen, found, clear = KSearch().pick(ks, scores)
    levels_by_k = {ks[i]: prominence for i, prominence in found.items()}
    assert levels_by_k == {2: pytest.approx(0.1165), 256: pytest.approx(0.0282)}
    assert chosen == 256 and not clear
    selection = KSelection(ks, scores, chosen, "", 5000, (2, 500), 0.0, levels_by_k, clear, min_prominence=0.03)
    assert selection.alternatives == [2] and "no clear level above k_min" in selection.describe()
    # a finer level under half the threshold leaves k_min's level the pick, as it was
    chosen, _, clear = KSearch(min_prominence=0.06).pick(ks, scores)
    assert chosen == 2 and clear


def test_a_hierarchy_gets_its_finest_clear_level_and_the_coarse_one_as_an_alternative():
    """Three families of four groups: silhouette is highest at 3, the pick is the 12 groups, 3 one override away."""
    families = np.array([[-60.0, 0.0], [0.0, 60.0], [60.0, 0.0]])
    offsets = np.array([[-6.0, -6.0], [-6.0, 6.0], [6.0, -6.0], [6.0, 6.0]])
    centres = (families[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    X, y = make_blobs(n_samples=2400, centers=centres, cluster_std=1.0, random_state=0)
    selection = KSearch().select(kmeans(), X, seed=0)
    assert selection.ks[int(np.argmax(selection.scores))] == 3
    assert selection.chosen == 12 and selection.clear and 3 in selection.alternatives
    record = selection.as_dict()
    assert record["chosen_k"] == 12 and record["alternatives"] == selection.alternatives
    assert {level["k"] for level in record["levels"]} >= {3, 12}
    assert "finest clear level" in selection.describe() and "other levels: 3" in selection.describe()


def kmeans_with_one_bad_optimum():
    """k-means whose fit at k = 12 with seed 0 lands in a bad local optimum (a quarter of the points elsewhere)."""
    from textcluster.clusterers.builtin import KMeansClusterer

    class OneBadOptimum(KMeansClusterer):
        def fit(self, X):
            super().fit(X)
            if self.n_clusters == 12 and self.random_state == 0:
                rng = np.random.default_rng(0)
                moved = rng.choice(len(X), len(X) // 4, replace=False)
                self.labels_ = np.asarray(self.labels_).copy()
                self.labels_[moved] = rng.integers(0, 12, len(moved))
            return self

    return OneBadOptimum(n_clusters="auto", random_state=0)


def test_with_three_fits_one_bad_local_optimum_no_longer_moves_the_pick():
    """k_search.fits=3 scores each k by the median of three fits: one fit's bad optimum at the true k hid the level
    (one fit per k, the default, picked 13), and the median of the seeds 0, 1, 2 keeps 12."""
    families = np.array([[-60.0, 0.0], [0.0, 60.0], [60.0, 0.0]])
    offsets = np.array([[-6.0, -6.0], [-6.0, 6.0], [6.0, -6.0], [6.0, 6.0]])
    centres = (families[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    X, _ = make_blobs(n_samples=1200, centers=centres, cluster_std=1.0, random_state=0)
    clusterer = kmeans_with_one_bad_optimum()
    # k up to 24 (the levels are 3 and 12): the default range, up to 50, took four times as long
    assert KSearch().fits == 1 and KSearch(k_max=24).select(clusterer, X, seed=0).chosen != 12
    selection = KSearch(fits=3, k_max=24).select(clusterer, X, seed=0)
    assert selection.chosen == 12 and selection.clear
    assert "median of 3 fits" in selection.criterion


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
