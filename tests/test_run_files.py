"""The row files of a run folder (assignments.csv, predictions.csv), written a block of rows at a time."""

from __future__ import annotations

import csv

import numpy as np

from textcluster.dataset import Dataset
from textcluster.reporting import files


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
