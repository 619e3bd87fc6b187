"""The two example plugins in plugins/: an installed entry-point package and a local plugin folder."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest

from textcluster import registry
from textcluster.build import build_evaluators
from textcluster.config import compose, entry_point_config_dirs
from textcluster.errors import UnknownPluginError, UserError
from textcluster.experiment import run_experiment
from textcluster.results import EvaluationInput

REPO = Path(__file__).resolve().parent.parent
LOCAL_PLUGINS = REPO / "plugins" / "local_example"
NOT_INSTALLED = (
    "the example plugin package is not installed; run `pip install -e plugins/textcluster-agglomerative` to test it"
)


@pytest.fixture
def agglomerative_package():
    return pytest.importorskip("textcluster_agglomerative", reason=NOT_INSTALLED)


# --- installed package: clusterer=agglomerative via entry points --------------------------------


def test_agglomerative_runs_by_key_through_compose(agglomerative_package, tmp_path):
    cfg = compose(["clusterer=agglomerative", "encoder=raw", "data.limit=400"])
    assert cfg.clusterer.name == "agglomerative"  # the YAML came from the package's conf/ folder
    assert cfg.clusterer.linkage == "ward"

    pipeline = run_experiment(cfg, tmp_path).pipeline

    # n_clusters=auto: the k search fits copies of the plugin on a sample and lands near the 10 digits
    chosen = pipeline.k_selection_.chosen
    assert chosen == len(np.unique(pipeline.labels_))
    assert 8 <= chosen <= 12
    assert pipeline.metrics_["acc"] > 0.5
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "completed"
    # its fitted state is arrays: the run saved a model that predicts exactly as the live one
    from textcluster import Pipeline
    from textcluster.build import load_data

    loaded = Pipeline.load(tmp_path)
    assert loaded.manifest_["stages"]["clusterer"] == {
        "name": "agglomerative",
        "n_clusters": chosen,
        "linkage": "ward",
        "metric": "euclidean",
    }
    dataset = load_data(loaded.config)
    np.testing.assert_array_equal(loaded.predict(dataset), pipeline.predict(dataset))


def test_agglomerative_parameters_are_overridable(agglomerative_package, tmp_path):
    cfg = compose(
        [
            "clusterer=agglomerative",
            "clusterer.linkage=average",
            "clusterer.metric=cosine",
            "clusterer.n_clusters=4",
            "encoder=raw",
            "data.limit=100",
            "evaluation.metrics=[cluster_counts]",
        ]
    )
    assert run_experiment(cfg, tmp_path).pipeline.metrics_["n_clusters"] == 4


def test_agglomerative_comes_from_the_entry_point(agglomerative_package):
    declared = {ep.name: ep for ep in entry_points(group="textcluster.clusterers")}
    assert "agglomerative" in declared, "textcluster-agglomerative declares no textcluster.clusterers entry point"

    cls = registry.clusterers.get("agglomerative")

    assert cls is declared["agglomerative"].load()
    assert cls.__module__ == "textcluster_agglomerative.clusterer"
    assert cls.registry_key == "agglomerative"
    assert "agglomerative" in registry.clusterers

    config_folders = entry_point_config_dirs()
    assert any((folder / "clusterer" / "agglomerative.yaml").is_file() for folder in config_folders)


def test_agglomerative_contract(agglomerative_package):
    from textcluster.clusterers import Clusterer

    cls = registry.clusterers.get("agglomerative")
    assert issubclass(cls, Clusterer)
    assert cls.predict_method == "nearest_centroid"  # declared fallback: no native out-of-sample rule

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    model = registry.clusterers.build({"name": "agglomerative", "n_clusters": 2}, random_state=0).fit(X)
    assert len(np.unique(model.labels_)) == 2
    predicted = model.predict(np.array([[0.0, 0.0], [5.0, 5.0]]))
    assert predicted[0] == model.labels_[0] and predicted[1] == model.labels_[-1]

    with pytest.raises(UserError, match="n_clusters"):
        cls().fit(X)  # n_clusters=None and no labels to take it from
    with pytest.raises(UserError, match="larger than the number of samples"):
        cls(n_clusters=100).check_input(len(X))


# --- local plugin folder: plugins_dir=plugins/local_example ------------------------------------


def _normalized_entropy_by_hand(clusters: list[int]) -> float:
    sizes = Counter(c for c in clusters if c != -1).values()
    total = sum(sizes)
    entropy = -sum(size / total * math.log(size / total) for size in sizes)
    return entropy / math.log(len(sizes))


def test_local_plugin_folder_adds_cluster_balance(tmp_path):
    cfg = compose([f"plugins_dir={LOCAL_PLUGINS}", "evaluation=with_balance", "encoder=raw", "data.limit=300"])
    assert "cluster_balance" in cfg.evaluation.metrics  # evaluation/with_balance.yaml found in the folder
    assert "acc" in cfg.evaluation.metrics  # ...and it keeps the default metrics

    pipeline = run_experiment(cfg, tmp_path).pipeline

    with open(tmp_path / "assignments.csv", newline="") as handle:
        clusters = [int(row["cluster"]) for row in csv.DictReader(handle)]
    expected = _normalized_entropy_by_hand(clusters)
    assert pipeline.metrics_["cluster_balance"] == pytest.approx(expected, rel=1e-9)
    assert json.loads((tmp_path / "metrics.json").read_text())["cluster_balance"] == pytest.approx(expected, rel=1e-9)
    assert 0.0 < expected <= 1.0


def test_cluster_balance_values_and_skip():
    from textcluster.contracts import SkipEvaluation

    compose([f"plugins_dir={LOCAL_PLUGINS}"])  # imports the folder's modules
    balance = registry.evaluators.build({"name": "cluster_balance"}, random_state=0)

    def score(labels):
        X = np.zeros((6, 2))
        return balance.evaluate(EvaluationInput(X, np.array(labels), None, X, "image"))["cluster_balance"]

    assert score([0, 0, 1, 1, 2, 2]) == pytest.approx(1.0)
    assert score([0, 0, 0, 0, 0, 1]) < 0.7
    assert score([0, 1, -1, -1, -1, -1]) == pytest.approx(1.0)  # noise ignored
    with pytest.raises(SkipEvaluation, match="at least 2 clusters"):
        score([0] * 6)


def test_missing_plugins_dir_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="is not a folder"):
        compose([f"plugins_dir={tmp_path / 'nowhere'}"])


# --- unknown keys --------------------------------------------------------------------------------


def test_unknown_evaluator_key_lists_known_keys():
    cfg = compose(["evaluation.metrics=[acc,no_such_metric]"])
    with pytest.raises(UserError) as raised:
        build_evaluators(dict(cfg.evaluation), seed=0)

    assert isinstance(raised.value, UnknownPluginError)
    message = str(raised.value)
    assert "unknown evaluator 'no_such_metric'" in message
    for known in ("acc", "nmi", "silhouette", "cluster_counts"):
        assert known in message


def test_unknown_evaluator_key_fails_the_run_before_any_work(tmp_path):
    cfg = compose(["evaluation.metrics=[acc,no_such_metric]", "encoder=raw", "data.limit=50"])
    with pytest.raises(
        UserError, match=r"evaluation\.metrics: unknown evaluator 'no_such_metric'; known evaluators: .*acc"
    ):
        run_experiment(cfg, tmp_path)
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "failed"
    assert not (tmp_path / "versions.json").exists()  # it stopped before the data loaded
