"""The row files of a run folder (assignments.csv, predictions.csv), written a block of rows at a time."""

from __future__ import annotations

import csv
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from textcluster.api import Pipeline
from textcluster.clusterers.builtin import KMeansClusterer
from textcluster.dataset import Dataset
from textcluster.encoders.dense import RawEncoder
from textcluster.reporting import files, run_folder


def test_rows_built_column_by_column_per_block_land_on_their_items(tmp_path, monkeypatch):
    """Ids, clusters, topic labels, true labels, a score and the one-line snippet stay on their row across
    block boundaries, quoted as the csv module quotes them."""
    monkeypatch.setattr(files, "CSV_BLOCK", 3)
    texts = ["a b", 'two\nlines, "quoted"', "x" * 150, "d", "e", "f", "g"]
    labels = np.array([0, 1, -1, 2, 0, 1, 2])
    dataset = Dataset(name="t", texts=texts, labels=np.array(list("pqpqpqp")), ids=np.arange(10, 17))
    scores = np.array([0.5, np.nan, 1 / 3, 2.0, 0.0, 1.0, 1e-9])
    path = tmp_path / "rows.csv"
    files.write_rows(path, dataset, labels, [("score", scores)], topic_labels=[f"t{c}" for c in labels])
    raw = path.read_text(encoding="utf-8")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "cluster", "topic", "label", "score", "text"]
    assert rows[2] == ["11", "1", "t1", "q", "", 'two lines, "quoted"'] and '"two lines, ""quoted"""' in raw
    assert rows[3][1:5] == ["-1", "t-1", "p", "0.333333"] and rows[3][5] == "x" * 99 + "…"
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(10, 17)]
    assert [row[1] for row in rows[1:]] == [str(c) for c in labels] and rows[7][4] == "1e-09"


def test_image_rows_name_their_index(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "CSV_BLOCK", 2)
    dataset = Dataset(name="t", images=np.zeros((5, 4, 4), dtype=np.float32), ids=np.array(list("abcde")))
    clusters = [1, 0, 1, 0, 1]
    files.write_rows(tmp_path / "rows.csv", dataset, np.array(clusters))
    with open(tmp_path / "rows.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "cluster", "index"]
    assert rows[1:] == [[item, str(cluster), str(row)] for row, (item, cluster) in enumerate(zip("abcde", clusters))]


def test_a_stopped_topic_distribution_leaves_no_file(tmp_path):
    """Written beside assignments.csv, the distribution ends at its next block when the run stops, and its
    temporary file goes with it."""
    stop = threading.Event()

    def blocks():
        yield np.full((2, 3), 1 / 3)
        stop.set()  # what write_results does when another file fails or Ctrl-C comes
        yield np.full((2, 3), 1 / 3)

    pipeline = SimpleNamespace(topic_ids_=np.arange(3), topics_=None)
    with pytest.raises(run_folder.Stopped):
        run_folder.write_topic_distribution(tmp_path / "d.npy", run_folder._until(stop, blocks()), 4, pipeline)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_marks_nothing_whole(tmp_path, monkeypatch):
    """Ctrl-C while assignments.csv is written: the files beside it end whole or not at all, and no metrics.json
    says the folder is complete."""
    texts = [f"alpha beta item{i}" for i in range(30)] + [f"gamma delta item{i}" for i in range(30)]
    pipeline = Pipeline(RawEncoder(features={"min_df": 1, "stop_words": None}), KMeansClusterer(2, n_init=1))
    pipeline.fit(texts)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_folder, "write_rows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_folder.write_results(tmp_path, pipeline, Dataset.from_documents(texts))
    names = {path.name for path in tmp_path.iterdir()}
    assert "metrics.json" not in names and not [name for name in names if name.endswith(".tmp")]
    if "topic_distribution.npy" in names:  # finished before the stop: whole
        assert np.load(tmp_path / "topic_distribution.npy").shape == (60, 2)
