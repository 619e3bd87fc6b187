"""The results of a run folder, written from the fitted pipeline in memory; ``metrics.json`` comes last."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.dataset import Dataset
from textcluster.pipeline import Pipeline
from textcluster.progress import track
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
    # the three large files are written beside the rows of assignments.csv (Python's csv module holds the GIL;
    # numpy, parquet and the disk mostly do not), each under its own temporary name. A stop (an error here,
    # Ctrl-C) ends the topic distribution at its next block; the others are short or the disk's own work
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="write") as beside:
        jobs = [
            beside.submit(write_embeddings, run_dir / "embeddings.npy", pipeline),
            beside.submit(
                write_topic_distribution,
                run_dir / TOPIC_DISTRIBUTION,
                _until(stop, pipeline.training_proba_blocks()),
                len(pipeline.labels_),
                pipeline,
            ),
        ]
        if dataset.has_texts:
            jobs.append(beside.submit(write_documents, run_dir / DOCUMENTS_FILE, dataset, pipeline.labels_))
        try:
            topics = _write_the_rest(run_dir, pipeline, dataset)
            for job in jobs:
                job.result()  # its error, if any, before metrics.json could mark the folder whole
        except BaseException:
            stop.set()
            raise
    write_json(run_dir / "metrics.json", metrics_record(pipeline))
    return topics


class Stopped(Exception):
    """A file written beside others stops because another failed or the run was interrupted."""


def _until(stop: threading.Event, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    for block in blocks:
        if stop.is_set():
            raise Stopped("stopped: the run folder is not written whole")  # its temporary file is removed
        yield block


def _write_the_rest(run_dir: Path, pipeline: Pipeline, dataset: Dataset) -> list[dict] | None:
    """The files of :func:`write_results` that are not written beside it: assignments.csv, the topics, the
    small JSON files."""
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
    return topics


DOCUMENTS_FILE = "documents.parquet"
"""A text run's documents in full (id, text, the topic the fit gave it, true label, time, group), so
textcluster-topics edits the topics later without being told where the data is (a run folder never reads a
path it names). ``fit_topic`` never changes: an edited run's topics are the fit's replayed through the model's
edits (those after the first ``edits_before``), so they always agree with the model, even after a stop between
two files of an edit. ``update``: 0 for the fit's documents, k for those textcluster-update added in its k-th
update."""


def write_documents(path: Path, dataset: Dataset, topics: np.ndarray, update: Any = 0, edits_before: Any = 0) -> None:
    import pandas as pd

    columns = {"id": dataset.ids, "text": dataset.texts, "fit_topic": np.asarray(topics, dtype=np.int64)}
    columns |= {"update": update, "edits_before": edits_before}
    extra = (("label", dataset.labels), ("time", dataset.times), ("group", dataset.groups))
    columns |= {name: values for name, values in extra if values is not None}
    frame = pd.DataFrame(columns)
    frame["id"] = frame["id"].astype(str)  # ids of any type read back alike (assignments.csv holds them as text)
    atomic_write(path, lambda handle: frame.to_parquet(handle, index=False))


def read_documents(run_dir: Path) -> tuple[Dataset, Any]:
    """``(the run's documents, a DataFrame of fit_topic, update, edits_before)`` as :func:`write_documents` kept
    them (ids as text)."""
    import pandas as pd

    frame = pd.read_parquet(Path(run_dir) / DOCUMENTS_FILE)
    column = lambda name, **kind: frame[name].to_numpy(**kind) if name in frame else None
    dataset = Dataset(
        name=Path(run_dir).name,
        texts=frame["text"].tolist(),
        ids=frame["id"].to_numpy(),
        labels=column("label"),
        times=column("time", dtype="datetime64[ns]"),
        groups=column("group"),
    )
    bookkeeping = frame.reindex(columns=["fit_topic", "update", "edits_before"], fill_value=0).astype(np.int64)
    return dataset, bookkeeping


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


TOPIC_DISTRIBUTION = "topic_distribution.npy"
"""Each document's probability of each topic (``Pipeline.predict_proba``): float32, a row per row of
assignments.csv (of predictions.csv for textcluster-predict, as ``<stem>_topic_distribution.npy``), and a JSON
beside it naming the columns (topic ids, labels). A .npy and not columns of the CSV: a million documents by
hundreds of topics are hundreds of millions of numbers, 4 bytes each here, loaded in one call or memory-mapped
(``numpy.load(path, mmap_mode="r")``), where CSV text takes about 10 bytes each and is parsed whole; and the
whole distribution is kept, where a top 3 in the CSV would drop the rest (which a merged or split topic sums)."""


def write_topic_distribution(path: Path, blocks: Iterable[np.ndarray], n_rows: int, pipeline: Pipeline) -> None:
    """The (n_rows, topics) float32 array as a .npy, written a block of rows at a time: a million documents by
    hundreds of topics never sit in memory whole."""
    ids = pipeline.topic_ids_
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype("<f4")),
        "fortran_order": False,
        "shape": (n_rows, len(ids)),
    }

    def write(handle) -> None:
        np.lib.format.write_array_header_1_0(handle, header)
        written = 0
        with track(n_rows, "writing the topic distribution", "documents") as progress:  # n x topics grows with both
            for block in blocks:
                handle.write(np.ascontiguousarray(block, dtype="<f4"))  # the buffer itself: no bytes copy
                written += len(block)
                progress.update(len(block))
        if written != n_rows:  # the header promised n_rows: a short file must never be renamed into place
            raise RuntimeError(f"topic distribution: {written} rows written, {n_rows} expected")

    atomic_write(path, write)
    columns = {"rows": n_rows, "columns": [int(topic) for topic in ids]}
    columns["labels"] = None if pipeline.topics_ is None else pipeline.topics_.label_of(ids)
    write_json(path.with_suffix(".json"), columns)
