"""Soft memberships (issue 25, item 5): Pipeline.predict_proba / topic_distribution and the run folder's file.

The rule itself on synthetic blobs whose truth is known; the pipeline on a few hundred 20 Newsgroups posts
with TF-IDF features (encoder=raw): the clusterer's own probabilities come through unchanged, the distance
rule agrees with the assignment, merged topics sum their clusters, a saved model gives the same numbers,
and the run folder and textcluster-predict leave the distribution beside the assignments.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import compose_small
from textcluster.clusterers.memberships import (
    DistanceRule,
    directional_variance,
    follow_edits,
    squared_distances,
    to_topics,
)

GROUPS = ["sci.space", "rec.sport.hockey", "comp.graphics", "talk.politics.mideast"]


# ------------------------------------------------------------------------------------- the rule


def blobs(variance: float, n_per: int = 400, dims: int = 8, seed: int = 0):
    """Isotropic Gaussian blobs (the rule's own model) with centres 3 apart on the axes."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * np.eye(4, dims)
    points = np.concatenate([c + rng.normal(scale=np.sqrt(variance), size=(n_per, dims)) for c in centres])
    return points, np.repeat(np.arange(4), n_per), centres


def test_directional_variance_recovers_the_variance_of_isotropic_blobs():
    for variance in (0.05, 0.4):
        points, labels, centres = blobs(variance)
        estimate = directional_variance(points, labels, np.arange(4), centres)
        assert estimate == pytest.approx(variance, rel=0.1)


def test_directional_variance_ignores_spread_across_the_lines_between_centres():
    """Spread in directions that tell no two clusters apart (many noisy coordinates, as in TF-IDF) must not
    soften the posterior: the per-coordinate textbook estimate would."""
    points, labels, centres = blobs(0.1, dims=8)
    rng = np.random.default_rng(1)
    wide = np.hstack([points, rng.normal(scale=2.0, size=(len(points), 40))])  # 40 noisy coordinates
    wide_centres = np.hstack([centres, np.zeros((4, 40))])
    assert directional_variance(wide, labels, np.arange(4), wide_centres) == pytest.approx(0.1, rel=0.2)


def test_the_rule_is_the_mixture_posterior_and_ranks_the_nearest_centre_first():
    points, labels, _ = blobs(0.5)
    rule = DistanceRule.fit(points, labels)
    proba = rule.predict_proba(points)
    assert proba.shape == (len(points), 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    nearest = ((points[:, None] - rule.centres[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (proba.argmax(axis=1) == nearest).mean() >= 0.99  # equal priors here: only ties could differ
    # a point halfway between two centres is torn between them, one on a centre is not
    halfway = (rule.centres[0] + rule.centres[1]) / 2
    torn = rule.predict_proba(halfway[None])[0]
    assert torn[0] == pytest.approx(torn[1], rel=1e-6) and torn[:2].sum() > 0.99
    assert rule.predict_proba(rule.centres[2][None])[0, 2] > 0.99
    # calibrated on its own model: the mean top probability matches how often the top cluster is the true one
    test_points, test_labels, _ = blobs(0.5, seed=7)
    test_proba = rule.predict_proba(test_points)
    accuracy = (test_proba.argmax(axis=1) == test_labels).mean()
    assert test_proba.max(axis=1).mean() == pytest.approx(accuracy, abs=0.02)


def test_noise_takes_no_part_and_state_round_trips():
    points, labels, _ = blobs(0.2)
    labels = labels.copy()
    labels[::10] = -1
    rule = DistanceRule.fit(points, labels)
    assert rule.ids.tolist() == [0, 1, 2, 3]
    again = DistanceRule.from_state(rule.get_state())
    np.testing.assert_array_equal(again.predict_proba(points), rule.predict_proba(points))
    assert DistanceRule.from_state(None) is None


def test_merged_topics_sum_their_clusters_and_a_cluster_without_topic_drops_out():
    proba = np.array([[0.5, 0.2, 0.2, 0.1], [0.1, 0.1, 0.1, 0.7]])
    topics = to_topics(np.array([0, 1, 2, 3]), proba, {0: 10, 1: 10, 2: 11}, np.array([10, 11]))
    # cluster 3 is no topic (a mixture component no document fell in): the rest renormalised
    np.testing.assert_allclose(topics, [[0.7 / 0.9, 0.2 / 0.9], [0.2 / 0.3, 0.1 / 0.3]])
    nothing = to_topics(np.array([3]), np.array([[1.0]]), {0: 10}, np.array([10, 11]))
    np.testing.assert_allclose(nothing, [[0.5, 0.5]])


def test_clusters_that_are_the_topics_pass_through_as_a_mapping_onto_themselves_would():
    """The usual case (no merged topic, each cluster its own topic in order) skips the sparse sum: same numbers,
    a nan counts as 0, and a row with nothing left is uniform; no edits leave the columns as they are."""
    proba = np.random.default_rng(0).dirichlet(np.ones(5), size=40)
    proba[3] = [np.nan, 0.5, 0.5, 0.0, 0.0]
    proba[7] = 0.0
    ids = np.array([0, 2, 3, 5, 9])
    direct = to_topics(ids, proba, None, ids)
    np.testing.assert_allclose(direct, to_topics(ids, proba, {int(i): int(i) for i in ids}, ids), atol=1e-15)
    np.testing.assert_allclose(direct[3], [0.0, 0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(direct[7], np.full(5, 0.2))
    unchanged, columns = follow_edits(direct, ids, np.zeros((40, 2)), [])
    assert unchanged is direct and columns.tolist() == ids.tolist()


def test_renumbered_topics_take_their_clusters_columns_and_a_merge_still_sums():
    """Topics numbered by size (the fit's mapping, one cluster each) move columns; merging two sums them."""
    proba = np.random.default_rng(1).dirichlet(np.ones(4), size=30)
    ids = np.array([0, 1, 2, 5])
    renumbered = to_topics(ids, proba, {0: 2, 1: 0, 2: 3, 5: 1}, np.array([0, 1, 2, 3]))
    np.testing.assert_allclose(renumbered, proba[:, [1, 3, 0, 2]], atol=1e-15)
    merged = to_topics(ids, proba, {0: 1, 1: 0, 2: 1, 5: 2}, np.array([0, 1, 2]))
    np.testing.assert_allclose(merged, np.stack([proba[:, 1], proba[:, 0] + proba[:, 2], proba[:, 3]], 1))


def test_edits_merge_columns_and_a_split_hands_its_share_to_the_nearest_part():
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    embeddings = np.array([[0.0, 1.0], [1.0, 0.0]])
    merge = {"edit": "merge", "topics": [0, 2]}
    split = {"edit": "split", "topic": 1, "ids": np.array([1, 5]), "centres": np.array([[1.0, 0.0], [0.0, 1.0]])}
    after, ids = follow_edits(proba, np.array([0, 1, 2]), embeddings, [merge, split, {"edit": "rename"}])
    assert ids.tolist() == [0, 1, 5]
    np.testing.assert_allclose(after, [[0.7, 0.0, 0.3], [0.8, 0.2, 0.0]])


# ------------------------------------------------------------------------------------- the pipeline


@pytest.fixture(scope="module")
def posts(data_file) -> pd.DataFrame:
    """75 posts from each of four 20 Newsgroups test categories, shuffled."""
    frame = pd.read_csv(data_file("20newsgroups", "test.csv"))
    frame = frame[frame.label.isin(GROUPS)].groupby("label").head(75)
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def fitted(posts: pd.DataFrame, **settings):
    from textcluster import Pipeline

    config = {"encoder": "raw", "clusterer": "kmeans", "clusterer.n_clusters": 4, "cache": False, **settings}
    return Pipeline.from_config(config).fit(list(posts.text[:240]))


def test_kmeans_rule_agrees_with_the_assignment(posts):
    pipeline = fitted(posts, topics=None)
    training = pipeline.training_proba()
    assert training.dtype == np.float32 and training.shape == (240, 4)
    assert pipeline.topic_ids_.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(training.sum(axis=1), 1.0, atol=1e-5)
    # without its priors the rule is the nearest centre, which is k-means' own assignment; with them a point
    # near a border may go to the larger cluster (3 of 240 on one CPU, none on another: k-means' sizes differ)
    rule = pipeline.membership_rule_
    assert (rule.ids[squared_distances(pipeline.reduced_, rule.centres).argmin(axis=1)] == pipeline.labels_).all()
    chosen, assigned = training.argmax(axis=1), np.searchsorted(rule.ids, pipeline.labels_)
    moved = chosen != assigned
    assert moved.mean() <= 0.02 and (rule.log_priors[chosen[moved]] > rule.log_priors[assigned[moved]]).all()
    assert 0.5 < training.max(axis=1).mean() < 1.0  # soft: not every post is certain
    new = list(posts.text[240:])
    proba = pipeline.predict_proba(new)
    np.testing.assert_allclose(proba, pipeline.proba_at(pipeline.embed(new), pipeline.transform(new)))
    assert (pipeline.topic_ids_[proba.argmax(axis=1)] == pipeline.predict(new)).mean() >= 0.95
    frame = pipeline.topic_distribution(new)
    assert list(frame.columns) == [0, 1, 2, 3] and frame.columns.name == "topic" and len(frame) == len(new)
    np.testing.assert_array_equal(frame.to_numpy(), proba)


def test_gmm_probabilities_come_through_unchanged(posts):
    pipeline = fitted(posts, topics=None, clusterer="gmm", reducer="pca", **{"reducer.n_components": 5})
    new = list(posts.text[240:])
    own = pipeline.clusterer_.predict_proba(pipeline.transform(new))
    present = np.unique(pipeline.cluster_labels_)
    expected = own[:, present] / own[:, present].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(pipeline.predict_proba(new), expected, rtol=1e-6, atol=1e-12)  # float32 sums
    training = pipeline.training_proba()
    assert (pipeline.topic_ids_[training.argmax(axis=1)] == pipeline.labels_).all()


def test_a_merged_topic_has_the_sum_of_its_clusters(posts):
    pipeline = fitted(posts, **{"clusterer.n_clusters": 6, "topics.n_topics": 3})
    assert len(set(pipeline.topic_mapping_.values())) == 3
    new = list(posts.text[240:])
    points = pipeline.transform(new)
    clusters = pipeline.membership_rule_.predict_proba(points)
    proba = pipeline.predict_proba(new)
    for column, topic in enumerate(pipeline.topic_ids_):
        merged = [
            row for row, c in enumerate(pipeline.membership_rule_.ids) if pipeline.topic_mapping_[int(c)] == topic
        ]
        np.testing.assert_allclose(proba[:, column], clusters[:, merged].sum(axis=1))
    assert (pipeline.topic_ids_[proba.argmax(axis=1)] == pipeline.predict(new)).mean() >= 0.95


def test_a_saved_model_gives_the_same_probabilities(posts, tmp_path):
    from textcluster import Pipeline

    pipeline = fitted(posts)
    pipeline.save(tmp_path / "model")
    loaded = Pipeline.load(tmp_path / "model")
    new = list(posts.text[240:])
    np.testing.assert_array_equal(loaded.predict_proba(new), pipeline.predict_proba(new))
    np.testing.assert_array_equal(loaded.topic_ids_, pipeline.topic_ids_)


# ------------------------------------------------------------------------------------- files


@pytest.fixture(scope="module")
def newsgroups_csv(posts, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ng") / "ng4.csv"
    posts.assign(id=[f"doc{i}" for i in range(len(posts))]).to_csv(path, index=False)
    return path


def test_the_run_folder_and_predict_leave_the_distribution_beside_the_assignments(newsgroups_csv, tmp_path, capsys):
    from textcluster.experiment import run_experiment
    from textcluster.predict import main

    data = ("data=csv", f"data.path={newsgroups_csv}", "data.label_column=label", "data.id_column=id")
    overrides = (
        *data,
        "encoder=raw",
        "reducer=pca",
        "reducer.n_components=5",
        "clusterer=hdbscan",
        "clusterer.min_cluster_size=10",
    )
    result = run_experiment(compose_small(*overrides, "report=false"), tmp_path / "run")
    run_dir, pipeline = result.run_dir, result.pipeline
    distribution = np.load(run_dir / "topic_distribution.npy")
    columns = json.loads((run_dir / "topic_distribution.json").read_text())
    assignments = pd.read_csv(run_dir / "assignments.csv")
    assert distribution.dtype == np.float32 and distribution.shape == (len(assignments), len(pipeline.topic_ids_))
    assert columns["columns"] == pipeline.topic_ids_.tolist() and columns["rows"] == len(assignments)
    assert columns["labels"] == pipeline.topics_.label_of(pipeline.topic_ids_)
    np.testing.assert_allclose(distribution.sum(axis=1), 1.0, atol=1e-5)
    # HDBSCAN's own membership vectors of the fitted points, mapped to topics
    clusters, vectors = pipeline.clusterer_.soft_membership()
    np.testing.assert_allclose(distribution, pipeline._topic_proba(clusters, vectors, pipeline.embeddings_), atol=1e-6)

    main([f"run_dir={run_dir}", *data[:2], "data.id_column=id", f"output={tmp_path / 'new.csv'}"])
    assert "new_topic_distribution.npy" in capsys.readouterr().out
    predicted = np.load(tmp_path / "new_topic_distribution.npy")
    assert predicted.shape == distribution.shape
    assert json.loads((tmp_path / "new_topic_distribution.json").read_text())["columns"] == columns["columns"]
    import hdbscan  # the clusterer's own rule for new points, through the loaded model

    # predict places the documents with the reducer's transform, as new points (PCA's fit_transform rounds
    # differently: rows near a boundary between two clusters moved by 2e-5 on one core)
    placed = pipeline.reducer_.transform(pipeline.embeddings_)
    vectors = hdbscan.membership_vector(pipeline.clusterer_.model_, placed)
    expected = pipeline._topic_proba(clusters, vectors, pipeline.embeddings_)
    np.testing.assert_allclose(predicted, expected, atol=1e-5)


def test_the_distribution_streams_to_disk_in_blocks_and_a_short_stream_leaves_no_file(tmp_path):
    from types import SimpleNamespace

    from textcluster.reporting.run_folder import write_topic_distribution

    pipeline = SimpleNamespace(topic_ids_=np.array([0, 1, 2]), topics_=None)
    blocks = [np.full((4, 3), i, dtype=np.float64) for i in range(3)]  # float64 in, float32 on disk
    write_topic_distribution(tmp_path / "d.npy", iter(blocks), 12, pipeline)
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), np.concatenate(blocks).astype(np.float32))
    assert np.load(tmp_path / "d.npy").dtype == np.float32
    with pytest.raises(RuntimeError, match="8 rows written, 12 expected"):
        write_topic_distribution(tmp_path / "short.npy", iter(blocks[:2]), 12, pipeline)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["d.json", "d.npy"]  # no file, no temporary
