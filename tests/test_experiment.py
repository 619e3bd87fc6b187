"""End to end in-process: compose a small config, run_experiment, and check the run folder."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import compose_small, read_json, read_status
from textcluster.errors import UserError
from textcluster.evaluation.metrics import clustering_accuracy
from textcluster.experiment import run_experiment

INTERNAL = ("silhouette", "calinski_harabasz", "davies_bouldin")


def read_assignments(run_dir: Path) -> tuple[list[str], list[dict]]:
    with open(run_dir / "assignments.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def check_counts_match_assignments(run_dir: Path) -> dict:
    """metrics.json's n_samples, n_clusters and noise_fraction agree with assignments.csv."""
    metrics = read_json(run_dir / "metrics.json")
    _, rows = read_assignments(run_dir)
    clusters = np.array([int(row["cluster"]) for row in rows])
    assert metrics["n_samples"] == len(rows)
    assert metrics["n_clusters"] == len(set(clusters[clusters != -1]))
    assert metrics["noise_fraction"] == pytest.approx(float(np.mean(clusters == -1)))
    skipped = read_json(run_dir / "skipped_metrics.json")
    for key in INTERNAL:  # each internal metric either ran or says why not
        assert (key in metrics) != (key in skipped)
    return metrics


# ------------------------------------------------------------------------------------- digits, dense


@pytest.fixture(scope="module")
def digits_dense_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("digits-dense") / "run"
    run = run_experiment(compose_small(), run_dir)  # the defaults: digits, dense + UMAP, kmeans with k searched
    return run, run_dir


def test_run_folder_contents(digits_dense_run):
    run, run_dir = digits_dense_run
    pipeline = run.pipeline
    assert read_status(run_dir) == "completed"
    assert (run_dir / "model" / "encoder.safetensors").is_file() and not list(run_dir.rglob("*.ckpt"))

    metrics = read_json(run_dir / "metrics.json")
    for key in ("acc", "nmi", "ari", "silhouette", "n_clusters", "noise_fraction"):
        assert isinstance(metrics[key], float), key
    assert metrics["n_samples"] == 1797 and metrics["noise_fraction"] == 0.0
    selection = read_json(run_dir / "k_selection.json")  # n_clusters=auto: the k the search chose, and its curve
    assert metrics["n_clusters"] == selection["chosen_k"] == pipeline.clusterer_.n_clusters
    assert pipeline.clusterer.n_clusters == "auto"  # the configured stage is left as it was
    curve = {point["k"]: point["score"] for point in selection["curve"]}
    assert min(curve) == 2 and selection["chosen_k"] in curve
    assert curve[selection["chosen_k"]] >= max(curve.values()) * (1 - 0.01)
    assert metrics == pytest.approx(
        {**pipeline.metrics_, "n_samples": 1797, **{k: round(v, 3) for k, v in pipeline.timings_.items()}}
    )

    header, rows = read_assignments(run_dir)
    assert header == ["id", "cluster", "label", "index"]
    assert len(rows) == 1797
    assert [int(row["id"]) for row in rows] == list(range(1797))
    assert [int(row["label"]) for row in rows] == run.dataset.labels.tolist()
    assert [int(row["cluster"]) for row in rows] == pipeline.labels_.tolist()

    versions = read_json(run_dir / "versions.json")
    assert versions["seed"] == 0
    assert versions["packages"]["torch"] and versions["packages"]["scikit-learn"]
    assert versions["device"].startswith(("cpu", "cuda"))

    embeddings = np.load(run_dir / "embeddings.npy")
    assert embeddings.shape == (1797, 10)  # encoder.embedding_dim


def test_digits_metrics_are_plausible_and_consistent(digits_dense_run):
    result, run_dir = digits_dense_run
    metrics = check_counts_match_assignments(run_dir)
    # chance is about 0.1; this 1-epoch net's codes show coarse groups only (the k search picks a few of them)
    assert 0.2 <= metrics["acc"] <= 1.0 and metrics["nmi"] >= 0.2
    assert 0.0 < metrics["nmi"] <= 1.0 and -1.0 <= metrics["silhouette"] <= 1.0
    _, rows = read_assignments(run_dir)
    recomputed = clustering_accuracy([int(r["label"]) for r in rows], [int(r["cluster"]) for r in rows])
    assert metrics["acc"] == pytest.approx(recomputed)


def test_dense_run_is_reproducible(digits_dense_run, tmp_path):
    first, first_dir = digits_dense_run
    second = run_experiment(compose_small(), tmp_path / "again")

    assert (tmp_path / "again" / "assignments.csv").read_text() == (first_dir / "assignments.csv").read_text()
    np.testing.assert_allclose(second.pipeline.embeddings_, first.pipeline.embeddings_, rtol=0, atol=1e-6)
    assert second.pipeline.metrics_["acc"] == first.pipeline.metrics_["acc"]


def test_raw_run_is_reproducible_and_seed_matters(tmp_path):
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        runs[name] = run_experiment(compose_small("encoder=raw", f"seed={seed}", limit=400), tmp_path / name)
    assert (tmp_path / "a" / "assignments.csv").read_text() == (tmp_path / "b" / "assignments.csv").read_text()
    assert not np.array_equal(runs["a"].dataset.ids, runs["c"].dataset.ids)  # another seed, another subsample
    assert read_json(tmp_path / "c" / "versions.json")["seed"] == 6
    assert runs["a"].pipeline.metrics_["acc"] > 0.6  # k-means on raw digit pixels


def test_failed_run_leaves_failed_status_and_no_metrics(tmp_path):
    cfg = compose_small("encoder=raw", "clusterer.n_clusters=50", limit=20)  # refused before encoding
    with pytest.raises(UserError, match=r"clusterer\.n_clusters=50 is larger than the number of samples \(20\)"):
        run_experiment(cfg, tmp_path)
    status = read_json(tmp_path / "status.json")
    assert status["status"] == "failed" and "n_clusters=50" in status["error"]
    assert not (tmp_path / "metrics.json").exists()


def test_data_without_labels_skips_external_metrics(tmp_path):
    words = ["apple pear plum fruit", "stock bond market money"]
    texts = [f"{words[i % 2]} {i}" for i in range(60)]
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "docs.csv", index=False)
    base = ["data=csv", f"data.path={tmp_path / 'docs.csv'}", "encoder=raw"]

    with pytest.raises(UserError, match=r"clusterer\.n_clusters=labels takes k from the true classes"):
        run_experiment(compose_small(*base, "clusterer.n_clusters=labels"), tmp_path / "no-k")
    assert read_json(tmp_path / "no-k" / "status.json")["status"] == "failed"
    assert not (tmp_path / "no-k" / "embeddings.npy").exists()

    pipeline = run_experiment(compose_small(*base, "clusterer.n_clusters=2"), tmp_path / "run").pipeline
    assert "acc" not in pipeline.metrics_ and "nmi" not in pipeline.metrics_
    assert "no true labels" in pipeline.skipped_metrics_["acc"]
    assert read_json(tmp_path / "run" / "skipped_metrics.json")["acc"] == pipeline.skipped_metrics_["acc"]
    header, rows = read_assignments(tmp_path / "run")
    assert header == ["id", "cluster", "topic", "text"]  # the topic's label beside its id
    clusters = [int(row["cluster"]) for row in rows]
    assert len(set(clusters[0::2])) == 1 and len(set(clusters[1::2])) == 1 and clusters[0] != clusters[1]
    fruit, money = set(rows[0]["topic"].split(", ")), set(rows[1]["topic"].split(", "))
    assert fruit <= {"apple", "pear", "plum", "fruit"} and money <= {"stock", "bond", "market", "money"}
    assert fruit and money and {row["topic"] for row in rows[0::2]} == {rows[0]["topic"]}


# ------------------------------------------------------------------------------------- text


def test_searchsnippets_dense(data_file, tmp_path):
    texts = data_file("searchsnippets", "SearchSnippets.txt")
    labels = data_file("searchsnippets", "SearchSnippets_gnd.txt")
    cfg = compose_small(
        "data=lines",
        f"data.path={texts}",
        f"data.labels_path={labels}",
        "encoder=dense",
        "clusterer.n_clusters=labels",
        limit=800,
    )
    run = run_experiment(cfg, tmp_path)

    assert read_status(tmp_path) == "completed"
    metrics = check_counts_match_assignments(tmp_path)
    assert metrics["n_samples"] == 800 and metrics["n_clusters"] == 8.0  # k from the 8 classes
    assert 0.0 <= metrics["acc"] <= metrics["purity"] <= 1.0  # a one-to-one map never beats majority votes
    assert 0.0 <= metrics["nmi"] <= 1.0 and -1.0 <= metrics["ari"] <= 1.0
    assert run.pipeline.embeddings_.shape == (800, 10)

    # ids are line numbers of the original file: the text snippet in assignments.csv is that line's
    lines = texts.read_text(encoding="utf-8-sig").splitlines()
    header, rows = read_assignments(tmp_path)
    assert header == ["id", "cluster", "topic", "label", "text"]
    for row in rows[:50]:
        line = " ".join(lines[int(row["id"])].split())
        assert row["text"] == (line if len(line) <= 100 else line[:99] + "…")


def test_newsgroups_hdbscan(data_file, tmp_path):
    path = data_file("20newsgroups", "test.csv")
    cfg = compose_small("data=csv", f"data.path={path}", "data.label_column=label", "clusterer=hdbscan", limit=300)
    pipeline = run_experiment(cfg, tmp_path).pipeline

    assert read_status(tmp_path) == "completed"
    metrics = check_counts_match_assignments(tmp_path)  # n_clusters and noise_fraction are there and right
    assert metrics["n_samples"] == 300
    assert 0.0 <= metrics["noise_fraction"] <= 1.0
    noise = pipeline.labels_ == -1
    # noise points are errors for acc: it cannot exceed the share of clustered points
    assert metrics["acc"] <= 1.0 - noise.mean() + 1e-12
    if noise.all():
        assert metrics["n_clusters"] == 0.0 and metrics["acc"] == 0.0
