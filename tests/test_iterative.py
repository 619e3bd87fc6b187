"""refiner=iterative (iterative classification on pseudo-labels): it repairs noisy labels, predicts its own, checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from conftest import compose_small, read_json, read_status, run_textcluster
from textcluster import Pipeline, registry
from textcluster.contracts import TrainingContext
from textcluster.errors import UserError
from textcluster.experiment import run_experiment

CONTEXT = TrainingContext(seed=0)


def noisy_blobs(share_wrong: float = 0.3, seed: int = 0):
    """Four separable blobs, ``share_wrong`` of their labels replaced by random ones: a clusterer's mistakes."""
    points, truth = make_blobs(3000, centers=4, n_features=10, cluster_std=3.0, random_state=seed)
    rng = np.random.default_rng(seed)
    noisy = truth.copy()
    wrong = rng.random(len(truth)) < share_wrong
    noisy[wrong] = rng.integers(0, 4, wrong.sum())
    return points.astype(np.float32), truth, noisy


def agreement(labels: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(labels == truth))  # the noisy labels keep the true ids, so no matching is needed


def test_agreement_with_the_truth_rises_over_rounds():
    points, truth, noisy = noisy_blobs()
    scores = []
    for rounds in (1, 2, 6):
        refiner = registry.refiners.build({"name": "iterative", "rounds": rounds, "tol": 0.0}, random_state=0)
        scores.append(agreement(refiner.refine(None, None, points, noisy, CONTEXT).labels, truth))
    assert agreement(noisy, truth) < 0.8
    assert scores[0] < scores[1] < scores[2] or scores[2] > 0.98
    assert scores[0] > agreement(noisy, truth) + 0.1
    assert scores[2] > 0.97


def test_rounds_stop_once_labels_settle_and_the_model_predicts_its_labels():
    points, _, noisy = noisy_blobs()
    refiner = registry.refiners.build({"name": "iterative", "rounds": 50, "tol": 0.01}, random_state=0)
    result = refiner.refine(None, None, points, noisy, CONTEXT)
    assert len(refiner.changed_) < 50 and refiner.changed_[-1] < 0.01 <= refiner.changed_[0]
    labels, probability = refiner.predict_scores(points)
    np.testing.assert_array_equal(labels, result.labels)
    assert np.all((probability > 0.25) & (probability <= 1.0))
    np.testing.assert_array_equal(result.embeddings, points)  # the encoder's space, unchanged


def test_noise_points_are_relabelled_and_a_seed_repeats():
    points, truth, noisy = noisy_blobs(share_wrong=0.0)
    noisy[::7] = -1  # a density clusterer's noise
    runs = [
        registry.refiners.build({"name": "iterative", "rounds": 3}, random_state=seed).refine(
            None, None, points, noisy, CONTEXT
        )
        for seed in (0, 0)
    ]
    assert -1 not in runs[0].labels and agreement(runs[0].labels, truth) > 0.98
    np.testing.assert_array_equal(runs[0].labels, runs[1].labels)


def test_two_clusters_work_and_one_is_refused():
    points, truth = make_blobs(400, centers=2, n_features=5, random_state=0)
    refiner = registry.refiners.build({"name": "iterative", "rounds": 2}, random_state=0)
    assert agreement(refiner.refine(None, None, points, truth, CONTEXT).labels, truth) > 0.99
    with pytest.raises(UserError, match="a refiner needs at least 2"):
        refiner.refine(None, None, points, np.zeros(400, dtype=int), CONTEXT)


def test_settings_are_checked():
    with pytest.raises(UserError, match=r"refiner\.train_share=\[0\.9, 0\.5\] is not valid: .* in ascending order"):
        registry.refiners.build({"name": "iterative", "train_share": [0.9, 0.5]})
    with pytest.raises(UserError, match=r"refiner\.outlier_share=1\.0 is not valid"):
        registry.refiners.build({"name": "iterative", "outlier_share": 1.0})
    with pytest.raises(UserError, match=r"refiner\.train_share=\[0\.5\] is not valid"):
        registry.refiners.build({"name": "iterative", "train_share": [0.5]})


def test_a_run_with_a_frozen_encoder_refines_and_reloads(tmp_path):
    """encoder=raw has no network, which iterative classification does not need; the saved model predicts."""
    cfg = compose_small(
        "encoder=raw",
        "reducer=pca",
        "clusterer=kmeans",
        "clusterer.n_clusters=10",
        "refiner=iterative",
        "refiner.rounds=3",
        limit=400,
    )
    run = run_experiment(cfg, tmp_path)
    assert read_status(tmp_path) == "completed"
    assert read_json(tmp_path / "metrics.json")["refine_s"] > 0
    loaded = Pipeline.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict(run.dataset), run.pipeline.labels_)


def test_a_bad_range_fails_before_the_data_loads(tmp_path):
    completed = run_textcluster(
        "refiner=iterative", "refiner.train_share=[0.9,0.2]", "data.limit=200", run_dir=tmp_path
    )
    assert completed.returncode == 2
    assert "refiner.train_share=[0.9, 0.2] is not valid" in completed.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "versions.json").exists()
