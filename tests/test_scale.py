"""The million-document path on small real slices: bring-your-own vectors, faiss k-means, sharded and resumable
encoding, interruption, sampled internal metrics, one-pass cluster centres, progress lines."""

from __future__ import annotations

import logging
import os
import signal
import time

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score, silhouette_score

import textcluster.labels as labels_module
from conftest import compose_small, read_json
from textcluster.build import load_data
from textcluster.cache import EmbeddingCache
from textcluster.clusterers.scalable import FaissKMeans, MiniBatchKMeansClusterer
from textcluster.contracts import TrainingContext
from textcluster.dataset import Dataset
from textcluster.encoders.pretrained import PretrainedEncoder
from textcluster.errors import RunInterrupted, UserError
from textcluster.evaluation.evaluators import CalinskiHarabasz, Silhouette
from textcluster.experiment import interruptible, run_experiment
from textcluster.progress import LogProgress
from textcluster.results import EvaluationInput

N_SNIPPETS = 600


@pytest.fixture(scope="module")
def snippets(data_file):
    """The first N_SNIPPETS SearchSnippets lines (8 classes spread over the file: take every 20th) and labels."""
    texts = data_file("searchsnippets", "SearchSnippets.txt").read_text(encoding="utf-8-sig").splitlines()
    truth = np.array(data_file("searchsnippets", "SearchSnippets_gnd.txt").read_text().split(), dtype=int)
    rows = np.arange(0, len(texts), len(texts) // N_SNIPPETS)[:N_SNIPPETS]
    return [texts[i] for i in rows], truth[rows]


@pytest.fixture(scope="module")
def vectors_folder(tmp_path_factory, snippets):
    """MiniLM embeddings of the snippets as a user would bring them: vectors.npy, labels.txt, texts.txt."""
    texts, truth = snippets
    folder = tmp_path_factory.mktemp("own-vectors")
    np.save(folder / "vectors.npy", PretrainedEncoder().embed_texts(texts))
    (folder / "labels.txt").write_text("\n".join(map(str, truth)) + "\n")
    (folder / "texts.txt").write_text("\n".join(texts) + "\n")
    return folder


# ------------------------------------------------------------------------------------- data=embeddings


def test_embeddings_loader_memory_maps_and_checks_counts(vectors_folder, tmp_path):
    cfg = {"name": "embeddings", "path": str(vectors_folder / "vectors.npy")}
    dataset = load_data({"data": cfg, "seed": 0})
    assert isinstance(dataset.vectors, np.memmap) and dataset.modality == "vectors" and not dataset.has_texts
    extra = {"labels_path": str(vectors_folder / "labels.txt"), "texts_path": str(vectors_folder / "texts.txt")}
    with_texts = load_data({"data": {**cfg, **extra}})
    assert with_texts.has_texts and with_texts.n_classes == 8 and len(with_texts.texts) == N_SNIPPETS
    short = tmp_path / "short.txt"
    short.write_text("one\ntwo\n")
    with pytest.raises(UserError, match="short.txt has 2 texts but vectors.npy has 600 vectors"):
        load_data({"data": {**cfg, "texts_path": str(short)}})
    with pytest.raises(UserError, match="short.txt has 2 labels but vectors.npy has 600 vectors"):
        load_data({"data": {**cfg, "labels_path": str(short)}})
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="cannot read .* as a .npy array"):  # a pickle is never loaded
        load_data({"data": {**cfg, "path": str(tmp_path / "objects.npy")}})
    np.save(tmp_path / "ints.npy", np.arange(6).reshape(3, 2))
    with pytest.raises(UserError, match="needs floating-point vectors of shape"):
        load_data({"data": {**cfg, "path": str(tmp_path / "ints.npy")}})


def test_own_vectors_end_to_end_with_topics_and_a_model_that_predicts(vectors_folder, tmp_path):
    """data=embeddings with texts: the vectors recipe, faiss k-means, topics, no copy of the vectors in the run."""
    cfg = compose_small(
        "data=embeddings",
        f"data.path={vectors_folder / 'vectors.npy'}",
        f"data.labels_path={vectors_folder / 'labels.txt'}",
        f"data.texts_path={vectors_folder / 'texts.txt'}",
        "clusterer=faiss_kmeans",
        "clusterer.n_clusters=8",
        "report=false",
    )
    assert cfg.encoder.name == "auto"  # the pipeline takes the recipe for the data's vectors
    run = run_experiment(cfg, tmp_path / "run")
    assert type(run.pipeline.encoder_).__name__ == "PrecomputedEncoder"
    assert run.pipeline.recipe_.describe() == "vectors data: encoder=precomputed reducer=none"
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert metrics["nmi"] > 0.45, metrics  # MiniLM + k-means on these snippets: about 0.55
    assert len(run.pipeline.topics_) == 8 and "npmi" in metrics
    assert not (tmp_path / "run" / "embeddings.npy").exists()  # the input file is the embeddings
    from textcluster.api import Pipeline

    loaded = Pipeline.load(tmp_path / "run")
    vectors = np.load(vectors_folder / "vectors.npy")
    assert np.array_equal(loaded.predict(vectors[:50]), run.pipeline.labels_[:50])
    with pytest.raises(UserError, match="the vectors have 3 dimensions but the model was fitted on 384"):
        loaded.predict(np.zeros((2, 3), dtype=np.float32))


def test_own_vectors_get_k_searched_in_a_umap_of_the_sample(vectors_folder, tmp_path):
    """Raw sentence embeddings have near-equal distances (silhouette about 0.03 at any k); the search runs
    in a UMAP of its sample, the clustering stays on the vectors."""
    cfg = compose_small(
        "data=embeddings",
        f"data.path={vectors_folder / 'vectors.npy'}",
        f"data.labels_path={vectors_folder / 'labels.txt'}",
        "report=false",
    )
    run = run_experiment(cfg, tmp_path / "run")
    selection = read_json(tmp_path / "run" / "k_selection.json")
    assert "UMAP of the sample" in selection["note"] and selection["sample_size"] == N_SNIPPETS
    assert 4 <= selection["chosen_k"] <= 16, selection  # 8 classes
    assert run.pipeline.reduced_.shape[1] == 384  # the final clustering is on the vectors themselves
    assert read_json(tmp_path / "run" / "metrics.json")["nmi"] > 0.45


# ------------------------------------------------------------------------------------- k-means at scale


def test_faiss_kmeans_matches_sklearn_inertia_on_real_vectors(vectors_folder, snippets):
    X = np.load(vectors_folder / "vectors.npy")
    faiss_kmeans = FaissKMeans(n_clusters=8, max_iter=20, random_state=0).fit(X)
    reference = KMeans(n_clusters=8, n_init=1, max_iter=20, random_state=0).fit(X)
    assert abs(faiss_kmeans.inertia_ - reference.inertia_) / reference.inertia_ < 0.02
    truth = snippets[1]
    assert (
        normalized_mutual_info_score(truth, faiss_kmeans.labels_)
        > normalized_mutual_info_score(truth, reference.labels_) - 0.1
    )
    labels, distances = faiss_kmeans.predict_scores(X[:40])
    assert np.array_equal(labels, faiss_kmeans.labels_[:40])
    expected = np.linalg.norm(X[:40] - faiss_kmeans.cluster_centers_[labels], axis=1)
    np.testing.assert_allclose(distances, expected, atol=1e-4)
    restored = FaissKMeans(n_clusters=8).set_state(faiss_kmeans.get_state())
    assert np.array_equal(restored.predict(X), faiss_kmeans.labels_)


def test_faiss_kmeans_trains_on_a_bounded_seeded_sample(vectors_folder, caplog):
    X = np.load(vectors_folder / "vectors.npy")
    model = FaissKMeans(n_clusters=4, max_points_per_centroid=50, random_state=3)
    assert len(model.training_sample(X, 4)) == 200
    np.testing.assert_array_equal(model.training_sample(X, 4), model.training_sample(X, 4))
    with caplog.at_level(logging.INFO):
        model.fit(X)
    assert "training on 200 of 600 points" in caplog.text and len(model.labels_) == 600
    spherical = FaissKMeans(n_clusters=4, spherical=True).fit(X)
    np.testing.assert_allclose(np.linalg.norm(spherical.cluster_centers_, axis=1), 1.0, atol=1e-5)
    with pytest.raises(UserError, match="settles auto and labels"):
        FaissKMeans(n_clusters="auto").fit(X)


def test_minibatch_kmeans_is_a_clusterer(vectors_folder, snippets):
    X = np.load(vectors_folder / "vectors.npy")
    model = MiniBatchKMeansClusterer(n_clusters=8, batch_size=256, random_state=0).fit(X)
    assert normalized_mutual_info_score(snippets[1], model.labels_) > 0.4
    assert np.array_equal(model.predict(X[:30]), model.labels_[:30])


# ------------------------------------------------------------------------------------- linear-cost stages


def test_cluster_centres_in_blocks_equal_the_plain_means(monkeypatch):
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(1000, 6)).astype(np.float32), rng.integers(-1, 5, size=1000)
    monkeypatch.setattr(labels_module, "CENTRE_BLOCK", 128)
    ids, centres = labels_module.cluster_centres(points, labels)
    expected = np.stack([points[labels == c].mean(axis=0) for c in ids])
    np.testing.assert_allclose(centres, expected, rtol=1e-6, atol=1e-6)


def test_internal_metrics_sample_as_sklearn_does_and_are_exact_below_the_sample(vectors_folder, snippets):
    X = np.load(vectors_folder / "vectors.npy")
    labels = np.asarray(snippets[1])
    run = EvaluationInput(space=X, labels=labels, true_labels=None, embeddings=X, modality="vectors")
    sampled = Silhouette(sample_size=200, random_state=4).evaluate(run)["silhouette"]
    assert sampled == pytest.approx(silhouette_score(X, labels, sample_size=200, random_state=4), abs=1e-6)
    assert Silhouette().evaluate(run)["silhouette"] == pytest.approx(silhouette_score(X, labels), abs=1e-6)
    exact, partial = CalinskiHarabasz().evaluate(run), CalinskiHarabasz(sample_size=300).evaluate(run)
    from sklearn.metrics import calinski_harabasz_score

    assert exact["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X, labels))
    assert partial["calinski_harabasz"] != exact["calinski_harabasz"]


def test_progress_lines_say_rate_and_time_left(caplog):
    with caplog.at_level(logging.INFO, logger="textcluster.progress"):
        progress = LogProgress(1000, "encoding", "docs", every=0.0)
        time.sleep(0.01)
        progress.update(250)
    assert "encoding: 250/1,000 docs (25%)" in caplog.text and "docs/s" in caplog.text and "left" in caplog.text


# ------------------------------------------------------------------------------------- sharded, resumable encoding


def test_sharded_encoding_equals_one_pass_and_resumes_from_finished_shards(tmp_path, snippets, caplog):
    texts = snippets[0][:250]
    dataset = Dataset(name="snippets", texts=texts)
    # float32: in bfloat16 (dtype auto on a bf16 CPU) a document's embedding moves by ~1e-3 with the batch it is
    # padded with, and shards batch differently from one pass; the mechanics are what this test is about
    whole = PretrainedEncoder(dtype="float32").embed_texts(texts)
    cache = EmbeddingCache(tmp_path / "cache", shard_size=100)

    class StopsAfterTwoShards(PretrainedEncoder):
        calls = 0

        def transform(self, dataset):
            type(self).calls += 1
            if type(self).calls == 3:
                raise RunInterrupted("SIGTERM")
            return super().transform(dataset)

    with pytest.raises(RunInterrupted):
        cache.encode(StopsAfterTwoShards(dtype="float32"), dataset, TrainingContext())
    progress = read_json(next((tmp_path / "cache").rglob("progress.json")))
    assert sorted(progress["shards"]) == ["0", "1"]

    class CountsShards(PretrainedEncoder):
        shards: list[int] = []

        def transform(self, dataset):
            type(self).shards.append(len(dataset))
            return super().transform(dataset)

    with caplog.at_level(logging.INFO):
        embeddings, hit = cache.encode(CountsShards(dtype="float32"), dataset, TrainingContext())
    assert not hit and CountsShards.shards == [50]  # only the last, unfinished shard was encoded
    assert "2 of 3 shards finished by an earlier run" in caplog.text
    assert isinstance(embeddings, np.memmap) and not list((tmp_path / "cache").rglob("*.partial"))
    np.testing.assert_allclose(embeddings, whole, atol=1e-5)
    again, hit = cache.encode(CountsShards(dtype="float32"), dataset, TrainingContext())  # same code, same key: a hit
    assert hit and np.array_equal(again, embeddings) and CountsShards.shards == [50]


def test_float16_cache_halves_the_entry(tmp_path, snippets):
    dataset = Dataset(name="snippets", texts=snippets[0][:64])
    embeddings, _ = EmbeddingCache(tmp_path, dtype="float16").encode(PretrainedEncoder(), dataset, TrainingContext())
    assert embeddings.dtype == np.float16
    np.testing.assert_allclose(embeddings, PretrainedEncoder().embed_texts(dataset.texts), atol=2e-3)


def test_sigterm_marks_the_run_interrupted(tmp_path):
    with pytest.raises(RunInterrupted, match="SIGTERM"), interruptible():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the old handler is back
