"""The embedding cache: hits skip the encoder and restore it fitted, keys follow what decides the embeddings,
entries are whole or absent."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from conftest import compose_small, read_status
from textcluster.build import build_cache, build_pipeline, load_data
from textcluster.cache import EmbeddingCache, dataset_fingerprint, embedding_key_parts, hash_parts
from textcluster.clusterers.builtin import KMeansClusterer
from textcluster.config import to_plain
from textcluster.contracts import TrainingContext
from textcluster.dataset import Dataset
from textcluster.encoders.dense import RawEncoder
from textcluster.errors import StorageError, UserError
from textcluster.experiment import run_experiment
from textcluster.pipeline import Pipeline

TINY = Dataset(name="tiny", texts=["apple pear fruit", "stock bond money", "pear apple juice", "money bank stock"])


def cached(tmp_path: Path, *overrides: str, limit: int = 300):
    """A small digits run (raw pixels: no training) with the cache on, in ``tmp_path/cache``; no report (these
    tests read the cache and the results, and the plots cost a second or two per run)."""
    settings = ("encoder=raw", "cache=true", f"cache_dir={tmp_path / 'cache'}", "report=false")
    return compose_small(*settings, *overrides, limit=limit)


def entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.npy")) if cache_dir.exists() else []


def test_second_run_hits_the_cache_skips_the_encoder_and_still_saves_a_model(tmp_path, caplog, monkeypatch):
    from textcluster import Pipeline as PublicPipeline

    with caplog.at_level(logging.INFO, logger="textcluster.cache"):
        first = run_experiment(cached(tmp_path), tmp_path / "first")
    (entry,) = entries(tmp_path / "cache")
    assert first.pipeline.cache_hit_ is False
    assert f"embedding cache miss (key {entry.stem[:12]}): encoded, stored at {entry}" in caplog.text

    caplog.clear()
    monkeypatch.setattr(RawEncoder, "fit", lambda *a, **k: pytest.fail("the encoder was fitted on a cache hit"))
    with caplog.at_level(logging.INFO, logger="textcluster.cache"):
        # only the clusterer changes: the embeddings are the same
        second = run_experiment(cached(tmp_path, "clusterer.n_init=3"), tmp_path / "second")
    assert second.pipeline.cache_hit_ is True
    assert f"embedding cache hit: {entry} (skipping encoder)" in caplog.text
    np.testing.assert_array_equal(second.pipeline.embeddings_, first.pipeline.embeddings_)
    np.testing.assert_array_equal(np.load(tmp_path / "second" / "embeddings.npy"), first.pipeline.embeddings_)
    assert 0.0 < second.pipeline.metrics_["acc"] <= 1.0

    # the hit restored the fitted encoder: the run saved a model that predicts like the first run's
    monkeypatch.undo()
    loaded = PublicPipeline.load(tmp_path / "second")
    np.testing.assert_array_equal(loaded.predict(first.dataset), second.pipeline.labels_)
    np.testing.assert_array_equal(loaded.embed(first.dataset), first.pipeline.embed(first.dataset))


def test_cache_false_never_writes(tmp_path):
    run = run_experiment(cached(tmp_path, "cache=false"), tmp_path / "run")
    assert run.pipeline.cache_hit_ is None
    assert not (tmp_path / "cache").exists()


def test_python_api_pipeline_with_and_without_a_cache(tmp_path):
    def make(cache=None):
        return Pipeline(
            RawEncoder(features={"min_df": 1, "stop_words": None}), KMeansClusterer(2, n_init=3), cache=cache
        )

    assert make().fit(TINY).cache_hit_ is None and make().fit(TINY).embeddings_.shape[0] == 4
    assert make(EmbeddingCache(tmp_path)).fit(TINY).cache_hit_ is False
    assert make(EmbeddingCache(tmp_path)).fit(TINY).cache_hit_ is True


def key_of(cfg) -> str:
    config = to_plain(cfg)
    pipeline = build_pipeline(config)
    return hash_parts(embedding_key_parts(load_data(config), pipeline.encoder, pipeline.training))


def test_key_follows_data_encoder_trainer_and_seed(tmp_path):
    base = key_of(cached(tmp_path))
    assert key_of(cached(tmp_path)) == base  # stable
    assert key_of(cached(tmp_path, "clusterer.n_init=3", "reducer=pca", "evaluation.metrics=[acc]")) == base
    assert key_of(cached(tmp_path, "trainer.enable_progress_bar=true")) == base  # cosmetic only
    changed = {
        "encoder config": key_of(cached(tmp_path, "encoder.features.max_features=500")),
        "encoder": key_of(cached(tmp_path, "encoder=dense")),
        "trainer": key_of(cached(tmp_path, "trainer.max_epochs=2")),
        "seed": key_of(cached(tmp_path, "seed=1")),
        "data.limit": key_of(cached(tmp_path, limit=301)),
    }
    for what, key in changed.items():
        assert key != base, what
    assert len(set(changed.values())) == len(changed)


def test_fingerprint_reads_texts_images_and_ids():
    texts = Dataset(name="a", texts=["x y", "z"])
    assert dataset_fingerprint(texts) == dataset_fingerprint(Dataset(name="renamed", texts=["x y", "z"], labels=[1, 2]))
    assert dataset_fingerprint(texts) != dataset_fingerprint(Dataset(name="a", texts=["x", "y z"]))
    assert dataset_fingerprint(texts) != dataset_fingerprint(
        Dataset(name="a", texts=["x y", "z"], ids=np.array([5, 6]))
    )
    images = np.zeros((2, 3, 3), dtype=np.float32)
    changed = images.copy()
    changed[1, 2, 2] = 0.5
    assert dataset_fingerprint(Dataset(name="i", images=images)) != dataset_fingerprint(
        Dataset(name="i", images=changed)
    )


def test_key_follows_the_encoder_code(tmp_path, monkeypatch):
    from textcluster import cache as cache_module

    class Elsewhere(RawEncoder):  # defined in this test file: its module joins the fingerprint
        pass

    assert cache_module.code_fingerprint(Elsewhere()) != cache_module.code_fingerprint(RawEncoder())
    package = tmp_path / "textcluster"
    (package / "encoders").mkdir(parents=True)
    (package / "encoders" / "mine.py").write_text("VERSION = 1\n")
    monkeypatch.setattr(cache_module, "__file__", str(package / "cache.py"))
    before = cache_module.code_fingerprint()
    (package / "encoders" / "mine.py").write_text("VERSION = 2\n")  # an edited encoder
    assert cache_module.code_fingerprint() != before


def test_pretrained_identity_follows_the_weight_files(tmp_path):
    from textcluster.encoders.hub import model_identity

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "model.safetensors").write_bytes(b"0" * 100)
    first = model_identity(str(folder))
    assert first["path"] == str(folder.resolve()) and first["files"]["model.safetensors"][0] == 100
    assert model_identity(str(folder)) == first
    (folder / "model.safetensors").write_bytes(b"1" * 101)  # new weights
    assert model_identity(str(folder)) != first
    second = model_identity(str(folder))
    (folder / "config.json").write_text('{"model_type": "roberta"}')
    assert model_identity(str(folder))["config_sha256"] != second["config_sha256"]


# ------------------------------------------------------------------------------------- whole entries only


def test_corrupt_or_partial_entries_are_ignored_and_rewritten(tmp_path, caplog):
    run_experiment(cached(tmp_path), tmp_path / "first")
    (array_path,) = entries(tmp_path / "cache")
    meta_path = array_path.with_suffix(".json")
    state_path = array_path.with_name(array_path.stem + ".state.json")
    good, good_state = array_path.read_bytes(), state_path.read_bytes()

    def hit(name: str) -> bool:
        return run_experiment(cached(tmp_path), tmp_path / name).pipeline.cache_hit_

    array_path.write_bytes(good[: len(good) // 2])  # a truncated array
    with caplog.at_level(logging.WARNING, logger="textcluster.cache"):
        assert hit("truncated") is False
    assert "ignored" in caplog.text
    assert array_path.read_bytes() == good  # rewritten whole

    array = np.load(array_path)
    array[0, 0] += 1.0
    np.save(array_path, array)  # same shape, other numbers: the checksum catches it
    assert hit("flipped") is False and array_path.read_bytes() == good

    state_path.write_text(state_path.read_text().replace("image", "text"))  # a changed encoder state
    assert hit("state") is False and state_path.read_bytes() == good_state

    meta_path.unlink()  # the array without its JSON: a write that stopped half way
    assert hit("no-json") is False
    assert hit("whole") is True


def test_store_is_atomic_when_killed_mid_write(tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path)
    key = "ab" + "0" * 62
    embeddings = np.ones((5, 3), dtype=np.float32)

    def dies_half_way(handle, array, allow_pickle=False):
        handle.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt  # the run is killed while writing

    monkeypatch.setattr(np, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        cache.store(key, embeddings, {})
    monkeypatch.undo()
    array_path, meta_path = cache.paths(key)
    assert not array_path.exists() and not meta_path.exists()
    assert list(array_path.parent.iterdir()) == []  # the temporary file is gone too
    assert cache.load(key) is None

    path = cache.store(key, embeddings, {"vocabulary": ["a", "b"], "weights": np.arange(3.0)}, {"what": "test"})
    loaded, state = cache.load(key, n_rows=5)
    np.testing.assert_array_equal(loaded, embeddings)
    assert state["vocabulary"] == ["a", "b"] and state["weights"].tolist() == [0.0, 1.0, 2.0]
    assert cache.load(key, n_rows=6) is None  # a row count that does not match is not a hit
    assert json.loads(meta_path.read_text())["parts"] == {"what": "test"} and path == array_path


def test_an_unusable_cache_folder_stops_the_run_before_the_data_loads(tmp_path, monkeypatch):
    """One line naming the folder and the fix, not an encoding that fails (or is done twice) later."""
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    cfg = compose_small("encoder=raw", "cache=true", f"cache_dir={blocker}", limit=100)
    monkeypatch.setattr("textcluster.experiment.load_data", lambda config: pytest.fail("the data was loaded"))
    with pytest.raises(StorageError, match=rf"{blocker} cannot be used as a folder .*cache=false"):
        run_experiment(cfg, tmp_path / "run")
    assert read_status(tmp_path / "run") == "failed"


def test_cache_dir_expands_home_and_must_be_set(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert (
        build_cache(to_plain(compose_small("cache=true", "cache_dir='~/embeddings'"))).root == tmp_path / "embeddings"
    )
    with pytest.raises(UserError, match="cache=true needs cache_dir"):
        build_cache(to_plain(compose_small("cache=true", "cache_dir=null")))


def test_key_includes_encoder_identity():
    class WithIdentity(RawEncoder):
        identity = {"weights": 1}

        def cache_identity(self):
            return self.identity

    context = TrainingContext(seed=0)
    one = hash_parts(embedding_key_parts(TINY, WithIdentity(), context))
    WithIdentity.identity = {"weights": 2}
    assert hash_parts(embedding_key_parts(TINY, WithIdentity(), context)) != one


def test_frozen_encoder_key_ignores_seed_and_trainer():
    """A frozen pretrained encoder's embeddings do not depend on the seed: one entry serves every seed."""
    from textcluster.encoders.pretrained import PretrainedEncoder

    frozen = PretrainedEncoder()
    first = hash_parts(embedding_key_parts(TINY, frozen, TrainingContext({"max_epochs": 1}, seed=0)))
    assert hash_parts(embedding_key_parts(TINY, frozen, TrainingContext({"max_epochs": 9}, seed=5))) == first
    trained = RawEncoder()  # fitted on the corpus: its key keeps the seed
    assert hash_parts(embedding_key_parts(TINY, trained, TrainingContext(seed=0))) != hash_parts(
        embedding_key_parts(TINY, trained, TrainingContext(seed=1))
    )


def test_a_runs_cache_dir_also_holds_the_models_it_builds_and_only_while_it_runs(tmp_path, monkeypatch):
    """A home folder without room: cache_dir=/scratch/... must take the ONNX exports and static models too,
    where the encoders look them up (model_cache_root), not only the embeddings; compiled code stays per machine."""
    from textcluster.compiled import _own_folder
    from textcluster.encoders.hub import model_cache_root

    monkeypatch.setenv("TEXTCLUSTER_CACHE_DIR", str(tmp_path / "machine"))
    seen, original_fit = {}, RawEncoder.fit

    def fit(self, *args, **kwargs):
        seen.update(onnx=model_cache_root("onnx"), numba=Path(_own_folder()).parent)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(RawEncoder, "fit", fit)
    overrides = ("encoder=raw", "reducer=pca", f"cache_dir={tmp_path / 'scratch'}")
    run_experiment(compose_small(*overrides, limit=60), tmp_path / "run")
    assert seen == {"onnx": tmp_path / "scratch" / "onnx", "numba": tmp_path / "machine" / "numba"}
    assert model_cache_root("static") == tmp_path / "machine" / "static"  # after the run: the machine's again
