"""The results of a run folder, written from the fitted pipeline in memory; ``metrics.json`` comes last."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from textcluster.dataset import Dataset
from textcluster.pipeline import Pipeline
from textcluster.reporting.files import write_json, write_rows
from textcluster.reporting.topics_files import write_topics
from textcluster.results import Prediction
from textcluster.storage import atomic_write, copy_file


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
    write_embeddings(run_dir / "embeddings.npy", pipeline)
    topic_labels = None if pipeline.topics_ is None else pipeline.topics_.label_of(pipeline.labels_)
    write_rows(run_dir / "assignments.csv", dataset, pipeline.labels_, topic_labels=topic_labels)
    topics = None
    if pipeline.topics_ is not None:
        topics = write_topics(run_dir, pipeline.topics_, dataset.texts, dataset.ids)["topics"]
    topic_words = getattr(pipeline.encoder_, "topic_words", None)  # the Encoder hook; a duck-typed encoder may lack it
    encoder_topics = topic_words() if callable(topic_words) else None
    if encoder_topics is not None:  # a topic-model encoder (lda, nmf): its own topics, beside topics.json's
        entries = [{"topic": i, "words": list(words)} for i, words in enumerate(encoder_topics)]
        write_json(run_dir / "encoder_topics.json", entries)
    if getattr(pipeline, "k_selection_", None) is not None:
        write_json(run_dir / "k_selection.json", pipeline.k_selection_.as_dict())
    write_json(run_dir / "skipped_metrics.json", pipeline.skipped_metrics_)
    write_json(run_dir / "metrics.json", metrics_record(pipeline))
    return topics


def write_embeddings(path: Path, pipeline: Pipeline) -> None:
    """The encoder's output: none when it is the input itself (data=embeddings), else the run folder's own
    copy. A memory-mapped cache entry is copied file to file (never linked: a run folder owns its files, so
    nothing done to the cache can change a finished run); an array in memory is saved with ``numpy.save``.
    Both are written under a temporary name and renamed into place."""
    embeddings = pipeline.embeddings_
    if pipeline.encoder_.copies_input and pipeline.refiner_ is None:
        return
    source = embeddings.filename if isinstance(embeddings, np.memmap) else None
    if source is not None and _is_whole_npy(embeddings, source):
        copy_file(source, path)
        return
    array = np.asarray(embeddings)
    atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False))


def _is_whole_npy(array: np.ndarray, source: str) -> bool:
    try:
        header = np.load(source, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return False
    return header.shape == array.shape and header.dtype == array.dtype


def write_predictions(path: Path, prediction: Prediction) -> None:
    extra = [(prediction.score_name, prediction.scores)] if prediction.score_name else []
    write_rows(path, prediction.dataset, prediction.labels, extra, topic_labels=prediction.topic_labels)
