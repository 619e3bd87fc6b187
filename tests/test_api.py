"""The Python API: ``from textcluster import Pipeline``, from_config, fit, predict, save/load, no Hydra app."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from textcluster.errors import UserError

FRUIT = [
    "apple pear plum orchard fruit juice",
    "banana mango fruit smoothie sweet ripe",
    "cherry apple fruit pie orchard",
]
MONEY = [
    "stock bond market trader money bank",
    "bank loan interest money credit rate",
    "market shares stock price trader",
]
DOCS = [f"{(FRUIT if i % 2 == 0 else MONEY)[i % 3]} note{i % 5}" for i in range(60)]
TRUTH = np.array([i % 2 for i in range(60)])


def test_import_is_cheap_and_pipeline_is_lazy():
    # (importing Pipeline itself imports torch: that part is checked in this process, below)
    code = (
        "import os, sys, textcluster; assert 'torch' not in sys.modules; "
        "assert os.environ['OMP_WAIT_POLICY'] == 'PASSIVE'; assert 'Pipeline' in dir(textcluster); "
        "assert 'textcluster.pipeline' not in sys.modules and 'textcluster.api' not in sys.modules; print('ok')"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    from textcluster import Pipeline
    from textcluster.api import Pipeline as Public
    from textcluster.pipeline import Pipeline as Core

    assert Pipeline is Public and issubclass(Public, Core)  # the core estimator, plus config and folder I/O


def test_from_config_dict_fit_predict_save_load(tmp_path):
    from textcluster import Pipeline

    pipeline = Pipeline.from_config(
        {"encoder": "raw", "clusterer": "kmeans", "clusterer.n_clusters": 2, "evaluation.metrics": ["acc"]}
    )
    assert pipeline.clusterer.n_clusters == 2 and pipeline.cache is not None  # on, as on the command line
    assert pipeline.fit(DOCS, labels=TRUTH) is pipeline
    assert len(pipeline.labels_) == len(DOCS)
    assert pipeline.metrics_["acc"] == 1.0
    assert pipeline.topics_ is not None and len(pipeline.topics_) == 2  # the topic stage ran (text)
    assert (pipeline.predict(DOCS) == pipeline.labels_).all()

    new = ["fresh fruit juice from the orchard", "the bank raised the interest rate on money"]
    fruit_cluster, money_cluster = pipeline.labels_[0], pipeline.labels_[1]
    assert pipeline.predict(new).tolist() == [fruit_cluster, money_cluster]
    details = pipeline.predict_details(new)
    assert details.score_name == "distance" and details.scores.shape == (2,) and (details.scores >= 0).all()

    pipeline.save(tmp_path / "model")
    loaded = Pipeline.load(tmp_path / "model")
    assert loaded.manifest_["stages"]["encoder"]["name"] == "raw" and loaded.manifest_["fit"]["modality"] == "text"
    assert (loaded.predict(DOCS + new) == pipeline.predict(DOCS + new)).all()
    saved = {path.name for path in (tmp_path / "model").iterdir()}
    assert {"manifest.json", "encoder.json", "reducer.json", "clusterer.json", "pipeline.json"} <= saved
    assert {name.rsplit(".", 1)[1] for name in saved} == {"json", "safetensors"}  # data only, no pickle
    assert not hasattr(loaded, "labels_")  # the fit result itself is not saved


def test_from_config_forms_agree():
    from textcluster import Pipeline

    overrides = Pipeline.from_config(["encoder=raw", "clusterer=hdbscan", "clusterer.min_cluster_size=7", "seed=3"])
    nested = Pipeline.from_config(
        {"encoder": "raw", "clusterer": {"name": "hdbscan", "min_cluster_size": 7}, "seed": 3}
    )
    for pipeline in (overrides, nested):
        assert type(pipeline.clusterer).__name__ == "HDBSCANClusterer"
        assert pipeline.clusterer.min_cluster_size == 7 and pipeline.seed == 3
    with pytest.raises(UserError, match="does not exist"):
        Pipeline.from_config({"nonsense.key": 1})
    with pytest.raises(UserError, match="has no parameter"):
        Pipeline.from_config({"clusterer": "kmeans", "clusterer.colour": "blue"})


def test_pipeline_from_plugin_objects_on_images(tmp_path):
    from sklearn.datasets import load_digits

    from textcluster import Pipeline
    from textcluster.clusterers.builtin import KMeansClusterer
    from textcluster.encoders.dense import RawEncoder
    from textcluster.reducers.builtin import PCAReducer

    images = load_digits().images[:300]  # 0-16 floats; scaled to [0, 1] like the loaders do
    stages = dict(encoder=RawEncoder(), clusterer=KMeansClusterer(n_clusters=10), reducer=PCAReducer(n_components=10))
    pipeline = Pipeline(**stages).fit(images)
    assert (pipeline.predict(images) == pipeline.labels_).mean() >= 0.99
    assert pipeline.topics_ is None
    # scikit-learn's rule: the stages given keep their parameters, the fitted ones are the pipeline's
    assert pipeline.clusterer is stages["clusterer"] and pipeline.clusterer.get_params()["n_clusters"] == 10
    assert (
        pipeline.save(tmp_path / "model")
        and Pipeline.load(tmp_path / "model").predict(images).tolist() == pipeline.predict(images).tolist()
    )  # a pipeline built from objects, without a config, saves and loads too
    with pytest.raises(UserError, match="fitted on image data"):
        pipeline.predict(["some text"])
    with pytest.raises(UserError, match="8x8 images"):
        pipeline.predict(np.zeros((2, 28, 28)))
    with pytest.raises(UserError, match="single string"):
        pipeline.predict("one text")


def test_unfitted_cannot_predict_and_a_cache_hit_can(tmp_path):
    from textcluster import Pipeline

    pipeline = Pipeline.from_config({"encoder": "raw", "clusterer.n_clusters": 2})
    with pytest.raises(UserError, match="not fitted"):
        pipeline.predict(DOCS)
    with pytest.raises(UserError, match="not fitted"):
        pipeline.save(tmp_path / "model")
    # a fit whose embeddings come from the cache gets the fitted encoder from it too: it predicts and saves
    config = {"encoder": "raw", "clusterer.n_clusters": 2, "cache": True, "cache_dir": str(tmp_path / "cache")}
    first = Pipeline.from_config(config).fit(DOCS)
    again = Pipeline.from_config(config).fit(DOCS)
    assert again.cache_hit_ is True
    assert (again.predict(DOCS) == first.predict(DOCS)).all()
    assert (Pipeline.load(again.save(tmp_path / "model")).predict(DOCS) == first.labels_).all()


def test_none_for_a_group_means_its_none_option_or_no_stage():
    from textcluster import Pipeline

    pipeline = Pipeline.from_config({"encoder": "raw", "reducer": None, "topics": None, "clusterer.n_clusters": 2})
    assert type(pipeline.reducer).__name__ == "IdentityReducer" and pipeline.topics is None
    assert pipeline.fit(DOCS, labels=TRUTH).topics_ is None
    with pytest.raises(UserError, match="'encoder' cannot be None.*choose one of .*dense.*raw"):
        Pipeline.from_config({"encoder": None})
