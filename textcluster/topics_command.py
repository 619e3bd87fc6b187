"""``textcluster-topics``: list and edit the topics of a finished text run, without encoding anything again.

    textcluster-topics RUN_DIR [ACTION [ARGUMENTS]]

The actions:

    textcluster-topics RUN_DIR                                   the topics, largest first
    textcluster-topics RUN_DIR merge 3 7 [9 ...]                 join topics into the smallest id
    textcluster-topics RUN_DIR rename 3 "encryption"             a label of your own
    textcluster-topics RUN_DIR update topics.vectorizer.max_df=0.15 [topics.top_n_words=5 ...]
    textcluster-topics RUN_DIR split 5 [N]                       topic 5 into N sub-topics (2 by default)
    textcluster-topics RUN_DIR reduce-outliers                   every outlier (-1) to its nearest topic
    textcluster-topics RUN_DIR edits                             the edits made so far, in order

An edit changes the saved model (so ``textcluster-predict`` and ``Pipeline.load`` follow it), then rewrites
``assignments.csv``, ``topics.json`` / ``topics.md``, the topic tables and ``report.html`` (whose metrics stay
the fit's), and lists the edits in ``topic_edits.json``. It reads the run folder only: the documents kept in
``documents.parquet``, the embeddings in ``embeddings.npy``. The model is written first, and every other file
follows from it (the fit's topics replayed through the model's edits), so a stop between two files is mended
by the next command.

Bad input ends with one line, ``textcluster-topics: error: ...``, and exit status 2.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.errors import UserError, run_command

PROG = "textcluster-topics"
EDITS_FILE = "topic_edits.json"
ACTIONS = {  # action -> (arguments it takes, what they are)
    "merge": ("TOPIC TOPIC [TOPIC ...]", "two or more topic ids"),
    "rename": ("TOPIC LABEL", "a topic id and its new label"),
    "update": ("topics.KEY=VALUE [...]", "topic settings, e.g. topics.vectorizer.max_df=0.15"),
    "split": ("TOPIC [N]", "a topic id and the number of parts (2 by default)"),
    "reduce-outliers": ("", "nothing"),
    "edits": ("", "nothing"),
}
USAGE = f"usage: {PROG} RUN_DIR [" + " | ".join(f"{a} {args}".strip() for a, (args, _) in ACTIONS.items()) + "]"

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------- arguments


def parse_arguments(argv: Sequence[str]) -> tuple[str, str | None, list[str]]:
    """``(run folder, action or None, its arguments)``, each checked before anything is read."""
    if not argv:
        raise UserError(f"give a run folder. {USAGE}")
    run_dir, action, rest = argv[0], (argv[1] if len(argv) > 1 else None), list(argv[2:])
    if action is None:
        return run_dir, None, []
    if action not in ACTIONS:
        raise UserError(f"unknown action '{action}'; the actions are {', '.join(ACTIONS)}. {USAGE}")
    counts = {"merge": (2, None), "rename": (2, 2), "update": (1, None), "split": (1, 2)}
    low, high = counts.get(action, (0, 0))
    if len(rest) < low or (high is not None and len(rest) > high):
        raise UserError(
            f"{action} takes {ACTIONS[action][1]}, got {len(rest)} argument(s): {action} {ACTIONS[action][0]}"
        )
    return run_dir, action, rest


def _topic_id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"'{text}' is not a topic id; give the numbers `{PROG} RUN_DIR` lists") from None


def update_settings(arguments: Sequence[str]) -> dict[str, Any]:
    """``topics.vectorizer.max_df=0.15`` -> ``{"vectorizer.max_df": 0.15}`` (values read as YAML, as Hydra does)."""
    import yaml

    settings = {}
    for argument in arguments:
        key, sep, value = argument.partition("=")
        if not sep or not key.startswith("topics."):
            raise UserError(f"update takes topics.KEY=VALUE, e.g. topics.vectorizer.max_df=0.15; got '{argument}'")
        settings[key.removeprefix("topics.")] = yaml.safe_load(value)
    return settings


# ------------------------------------------------------------------------------------- the run folder


def load_run(run_dir: str):
    """``(run folder, fitted pipeline, its documents, their embeddings, their current topics)``."""
    from textcluster.api import Pipeline
    from textcluster.reporting.model_folder import MODEL_DIR, find_model_dir
    from textcluster.reporting.run_folder import DOCUMENTS_FILE, read_documents

    model_dir = find_model_dir(run_dir)
    folder = model_dir.parent
    if model_dir.name != MODEL_DIR or not (folder / DOCUMENTS_FILE).is_file():
        raise UserError(
            f"{run_dir} is not the run folder of a text run with its documents ({DOCUMENTS_FILE}); edit a model "
            "without one in Python: Pipeline.load(...).merge_topics([...], documents=<the texts of the fit>)"
        )
    pipeline = Pipeline.load(folder)
    if pipeline.topics_ is None:
        raise UserError(f"the run in {folder} has no topics to edit (it ran with topics=none)")
    dataset, bookkeeping = read_documents(folder)
    if not (folder / "embeddings.npy").is_file():
        raise UserError(
            f"{folder} keeps no embeddings.npy (the run clustered vectors it was given); edit it in Python with "
            "Pipeline.load(...).merge_topics([...], documents=..., embeddings=<the vectors>)"
        )
    embeddings = np.load(folder / "embeddings.npy", mmap_mode="r", allow_pickle=False)
    if len(embeddings) != len(dataset):
        raise UserError(f"{folder}: embeddings.npy and {DOCUMENTS_FILE} disagree in length; run the experiment again")
    kept = bookkeeping["update"].to_numpy() <= len(pipeline.updates_)
    if not kept.all():  # documents written by an update stopped before its model was saved
        log.warning("%d documents of an update that did not finish are left out; add them again", (~kept).sum())
        dataset, embeddings, bookkeeping = dataset.select(np.flatnonzero(kept)), embeddings[kept], bookkeeping[kept]
    return folder, pipeline, dataset, embeddings, current_topics(bookkeeping, embeddings, pipeline.topic_edits_)


def current_topics(bookkeeping, embeddings: np.ndarray, edits: list) -> np.ndarray:
    """Each document's topic now: its stored topic replayed through the edits made after it was stored."""
    from textcluster.topic_editing import route

    topics = bookkeeping["fit_topic"].to_numpy().copy()
    since = bookkeeping["edits_before"].to_numpy()
    for start in np.unique(since):
        rows = np.flatnonzero(since == start)
        topics[rows] = route(topics[rows], np.asarray(embeddings[rows]), edits[start:])
    return topics


def apply(pipeline, action: str, arguments: list[str], corpus: dict[str, Any]) -> None:
    if action == "merge":
        pipeline.merge_topics([_topic_id(a) for a in arguments], **corpus)
    elif action == "rename":
        pipeline.rename_topic(_topic_id(arguments[0]), arguments[1])
    elif action == "update":
        pipeline.update_topics(**corpus, **update_settings(arguments))
    elif action == "split":
        if len(arguments) > 1 and not arguments[1].isdigit():
            raise UserError(f"split TOPIC [N]: N is a whole number of parts, got '{arguments[1]}'")
        pipeline.split_topic(_topic_id(arguments[0]), int(arguments[1]) if len(arguments) > 1 else 2, **corpus)
    elif action == "reduce-outliers":
        pipeline.reduce_outliers(**corpus)


def rewrite(folder: Path, pipeline, dataset) -> None:
    """The model first, then every file that follows from it."""
    from textcluster.reporting.files import write_json, write_rows
    from textcluster.reporting.model_folder import MODEL_DIR, save_model
    from textcluster.reporting.topics_files import write_topic_tables, write_topics

    config = pipeline.config or {}
    save_model(pipeline, folder / MODEL_DIR, config)
    topics, labels = pipeline.topics_, pipeline.labels_
    write_rows(folder / "assignments.csv", dataset, labels, topic_labels=topics.label_of(labels))
    payload = write_topics(folder, topics, dataset.texts, dataset.ids)
    write_topic_tables(folder, topics, dataset, (config.get("data") or {}).get("time_bins", "auto"))
    write_json(folder / EDITS_FILE, [edit_record(edit) for edit in pipeline.topic_edits_])
    if (folder / "report.html").is_file():
        rewrite_report(folder, pipeline, dataset, payload["topics"])


def edit_record(edit: dict[str, Any]) -> dict[str, Any]:
    """An edit as topic_edits.json lists it: the arrays (split and outlier centres) stay in the model."""
    return {key: value for key, value in edit.items() if not isinstance(value, np.ndarray)}


def rewrite_report(folder: Path, pipeline, dataset, topics: list[dict]) -> None:
    import json

    from textcluster.reporting.report import write_report_safely

    def read(name: str) -> dict:
        path = folder / name
        return json.loads(path.read_text()) if path.is_file() else {}

    timings = read("timings.json")
    pipeline.metrics_ = {k: v for k, v in read("metrics.json").items() if k not in timings and k != "n_samples"}
    pipeline.skipped_metrics_, pipeline.timings_ = read("skipped_metrics.json"), {}
    config = pipeline.config or {}
    write_report_safely(folder, pipeline, dataset, config, str(config.get("report_map") or "auto"), topics)


# ------------------------------------------------------------------------------------- the command


def run(argv: Sequence[str]) -> None:
    run_dir, action, arguments = parse_arguments(argv)
    if action == "update":
        update_settings(arguments)  # a malformed setting fails before the run folder is read
    folder, pipeline, dataset, embeddings, labels = load_run(run_dir)
    if action == "edits":
        for number, edit in enumerate(pipeline.topic_edits_, 1):
            print(f"{number}. " + " ".join(f"{k}={v}" for k, v in edit_record(edit).items()))
        return
    if action is not None:
        start = time.perf_counter()
        corpus = {"documents": dataset.texts, "embeddings": embeddings, "labels": labels}
        apply(pipeline, action, arguments, corpus)
        if action == "rename":  # the loaded topics hold no corpus; the files need it (coherence, sizes)
            pipeline.refresh_topics(**corpus)
        rewrite(folder, pipeline, dataset)
        print(
            f"{action}: done in {time.perf_counter() - start:.1f} s; {folder} rewritten ({EDITS_FILE} lists the edits)"
        )
    print(topic_table(pipeline))


def topic_table(pipeline) -> str:
    info = pipeline.topic_info()
    lines = [f"{'topic':>5}  {'size':>7}  label"]
    lines += [f"{row.topic:>5}  {row.size:>7,}  {row.label}" for row in info.itertuples()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    run_command(PROG, USAGE, __doc__, argv, run)


if __name__ == "__main__":
    main()
