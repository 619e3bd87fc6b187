"""The files of a run folder. ``status.json`` says whether the run finished."""

from __future__ import annotations

import csv
import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from textcluster.pipeline import PipelineResult
from textcluster.topics import write_topics

PACKAGES = ("textcluster", "torch", "pytorch-lightning", "hydra-core", "omegaconf", "numpy", "scipy",
            "scikit-learn", "hdbscan", "umap-learn", "pandas", "datasets", "transformers")
SNIPPET_CHARS = 100


def package_versions() -> dict[str, str | None]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def device_description() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def _write_json(path: Path, payload) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def write_versions(run_dir: Path, seed: int) -> None:
    _write_json(run_dir / "versions.json", {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "packages": package_versions(), "seed": seed, "device": device_description(),
    })


def write_assignments(run_dir: Path, result: PipelineResult) -> None:
    dataset = result.dataset
    with open(run_dir / "assignments.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        header = ["id", "cluster"] + (["label"] if dataset.has_labels else [])
        header.append("text" if dataset.texts is not None else "index")
        writer.writerow(header)
        for row, (item_id, cluster) in enumerate(zip(dataset.ids, result.labels)):
            line = [item_id, int(cluster)] + ([dataset.labels[row]] if dataset.has_labels else [])
            line.append(" ".join(dataset.texts[row].split())[:SNIPPET_CHARS] if dataset.texts is not None else row)
            writer.writerow(line)


def write_results(run_dir: Path, result: PipelineResult) -> None:
    """Everything a finished run leaves; metrics.json and status.json last, so they mark completion."""
    np.save(run_dir / "embeddings.npy", result.embeddings)
    write_assignments(run_dir, result)
    if getattr(result, "topics", None) is not None:  # text runs: topics.json and topics.md
        write_topics(run_dir, result.topics, result.dataset.texts, result.dataset.ids)
    _write_json(run_dir / "skipped_metrics.json", result.skipped)
    _write_json(run_dir / "metrics.json", {**result.metrics, "n_samples": len(result.labels),
                                           **{k: round(v, 3) for k, v in result.timings.items()}})
    write_status(run_dir, "completed")


def write_status(run_dir: Path, status: str, message: str | None = None) -> None:
    payload = {"status": status} | ({"error": message} if message else {})
    _write_json(run_dir / "status.json", payload)
