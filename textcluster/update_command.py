"""``textcluster-update``: add new documents to a finished text run (``Pipeline.partial_fit``).

    textcluster-update RUN_DIR data=csv data.path=new.csv [data.<key>=<value> ...] [plugins_dir=<folder>]

The new documents are assigned to the run's topics (the centres they join move), and dense groups of the
ones that fit no topic become new topics; the documents the run had keep their topics. The run folder is
rewritten as it stands after the update: ``documents.parquet`` and ``embeddings.npy`` gain the new rows, the
model (so ``textcluster-predict`` follows the new topics), ``assignments.csv``, the topics, the topic tables
and the report (whose metrics stay the fit's); ``updates.json`` lists what each update changed. New documents
without an id column get ids ``update<k>-<row>``; an id the run already has is refused.

Bad input ends with one line, ``textcluster-update: error: ...``, and exit status 2.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textcluster.errors import UserError, run_command

PROG = "textcluster-update"
UPDATES_FILE = "updates.json"
USAGE = f"usage: {PROG} RUN_DIR data=<csv|lines|hf> data.path=<file> [data.<key>=<value> ...] [plugins_dir=<folder>]"


def parse_arguments(argv: Sequence[str]) -> tuple[str, str | None, list[str]]:
    """``(run folder, plugins_dir or None, data overrides)``: the run folder first, then key=value arguments."""
    from textcluster.predict import parse_arguments as parse_predict

    argv = list(argv)
    if argv and "=" not in argv[0]:
        argv[0] = f"run_dir={argv[0]}"
    if any(argument.partition("=")[0] == "output" for argument in argv):
        raise UserError(f"{PROG} rewrites the run folder; it takes no output=. {USAGE}")
    run_dir, _, plugins_dir, data = parse_predict(argv)
    return run_dir, plugins_dir, data


def new_documents(overrides: list[str], plugins_dir: str | None, update: int, known_ids: np.ndarray):
    """The documents to add, with ids of their own: ``update<k>-<row>`` where the data names none."""
    from textcluster.config import load_local_plugins
    from textcluster.data import load_dataset
    from textcluster.predict import data_config

    load_local_plugins(plugins_dir)
    config = data_config(overrides, plugins_dir)
    dataset = load_dataset(config, seed=0)
    if not dataset.has_texts:
        raise UserError(f"{dataset.name} holds {dataset.modality} data; {PROG} adds text documents to a text run")
    if not config.get("id_column"):
        dataset.ids = np.array([f"update{update}-{row}" for row in range(len(dataset))])
    dataset.ids = dataset.ids.astype(str)
    clashing = np.intersect1d(dataset.ids, known_ids)
    if len(clashing):
        raise UserError(
            f"{len(clashing)} of the new documents have ids the run has already (e.g. '{clashing[0]}'); "
            "give them ids of their own (data.id_column) or leave data.id_column unset"
        )
    return dataset


def update(argv: Sequence[str]) -> None:
    from textcluster.topics_command import load_run

    run_dir, plugins_dir, overrides = parse_arguments(argv)
    folder, pipeline, dataset, embeddings, labels = load_run(run_dir)
    number = len(pipeline.updates_) + 1
    new = new_documents(overrides, plugins_dir, number, dataset.ids.astype(str))
    start = time.perf_counter()
    pipeline.documents_, pipeline.embeddings_, pipeline.labels_ = dataset.texts, np.asarray(embeddings), labels
    pipeline.partial_fit(new)
    edits_before = len(pipeline.topic_edits_)
    both = _joined(dataset, new)
    write_corpus(folder, both, pipeline, number, len(dataset), edits_before)
    print(describe(pipeline.updates_[-1], pipeline, number, time.perf_counter() - start, folder))


def _joined(first, second):
    from textcluster.dataset import Dataset

    def both(a, b):
        return None if a is None or b is None else np.concatenate([np.asarray(a), np.asarray(b)])

    return Dataset(
        name=first.name,
        texts=list(first.texts) + list(second.texts),
        ids=np.concatenate([first.ids.astype(str), second.ids.astype(str)]),
        labels=both(first.labels, second.labels),
        times=both(first.times, second.times),
        groups=both(first.groups, second.groups),
    )


def write_corpus(folder: Path, dataset, pipeline, number: int, n_before: int, edits_before: int) -> None:
    """The documents and embeddings first (rows of an update whose model is not saved yet are left out when
    the run is read), then the model and every file that follows from it."""
    from textcluster.reporting.files import write_json
    from textcluster.reporting.run_folder import DOCUMENTS_FILE, read_documents, write_documents
    from textcluster.storage import atomic_write
    from textcluster.topics_command import rewrite

    _, bookkeeping = read_documents(folder)
    added = len(dataset) - n_before
    topics = np.concatenate([bookkeeping["fit_topic"].to_numpy()[:n_before], pipeline.labels_[n_before:]])
    update = np.concatenate([bookkeeping["update"].to_numpy()[:n_before], np.full(added, number)])
    since = np.concatenate([bookkeeping["edits_before"].to_numpy()[:n_before], np.full(added, edits_before)])
    embeddings = np.asarray(pipeline.embeddings_, dtype=np.float32)
    atomic_write(folder / "embeddings.npy", lambda handle: np.save(handle, embeddings, allow_pickle=False))
    write_documents(folder / DOCUMENTS_FILE, dataset, topics, update, since)
    rewrite(folder, pipeline, dataset)
    write_json(folder / UPDATES_FILE, pipeline.updates_)


def describe(report: dict, pipeline, number: int, seconds: float, folder: Path) -> str:
    labels = dict(zip(pipeline.topic_info().topic.astype(str), pipeline.topic_info().label))
    lines = [f"update {number}: {report['documents']} documents in {seconds:.1f} s; {folder} rewritten"]
    lines.append(f"  fit a topic: {report['fitted']} ({report['unfit']} fit none)")
    for topic, size in report["new_topics"].items():
        lines.append(f"  new topic {topic}: {labels.get(topic, '')} ({size} documents)")
    grown = sorted(report["grown"].items(), key=lambda item: -item[1])[:10]
    if grown:
        lines.append("  grown: " + ", ".join(f"{topic} +{count}" for topic, count in grown))
    if report["drift"]:
        topic, moved = max(report["drift"].items(), key=lambda item: item[1])
        lines.append(f"  largest centre move: cluster {topic}, {moved:.2f} of its radius")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    run_command(PROG, USAGE, __doc__, argv, update)


if __name__ == "__main__":
    main()
