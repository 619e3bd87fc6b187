"""The results of a run folder, written from the fitted pipeline in memory; ``metrics.json`` comes last."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from textcluster.dataset import Dataset
from textcluster.pipeline import Pipeline
from textcluster.reporting.files import write_json, write_rows
from textcluster.reporting.topics_files import write_topics
from textcluster.results import Prediction


def metrics_record(pipeline: Pipeline) -> dict[str, float]:
    """metrics.json: the metrics, the number of items and the stage timings (seconds, rounded)."""
    return {
        **pipeline.metrics_,
        "n_samples": len(pipeline.labels_),
        **{key: round(seconds, 3) for key, seconds in pipeline.timings_.items()},
    }


def write_results(run_dir: Path, pipeline: Pipeline, dataset: Dataset) -> list[dict] | None:
    """Everything a fitted run leaves, from the pipeline in memory; metrics.json last (it marks the results whole).

    Returns the topics.json entries (None without topics), for the report.
    """
    np.save(run_dir / "embeddings.npy", pipeline.embeddings_, allow_pickle=False)
    write_rows(run_dir / "assignments.csv", dataset, pipeline.labels_)
    topics = None
    if pipeline.topics_ is not None:
        topics = write_topics(run_dir, pipeline.topics_, dataset.texts, dataset.ids)["topics"]
    if getattr(pipeline, "k_selection_", None) is not None:
        write_json(run_dir / "k_selection.json", pipeline.k_selection_.as_dict())
    write_json(run_dir / "skipped_metrics.json", pipeline.skipped_metrics_)
    write_json(run_dir / "metrics.json", metrics_record(pipeline))
    return topics


def write_predictions(path: Path, prediction: Prediction) -> None:
    extra = [(prediction.score_name, prediction.scores)] if prediction.score_name else []
    write_rows(path, prediction.dataset, prediction.labels, extra)
