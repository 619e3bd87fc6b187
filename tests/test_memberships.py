"""Soft memberships (issue 25, item 5): Pipeline.predict_proba / topic_distribution and the run folder's file.

The rule itself on synthetic blobs whose truth is known; the pipeline on a few hundred 20 Newsgroups posts
with TF-IDF features (encoder=raw): the clusterer's own probabilities come through unchanged, the distance
rule agrees with the assignment, merged topics sum their clusters, a saved model gives the same numbers,
and the run folder and textcluster-predict leave the distribution beside the assignments.
"""

from __future__ import annotations

import numpy as np
import pytest

from textcluster.clusterers.memberships import DistanceRule, directional_variance, follow_edits, to_topics

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


def test_edits_merge_columns_and_a_split_hands_its_share_to_the_nearest_part():
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    embeddings = np.array([[0.0, 1.0], [1.0, 0.0]])
    merge = {"edit": "merge", "topics": [0, 2]}
    split = {"edit": "split", "topic": 1, "ids": np.array([1, 5]), "centres": np.array([[1.0, 0.0], [0.0, 1.0]])}
    after, ids = follow_edits(proba, np.array([0, 1, 2]), embeddings, [merge, split, {"edit": "rename"}])
    assert ids.tolist() == [0, 1, 5]
    np.testing.assert_allclose(after, [[0.7, 0.0, 0.3], [0.8, 0.2, 0.0]])
