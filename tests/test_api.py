"""The Python API: ``from textcluster import Pipeline``, from_config, fit, predict, save/load, no Hydra app."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from textcluster.errors import UserError

FRUIT = ["apple pear plum orchard fruit juice", "banana mango fruit smoothie sweet ripe", "cherry apple fruit pie orchard"]
MONEY = ["stock bond market trader money bank", "bank loan interest money credit rate", "market shares stock price trader"]
DOCS = [f"{(FRUIT if i % 2 == 0 else MONEY)[i % 3]} note{i % 5}" for i in range(60)]
TRUTH = np.array([i % 2 for i in range(60)])


def test_import_is_cheap_and_pipeline_is_lazy():
    # (importing Pipeline itself imports torch: that part is checked in this process, below)
    code = ("import os, sys, textcluster; assert 'torch' not in sys.modules; "
            "assert os.environ['OMP_WAIT_POLICY'] == 'PASSIVE'; assert 'Pipeline' in dir(textcluster); "
            "assert 'textcluster.pipeline' not in sys.modules; print('ok')")
    env = {k: v for k, v in __import__("os").environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    from textcluster import Pipeline
    from textcluster.pipeline import Pipeline as Direct

    assert Pipeline is Direct


def test_from_config_dict_fit_predict_save_load(tmp_path):
    from textcluster import Pipeline

    pipeline = Pipeline.from_config({"encoder": "raw", "clusterer": "kmeans", "clusterer.n_clusters": 2,
                                     "evaluation.metrics": ["acc"]})
    assert pipeline.clusterer.n_clusters == 2 and pipeline.cache is None  # the API leaves the cache off
    assert pipeline.fit(DOCS, labels=TRUTH) is pipeline
    assert len(pipeline.labels_) == len(DOCS)
    assert pipeline.result_.metrics["acc"] == 1.0
    assert pipeline.topics_ is not None and len(pipeline.topics_) == 2  # the topic stage ran (text)
    assert (pipeline.predict(DOCS) == pipeline.labels_).all()

    new = ["fresh fruit juice from the orchard", "the bank raised the interest rate on money"]
    fruit_cluster, money_cluster = pipeline.labels_[0], pipeline.labels_[1]
    assert pipeline.predict(new).tolist() == [fruit_cluster, money_cluster]
    details = pipeline.predict_details(new)
    assert details.score_name == "distance" and details.scores.shape == (2,) and (details.scores >= 0).all()

    pipeline.save(tmp_path / "model")
    loaded = Pipeline.load(tmp_path / "model")
    assert loaded.manifest_["encoder"] == "raw" and loaded.manifest_["modality"] == "text"
    assert (loaded.predict(DOCS + new) == pipeline.predict(DOCS + new)).all()
    with pytest.raises(AttributeError, match="fit"):
        loaded.labels_  # the fit result itself is not saved


def test_from_config_forms_agree():
    from textcluster import Pipeline

    overrides = Pipeline.from_config(["encoder=raw", "clusterer=hdbscan", "clusterer.min_cluster_size=7", "seed=3"])
    nested = Pipeline.from_config({"encoder": "raw", "clusterer": {"name": "hdbscan", "min_cluster_size": 7}, "seed": 3})
    for pipeline in (overrides, nested):
        assert type(pipeline.clusterer).__name__ == "HDBSCANClusterer"
        assert pipeline.clusterer.min_cluster_size == 7 and pipeline.seed == 3
    with pytest.raises(UserError, match="does not exist"):
        Pipeline.from_config({"nonsense.key": 1})
    with pytest.raises(UserError, match="has no parameter"):
        Pipeline.from_config({"clusterer": "kmeans", "clusterer.colour": "blue"})


def test_pipeline_from_plugin_objects_on_images():
    from sklearn.datasets import load_digits

    from textcluster import Pipeline
    from textcluster.clusterers.builtin import KMeansClusterer
    from textcluster.encoders.dense import RawEncoder
    from textcluster.reducers import PCAReducer

    images = load_digits().images[:300]  # 0-16 floats; scaled to [0, 1] like the loaders do
    pipeline = Pipeline(RawEncoder(), KMeansClusterer(n_clusters=10), reducer=PCAReducer(n_components=10)).fit(images)
    assert (pipeline.predict(images) == pipeline.labels_).mean() >= 0.99
    assert pipeline.topics_ is None
    with pytest.raises(UserError, match="fitted on image data"):
        pipeline.predict(["some text"])
    with pytest.raises(UserError, match="8x8 images"):
        pipeline.predict(np.zeros((2, 28, 28)))
    with pytest.raises(UserError, match="single string"):
        pipeline.predict("one text")


def test_unfitted_and_cache_skipped_encoder_cannot_predict(tmp_path):
    from textcluster import Pipeline
    from textcluster.persistence import ModelNotSaved

    pipeline = Pipeline.from_config({"encoder": "raw", "clusterer.n_clusters": 2})
    with pytest.raises(UserError, match="not fitted"):
        pipeline.predict(DOCS)
    with pytest.raises(ModelNotSaved):
        pipeline.save(tmp_path / "model")
    # a run whose embeddings came from the cache never trained its encoder: no model, a clear error
    cached = Pipeline.from_config({"encoder": "raw", "clusterer.n_clusters": 2, "cache": True,
                                   "cache_dir": str(tmp_path / "cache")})
    cached.fit(DOCS)
    again = Pipeline.from_config({"encoder": "raw", "clusterer.n_clusters": 2, "cache": True,
                                  "cache_dir": str(tmp_path / "cache")}).fit(DOCS)
    assert again.result_.cache_hit
    with pytest.raises(UserError, match="cache=false"):
        again.predict(DOCS)
    with pytest.raises(ModelNotSaved, match="cache=false"):
        again.save(tmp_path / "model")


def test_none_for_a_group_means_its_none_option_or_no_stage():
    from textcluster import Pipeline

    pipeline = Pipeline.from_config({"encoder": "raw", "reducer": None, "topics": None, "clusterer.n_clusters": 2})
    assert type(pipeline.reducer).__name__ == "IdentityReducer" and pipeline.topic_model is None
    assert pipeline.fit(DOCS, labels=TRUTH).topics_ is None
    with pytest.raises(UserError, match="'encoder' cannot be None.*choose one of .*dense.*raw"):
        Pipeline.from_config({"encoder": None})
