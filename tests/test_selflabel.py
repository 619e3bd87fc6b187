"""refiner=selflabel (a CNN on confident pseudo-labels): it repairs wrong labels, starts from DEC, fails early."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import compose_small, read_json, read_status, run_textcluster
from textcluster import Pipeline, registry
from textcluster.contracts import TrainingContext
from textcluster.data import load_dataset
from textcluster.errors import UserError
from textcluster.experiment import run_experiment
from textcluster.refiners.selflabel import confident_rows

CONTEXT = TrainingContext(trainer={"accelerator": "cpu", "enable_progress_bar": False}, seed=0)


def test_confident_rows_are_each_clusters_core():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0]], dtype=np.float32)
    labels = np.repeat([0, 1], 50)
    codes = (centres[labels] + rng.normal(0, 1, (100, 2))).astype(np.float32)
    codes[[3, 60]] = [[5.0, 0.0], [5.1, 0.0]]  # one member of each on the border
    rows = confident_rows(codes, labels, 0.8)
    assert np.bincount(labels[rows]).tolist() == [40, 40]
    assert 3 not in rows and 60 not in rows


def test_a_cnn_on_confident_labels_repairs_wrong_ones(data_file):
    """MNIST slice, 25% of its labels wrong at random: the CNN's labels agree with the truth far more."""
    folder = data_file("mnist", "t10k-images-idx3-ubyte.gz").parent
    dataset = load_dataset({"name": "mnist", "path": str(folder), "limit": 2000}, seed=0)
    rng = np.random.default_rng(0)
    noisy = dataset.labels.copy()
    wrong = rng.random(len(noisy)) < 0.25
    noisy[wrong] = rng.integers(0, 10, wrong.sum())
    pixels = dataset.images.reshape(len(noisy), -1)  # the "codes": confidence is read in pixel space here
    refiner = registry.refiners.build({"name": "selflabel", "max_epochs": 6, "confident_share": 0.6})
    result = refiner.refine(None, dataset, pixels, noisy, CONTEXT)
    before, after = np.mean(noisy == dataset.labels), np.mean(result.labels == dataset.labels)
    assert before < 0.8 and after > before + 0.1
    assert result.embeddings.shape == (2000, 10)
    np.testing.assert_allclose(result.embeddings.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(refiner.predict_scores(refiner.transform(None, dataset))[0], result.labels)


def test_a_run_starting_from_dec_saves_and_predicts_its_labels(tmp_path):
    overrides = ["encoder=dense", "refiner=selflabel_dec_da", "refiner.start.max_epochs=2", "refiner.max_epochs=1"]
    cfg = compose_small(*overrides, "refiner.start.update_interval=4", "trainer.max_epochs=2", limit=300)
    run = run_experiment(cfg, tmp_path)
    assert read_status(tmp_path) == "completed" and read_json(tmp_path / "metrics.json")["refine_s"] > 0
    assert run.pipeline.embeddings_.shape[0] == 300
    loaded = Pipeline.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict(run.dataset), run.pipeline.labels_)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ("data=lines", "data.path=x.txt", "encoder=pretrained", "refiner=selflabel"),
            "refiner=selflabel handles image data, but data=lines gives text data; use another refiner or refiner=none",
        ),
        (
            ("encoder=raw", "refiner=selflabel_dec_da"),
            "refiner=selflabel needs an encoder with a trainable network, and encoder=raw has none; use "
            "refiner=none, or encoder=dense, cnn, rnn, transformer or pretrained",
        ),
        (
            ("refiner=selflabel", "+refiner.start.name=selflabel"),
            "refiner.start.name=selflabel is not valid: self-labelling cannot start from itself",
        ),
    ],
    ids=["text", "frozen-encoder", "itself"],
)
def test_bad_combinations_fail_before_the_data_loads(overrides, message, tmp_path):
    completed = run_textcluster(*overrides, run_dir=tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines()[-1] == f"textcluster: error: {message}"
    assert not (tmp_path / "versions.json").exists()


def test_start_settings_are_checked_by_their_refiner():
    with pytest.raises(UserError, match=r"refiner\.start\.update_interval=0 is not valid"):
        registry.refiners.build({"name": "selflabel", "start": {"name": "dec", "update_interval": 0}})
