"""Run a composed config into a run folder: check it, load the data, fit the pipeline, write every file."""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textcluster import console
from textcluster.build import build_pipeline, load_data
from textcluster.config import to_plain
from textcluster.dataset import Dataset
from textcluster.errors import RunInterrupted, StateError, UserError, WorkerFinished
from textcluster.pipeline import Pipeline
from textcluster.progress import timed
from textcluster.reporting.files import (
    COMPLETED,
    FAILED,
    INTERRUPTED,
    RUNNING,
    write_json,
    write_status,
    write_status_if_possible,
    write_versions,
)
from textcluster.reporting.model_folder import MODEL_DIR, save_model
from textcluster.reporting.run_folder import write_results
from textcluster.reporting.topics_files import write_topic_tables
from textcluster.storage import cache_root_of_run, storage_errors

log = logging.getLogger(__name__)


@dataclass
class Run:
    """A finished run: the fitted pipeline, the data it was fitted on and where its files are."""

    pipeline: Pipeline
    dataset: Dataset
    run_dir: Path
    model_dir: Path | None
    objective: str = "nmi"  # the metric a sweeper maximises (the config's ``objective``, ``auto`` settled)

    @property
    def objective_value(self) -> float:
        """The objective's value; nan when the run has none (a skipped metric)."""
        value = self.pipeline.metrics_.get(self.objective)
        return math.nan if value is None else float(value)


def run_experiment(cfg: Any, run_dir: Path, pipeline: Pipeline | None = None) -> Run:
    """Check the config, load data, fit, write the run folder. Raises UserError on bad input.

    ``status.json`` says ``running`` until every other file (results, model, report, timings) is whole,
    then ``completed``; ``failed`` (with the error) or ``interrupted`` (Ctrl-C or SIGTERM, raised as
    :class:`RunInterrupted`) otherwise. A figure that cannot be drawn is left out of the report with a
    warning; a full disk or a refused write anywhere stops the run with one line (StorageError).
    ``pipeline``: built from ``cfg`` already (the command line builds it before the run folder says anything).
    """
    console.install()  # the stages quiet the libraries they import; this also covers the report's matplotlib
    config = to_plain(cfg)
    run_dir = Path(run_dir)
    with storage_errors(run_dir, RUN_DIR_FIX):
        run_dir.mkdir(parents=True, exist_ok=True)
        write_status(run_dir, RUNNING)
    with interruptible(), cache_root_of_run(config.get("cache_dir")):
        pipeline, dataset, model_dir = _fit_and_write(pipeline, config, run_dir)
    return Run(pipeline, dataset, run_dir, model_dir, settled_objective(config.get("objective", "auto"), pipeline))


def settled_objective(objective: str, pipeline: Pipeline) -> str:
    """``auto``: NMI against the labels when there are labels; without them an internal criterion, DBCV for
    density clusterers (their clusters need not be round, which silhouette assumes), silhouette otherwise;
    the other internal one where that one did not run."""
    if objective != "auto":
        return objective
    internal = ("dbcv", "silhouette") if pipeline.clusterer.density_based else ("silhouette", "dbcv")
    candidates = internal if "nmi" in pipeline.skipped_metrics_ else ("nmi", *internal)  # skipped: no labels
    return next((name for name in candidates if name in pipeline.metrics_), candidates[0])


TIMINGS_FILE = "timings.json"  # seconds per stage, the writing of the results and the report: written last
RESUME_HINT = "run the same command again to resume (finished encoding shards are kept in the cache)"


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C and SIGTERM raise :class:`RunInterrupted` while the block runs (then the old handlers return).

    Lightning turns a KeyboardInterrupt into ``sys.exit(1)``; an exception of our own passes through it,
    so the run can say ``interrupted`` and keep what it finished.
    """
    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread
        yield
        return

    def stop(signum: int, _frame) -> None:
        raise RunInterrupted(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


RUN_DIR_FIX = "free some space or choose another run folder (hydra.run.dir=...)"


def _fit_and_write(
    pipeline: Pipeline | None, config: dict[str, Any], run_dir: Path
) -> tuple[Pipeline, Dataset, Path | None]:
    try:
        with storage_errors(run_dir, RUN_DIR_FIX):  # a write that no writer translated still gets one line
            pipeline = pipeline or build_pipeline(config, log_dir=run_dir)  # checked before any data loads
            dataset = _fit(pipeline, config, run_dir)
            model_dir = _write(config, run_dir, pipeline, dataset)
    except WorkerFinished:  # a ddp worker process: rank 0 owns the run folder
        raise
    except (RunInterrupted, KeyboardInterrupt) as stop:
        how = stop.args[0] if isinstance(stop, RunInterrupted) and stop.args else "SIGINT"
        write_status_if_possible(run_dir, INTERRUPTED, f"stopped by {how}; {RESUME_HINT}")
        raise
    except BaseException as error:
        message = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
        write_status_if_possible(run_dir, FAILED, message)
        raise
    return pipeline, dataset, model_dir


def _fit(pipeline: Pipeline, config: dict[str, Any], run_dir: Path) -> Dataset:
    if pipeline.cache is not None:
        pipeline.cache.check_writable()  # before the data loads, not after an hour of encoding
    write_versions(run_dir, int(config["seed"]), pipeline.uses_torch)
    dataset = load_data(config)
    log.info(
        "data: %s, %d %s items%s",
        dataset.name,
        len(dataset),
        dataset.modality,
        f", {dataset.n_classes} classes" if dataset.has_labels else "",
    )
    pipeline.fit(dataset)
    record_recipe(config, pipeline)
    return dataset


def record_recipe(config: dict[str, Any], pipeline: Pipeline) -> None:
    """What ``encoder=auto`` / ``reducer=auto`` became, in the config the model folder and the report keep
    (``recipe`` and the settled stages' settings); the pipeline logs it as it fits."""
    if pipeline.recipe_ is None:
        return
    config["recipe"] = pipeline.recipe_.describe()
    for group, stage in (("encoder", pipeline.encoder_), ("reducer", pipeline.reducer_)):
        if group in pipeline.recipe_.options:
            config[group] = {"name": stage.key(), **stage.get_params()}


def _write(config: dict[str, Any], run_dir: Path, pipeline: Pipeline, dataset: Dataset) -> Path | None:
    """Results, model, report and timings, each file whole; ``completed`` last, once all of them are."""
    timings = dict(pipeline.timings_)
    with timed(timings, "write_s"):
        topics = write_results(run_dir, pipeline, dataset)
        time_bins = config["data"].get("time_bins", "auto")  # data.time_column's bins
        write_topic_tables(run_dir, pipeline.topics_, dataset, time_bins)
        model_dir = save_run_model(run_dir, pipeline, config)
    with timed(timings, "report_s"):
        if config.get("report", True):
            from textcluster.reporting.report import write_report_safely

            report_map = str(config.get("report_map") or "auto")
            write_report_safely(run_dir, pipeline, dataset, config, report_map, topics)
    write_json(run_dir / TIMINGS_FILE, {key: round(seconds, 3) for key, seconds in timings.items()})
    write_status(run_dir, COMPLETED)
    return model_dir


def save_run_model(run_dir: Path, pipeline: Pipeline, config: dict[str, Any]) -> Path | None:
    """``<run_dir>/model/`` for ``textcluster-predict`` and ``Pipeline.load``; a stage without a safe state
    (a third-party plugin holding a Python object) leaves a warning instead of a model."""
    try:
        return save_model(pipeline, run_dir / MODEL_DIR, config)
    except StateError as error:
        log.warning("no model saved in %s: %s", run_dir, error)
        return None
