"""The small writers every run-folder file goes through: JSON, status, versions, rows of items, snippets."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
from collections.abc import Iterable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from math import isnan
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.dataset import Dataset
from textcluster.errors import StorageError
from textcluster.storage import atomic_write, write_text
from textcluster.text import snippet

PACKAGES = (
    "textcluster",
    "torch",
    "pytorch-lightning",
    "hydra-core",
    "omegaconf",
    "numpy",
    "scipy",
    "scikit-learn",
    "hdbscan",
    "umap-learn",
    "pandas",
    "datasets",
    "transformers",
    "safetensors",
)
SNIPPET_CHARS = 100  # the text column of assignments.csv and predictions.csv
CSV_BLOCK = 65_536  # rows of assignments.csv built at a time

STATUS_FILE = "status.json"
RUNNING, COMPLETED, FAILED, INTERRUPTED = "running", "completed", "failed", "interrupted"


def package_versions() -> dict[str, str | None]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def device_description(uses_torch: bool = True) -> str:
    """The device torch computes on; a run without a torch stage leaves torch unimported."""
    if not uses_torch:
        return f"cpu ({os.cpu_count()} cores; no torch stage)"
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def write_json(path: Path, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def write_csv(path: Path, rows: Iterable[Sequence[Any]]) -> None:
    """Rows of a CSV file, written atomically (streamed: a million rows are not held in memory)."""

    def write(handle) -> None:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        csv.writer(text).writerows(rows)
        text.flush()
        text.detach()  # the binary handle stays open: atomic_write syncs and renames it

    atomic_write(path, write)


def write_versions(run_dir: Path, seed: int, uses_torch: bool = True) -> None:
    write_json(
        run_dir / "versions.json",
        {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": package_versions(),
            "seed": seed,
            "device": device_description(uses_torch),
        },
    )


def write_status(run_dir: Path, status: str, message: str | None = None) -> None:
    write_json(run_dir / STATUS_FILE, {"status": status} | ({"error": message} if message else {}))


def write_status_if_possible(run_dir: Path, status: str, message: str | None = None) -> bool:
    """:func:`write_status` where the folder still takes it; False on a full disk or a refused write (the
    error that stopped the run is what the user needs to read, not this one)."""
    try:
        write_status(run_dir, status, message)
    except (OSError, StorageError):
        return False
    return True


def read_status(run_dir: Path) -> str | None:
    try:
        return json.loads((Path(run_dir) / STATUS_FILE).read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None


def write_rows(
    path: Path,
    dataset: Dataset,
    labels: np.ndarray,
    extra: Sequence[tuple[str, np.ndarray]] = (),
    topic_labels: Sequence[str] | None = None,
) -> None:
    """One row per item: ``id``, ``cluster``, ``topic`` (the cluster's topic label, text runs), ``label`` (the
    true label, when known), the ``extra`` columns, then a text snippet (``text``) or the image's row (``index``).
    assignments.csv and predictions.csv both."""
    header = (
        ["id", "cluster"]
        + (["topic"] if topic_labels is not None else [])
        + (["label"] if dataset.has_labels else [])
        + [name for name, _ in extra]
        + ["text" if dataset.texts is not None else "index"]
    )

    def block_columns(rows: range) -> list[Sequence[Any]]:
        """The rows' values column by column: csv then writes ``zip(*columns)`` with no Python per row."""
        cut = slice(rows.start, rows.stop)
        columns = [list(dataset.ids[cut]), np.asarray(labels[cut], dtype=np.int64).tolist()]
        columns += [topic_labels[cut]] if topic_labels is not None else []
        columns += [list(dataset.labels[cut])] if dataset.has_labels else []
        scores = [np.asarray(values[cut], dtype=np.float64).tolist() for _, values in extra]
        columns += [["" if isnan(value) else f"{value:.6g}" for value in column] for column in scores]
        text = [snippet(item, SNIPPET_CHARS) for item in dataset.texts[cut]] if dataset.texts is not None else rows
        return [*columns, text]

    def lines() -> Iterator[Sequence[Any]]:
        yield header
        for start in range(0, len(labels), CSV_BLOCK):  # a block at a time: a million rows never sit in memory
            yield from zip(*block_columns(range(start, min(start + CSV_BLOCK, len(labels)))))

    write_csv(path, lines())
