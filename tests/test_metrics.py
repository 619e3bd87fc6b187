"""Metric functions and evaluator plugins, on cases small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from textcluster import registry
from textcluster.contracts import SkipEvaluation
from textcluster.evaluation import evaluate
from textcluster.evaluation.metrics import clustering_accuracy, purity
from textcluster.results import EvaluationInput


def test_accuracy_ignores_how_clusters_are_numbered():
    truth = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    renamed = np.array([5, 7, 3])[truth]  # class 0 -> cluster 5, 1 -> 7, 2 -> 3
    assert clustering_accuracy(truth, renamed) == 1.0
    assert clustering_accuracy(np.array(["a", "a", "b"]), np.array([1, 1, 0])) == 1.0  # string classes too


def test_accuracy_hand_computed():
    # true [0,0,1,1,2,2], pred [1,1,0,0,0,2]. Contingency (rows = classes 0,1,2; columns = clusters 0,1,2):
    #   class 0: [0, 2, 0]   class 1: [2, 0, 0]   class 2: [1, 0, 1]
    # best one-to-one map: cluster 1->class 0 (2), cluster 0->class 1 (2), cluster 2->class 2 (1) = 5 of 6.
    assert clustering_accuracy([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 2]) == pytest.approx(5 / 6)
    # two clusters for one class: only one of them can be matched, the other's points are errors
    assert clustering_accuracy([0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]) == pytest.approx(4 / 6)
    # more classes than clusters: one class stays unmatched
    assert clustering_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 1, 1]) == pytest.approx(4 / 6)


def test_accuracy_counts_noise_as_errors():
    # treated as a cluster, -1 would be matched to class 2 and the score would be 1.0
    assert clustering_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, -1, -1]) == pytest.approx(4 / 6)
    assert clustering_accuracy([0, 0, 1, 1], [0, -1, 1, 1]) == pytest.approx(3 / 4)
    assert clustering_accuracy([0, 0, 1, 1], [-1, -1, -1, -1]) == 0.0


def test_purity():
    # each cluster's majority class: cluster 0 -> 2 of class 0, cluster 1 -> 2 of class 0, cluster 2 -> 2 of class 1
    assert purity([0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]) == 1.0  # purity rewards splitting (accuracy: 4/6)
    assert purity([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 2]) == pytest.approx(5 / 6)
    assert purity([0, 1, 2, 0, 1, 2], [0, 0, 0, 0, 0, 0]) == pytest.approx(2 / 6)
    assert purity([0, 0, 1, 1], [-1, -1, -1, -1]) == 0.5  # noise is one more cluster here


def _evaluator(key, **params):
    return registry.evaluators.build({"name": key, **params}, random_state=0)


def clustering(X, labels, truth) -> EvaluationInput:
    return EvaluationInput(
        space=np.asarray(X), labels=np.asarray(labels), true_labels=truth, embeddings=np.asarray(X), modality="image"
    )


def score(evaluator, X, labels, truth) -> dict[str, float]:
    evaluator = _evaluator(evaluator) if isinstance(evaluator, str) else evaluator
    return evaluator.evaluate(clustering(X, labels, truth))


def test_external_evaluators_match_their_functions():
    truth, pred = np.array([0, 0, 1, 1, 2, 2]), np.array([1, 1, 0, 0, 0, 2])
    X = np.zeros((6, 2))
    assert score("acc", X, pred, truth) == {"acc": pytest.approx(5 / 6)}
    assert score("purity", X, pred, truth) == {"purity": pytest.approx(5 / 6)}
    assert score("ari", X, truth, truth) == {"ari": 1.0}


@pytest.mark.parametrize("key", ["acc", "nmi", "ari", "ami", "purity", "v_measure"])
def test_external_evaluators_skip_without_labels(key):
    with pytest.raises(SkipEvaluation, match="no true labels"):
        score(key, np.zeros((4, 2)), np.array([0, 0, 1, 1]), None)


@pytest.mark.parametrize("key", ["silhouette", "calinski_harabasz", "davies_bouldin", "dbcv"])
def test_internal_evaluators_skip_for_one_cluster(key):
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(SkipEvaluation, match="needs 2 to n-1 clusters, found 1 among 10 clustered points"):
        score(key, X, np.zeros(10, dtype=int), None)
    with pytest.raises(SkipEvaluation, match="found 1 among 8 clustered points"):  # noise does not count
        score(key, X, np.array([-1, 0, 0, 0, 0, 0, 0, 0, 0, -1]), None)
    with pytest.raises(SkipEvaluation, match="found 10 among 10"):  # every point its own cluster
        score(key, X, np.arange(10), None)


def test_internal_metrics_leave_noise_out():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 0.3, (20, 2)), rng.normal(4, 0.3, (20, 2)), [[2.0, 2.0], [9.0, -9.0]]])
    labels = np.array([0] * 20 + [1] * 20 + [-1, -1])
    expected = silhouette_score(X[:40], labels[:40])
    assert score("silhouette", X, labels, None)["silhouette"] == pytest.approx(expected)
    assert expected != pytest.approx(silhouette_score(X, labels))  # so the noise really would change it


def test_silhouette_samples_large_inputs_reproducibly():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(3, 1, (300, 2))])
    labels = np.repeat([0, 1], 300)
    sampled = registry.evaluators.build({"name": "silhouette", "sample_size": 100}, random_state=4)
    first, second = score(sampled, X, labels, None)["silhouette"], score(sampled, X, labels, None)["silhouette"]
    assert first == second
    assert first == pytest.approx(silhouette_score(X, labels, sample_size=100, random_state=4))
    assert first != silhouette_score(X, labels)  # it did sample


def test_cluster_counts():
    counts = score("cluster_counts", np.zeros((8, 1)), np.array([0, 0, 3, 3, 3, -1, -1, 7]), None)
    assert counts == {"n_clusters": 3.0, "noise_fraction": 0.25}


def test_evaluate_collects_skips_with_reasons():
    evaluators = {key: _evaluator(key) for key in ("acc", "silhouette", "cluster_counts")}
    metrics, skipped = evaluate(evaluators, clustering(np.zeros((4, 2)), np.zeros(4, dtype=int), None))
    assert metrics == {"n_clusters": 1.0, "noise_fraction": 0.0}
    assert set(skipped) == {"acc", "silhouette"}
    assert "no true labels" in skipped["acc"] and "found 1 among 4" in skipped["silhouette"]


def test_dbcv_is_high_for_dense_separated_clusters_and_ignores_single_points():
    from hdbscan.validity import validity_index

    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 0.3, (60, 2)), rng.normal(5, 0.3, (60, 2)), [[9.0, -9.0]]])
    labels = np.array([0] * 60 + [1] * 60 + [2])  # cluster 2 is one point: it counts as noise
    good = score("dbcv", X, labels, None)["dbcv"]
    assert good == pytest.approx(validity_index(X, np.array([0] * 60 + [1] * 60 + [-1])))
    assert good > 0.5
    shuffled = score("dbcv", X, rng.permutation(labels), None)["dbcv"]
    assert shuffled < 0 < good
