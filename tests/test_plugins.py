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
from textcluster.config import compose, entry_point_config_dirs
from textcluster.errors import UnknownPluginError, UserError
from textcluster.experiment import build_evaluators, run_experiment

REPO = Path(__file__).resolve().parent.parent
LOCAL_PLUGINS = REPO / "plugins" / "local_example"
NOT_INSTALLED = ("the example plugin package is not installed; "
                 "run `pip install -e plugins/textcluster-agglomerative` to test it")


@pytest.fixture
def agglomerative_package():
    return pytest.importorskip("textcluster_agglomerative", reason=NOT_INSTALLED)


# --- installed package: clusterer=agglomerative via entry points --------------------------------

def test_agglomerative_runs_by_key_through_compose(agglomerative_package, tmp_path):
    cfg = compose(["clusterer=agglomerative", "encoder=raw", "data.limit=400"])
    assert cfg.clusterer.name == "agglomerative"  # the YAML came from the package's conf/ folder
    assert cfg.clusterer.linkage == "ward"

    result = run_experiment(cfg, tmp_path)

    assert len(np.unique(result.labels)) == 10  # n_clusters=null took k from the 10 digit classes
    assert result.metrics["acc"] > 0.5
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "completed"


def test_agglomerative_parameters_are_overridable(agglomerative_package, tmp_path):
    cfg = compose(["clusterer=agglomerative", "clusterer.linkage=average", "clusterer.metric=cosine",
                   "clusterer.n_clusters=4", "encoder=raw", "data.limit=100", "evaluation.metrics=[cluster_counts]"])
    result = run_experiment(cfg, tmp_path)
    assert result.metrics["n_clusters"] == 4


def test_agglomerative_comes_from_the_entry_point(agglomerative_package):
    declared = {ep.name: ep for ep in entry_points(group="textcluster.clusterers")}
    assert "agglomerative" in declared, "textcluster-agglomerative declares no textcluster.clusterers entry point"

    cls = registry.clusterers.get("agglomerative")

    assert cls is declared["agglomerative"].load()
    assert cls.__module__ == "textcluster_agglomerative.clusterer"
    assert cls.registry_key == "agglomerative"
    assert "agglomerative" in registry.clusterers.keys()

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
        cls(n_clusters=100).fit(X)


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

    result = run_experiment(cfg, tmp_path)

    with open(tmp_path / "assignments.csv", newline="") as handle:
        clusters = [int(row["cluster"]) for row in csv.DictReader(handle)]
    expected = _normalized_entropy_by_hand(clusters)
    assert result.metrics["cluster_balance"] == pytest.approx(expected, rel=1e-9)
    assert json.loads((tmp_path / "metrics.json").read_text())["cluster_balance"] == pytest.approx(expected, rel=1e-9)
    assert 0.0 < expected <= 1.0


def test_cluster_balance_values_and_skip():
    from textcluster.evaluation import SkipEvaluation

    compose([f"plugins_dir={LOCAL_PLUGINS}"])  # imports the folder's modules
    balance = registry.evaluators.build({"name": "cluster_balance"}, random_state=0)
    X = np.zeros((6, 2))
    assert balance(X, np.array([0, 0, 1, 1, 2, 2]), None)["cluster_balance"] == pytest.approx(1.0)
    assert balance(X, np.array([0, 0, 0, 0, 0, 1]), None)["cluster_balance"] < 0.7
    assert balance(X, np.array([0, 1, -1, -1, -1, -1]), None)["cluster_balance"] == pytest.approx(1.0)  # noise ignored
    with pytest.raises(SkipEvaluation, match="at least 2 clusters"):
        balance(X, np.zeros(6, dtype=int), None)


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


def test_unknown_evaluator_key_fails_the_run(tmp_path):
    cfg = compose(["evaluation.metrics=[acc,no_such_metric]", "encoder=raw", "data.limit=50"])
    with pytest.raises(UserError, match=r"known evaluators: .*acc"):
        run_experiment(cfg, tmp_path)
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "failed"
