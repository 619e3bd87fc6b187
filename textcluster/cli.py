"""The ``textcluster`` command: Hydra composes the config, the experiment runs, a summary prints."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from textcluster.config import check_overrides, config_dir, hydra_error_message, register_auto_options, with_search_path
from textcluster.errors import (
    NoClustersError,
    RunInterrupted,
    StorageError,
    UserError,
    WorkerFinished,
    exit_on_user_error,
)

if TYPE_CHECKING:
    from textcluster.experiment import Run

SUMMARY_METRICS = (
    "acc",
    "nmi",
    "ari",
    "ami",
    "purity",
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "dbcv",
    "n_clusters",
    "noise_fraction",
    "noise_fraction_before",
    "npmi",
    "topic_diversity",
)


COUNT_METRICS = ("n_clusters",)  # counts print as whole numbers, not 12.0000


def summary_value(key: str, value: float) -> str:
    return str(int(value)) if key in COUNT_METRICS and float(value).is_integer() else f"{value:.4f}"


def format_summary(cfg: DictConfig, run: Run, run_dir: Path) -> str:
    choices = dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}
    if run.pipeline.recipe_ is not None:  # what encoder=auto / reducer=auto became
        choices.update(run.pipeline.recipe_.options)
    stages = " ".join(
        f"{group}={choices.get(group, cfg[group].get('name'))}" for group in ("encoder", "reducer", "clusterer")
    )
    dataset, pipeline = run.dataset, run.pipeline
    lines = [f"\n{dataset.name}: {len(dataset)} {dataset.modality} items | {stages} | seed={cfg.seed}"]
    for key in SUMMARY_METRICS:
        if key in pipeline.metrics_:
            lines.append(f"  {key:<21} {summary_value(key, pipeline.metrics_[key])}")
    if pipeline.k_selection_ is not None:
        selection = pipeline.k_selection_
        lines.append(f"  {'chosen k':<21} {selection.describe()}")
    by_reason: dict[str, list[str]] = {}
    for key, reason in pipeline.skipped_metrics_.items():
        by_reason.setdefault(reason, []).append(key)
    for reason, keys in by_reason.items():
        lines.append(f"  {', '.join(keys)} skipped: {reason}")
    lines.append(f"  {'objective':<21} {run.objective} ({run.objective_value:.4f}, what a sweep maximises)")
    lines.append(f"  {'time_s':<21} {sum(pipeline.timings_.values()):.1f}")
    lines.append(f"run folder: {run_dir}")
    if (Path(run_dir) / "report.html").is_file():
        lines.append(f"report: {Path(run_dir) / 'report.html'}")
    return "\n".join(lines)


def run_job(cfg: DictConfig) -> float:
    """One run; returns its objective (see ``objective`` in conf/config.yaml), which a sweeper maximises."""
    from textcluster.checks import check_config
    from textcluster.config import to_plain
    from textcluster.reporting.run_guard import discard_if_fresh

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        config = to_plain(cfg)
        check_config(config)  # imports no torch, scikit-learn or UMAP: a typo is reported in a second
        from textcluster.build import build_pipeline
        from textcluster.experiment import run_experiment  # torch and scikit-learn: only once a run starts

        pipeline = build_pipeline(config, log_dir=run_dir)  # the stages checked together, before any status
        run = run_experiment(cfg, run_dir, pipeline)
    except UserError as error:
        print(f"textcluster: error: {error}", file=sys.stderr)
        if isinstance(error, NoClustersError) and in_a_sweep():  # a trial that found nothing: the worst, not the end
            return objective_for_the_sweeper(str(cfg.get("objective", "auto")), math.nan)
        if not isinstance(error, StorageError):  # a refused config or unreadable data leaves no folder behind
            discard_if_fresh(run_dir)
        sys.exit(2)  # in a sweep too: values the search space offers that cannot work stop it, named
    except WorkerFinished:  # a ddp worker process: its share is encoded, rank 0 reports the run
        sys.exit(0)
    except (KeyboardInterrupt, RunInterrupted):
        print(
            f"textcluster: interrupted; {run_dir / 'status.json'} says so. Run the same command again to resume",
            file=sys.stderr,
        )
        sys.exit(130)
    print(format_summary(cfg, run, run_dir))
    return objective_for_the_sweeper(run.objective, run.objective_value)


def in_a_sweep() -> bool:
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def objective_for_the_sweeper(name: str, value: float) -> float:
    """The run's objective; a skipped one (a single cluster has no silhouette) is the worst value a sweep
    can get, -inf when it maximises, not nan, which would stop an Optuna search."""
    if not math.isnan(value) or not HydraConfig.initialized():
        return value
    direction = str(HydraConfig.get().sweeper.get("direction", "maximize"))
    worst = math.inf if direction.endswith("minimize") else -math.inf
    print(f"  objective {name} was skipped (see above): the sweep scores this run {worst}", file=sys.stderr)
    return worst


def hydra_arguments(argv: list[str]):
    """``argv`` read by Hydra's own argument parser (its overrides are the words it will compose), or None
    where the command composes nothing (``--version``, shell completion, a rerun) or the parser refuses it
    (Hydra then prints its usage)."""
    import argparse

    from hydra._internal.utils import get_args_parser

    if "--version" in argv:  # argparse's version action prints and exits while parsing
        return None
    parser = get_args_parser()
    parser.exit_on_error = False

    def refuse(message: str):
        raise argparse.ArgumentError(None, message)

    parser.error = refuse  # argparse would print and exit from inside parse_known_args
    try:
        arguments, unparsed = parser.parse_known_args(argv)
    except argparse.ArgumentError:
        return None
    if unparsed or arguments.shell_completion or arguments.experimental_rerun:
        return None
    chosen = (arguments.run, arguments.multirun, arguments.cfg is not None, arguments.info is not None)
    modes = [flag for flag, given in zip(("--run", "-m", "--cfg", "--info"), chosen) if given]
    if len(modes) > 1:  # Hydra would raise a ValueError, with a traceback
        raise UserError(f"{' and '.join(modes)} cannot go together: give one of --run, -m, --cfg and --info")
    return arguments


def main() -> None:
    exit_on_user_error("textcluster", run_hydra)


def run_hydra() -> None:
    """What ``@hydra.main`` does, with two differences: the plugin config folders join Hydra's search path
    (beside the user's own ``hydra.searchpath``), and Hydra's errors about the command line (an unknown key,
    group or option, a malformed override) are one line with the closest valid name, before any run folder.
    ``sys.argv`` is read, not edited; Hydra composes each job's config once."""
    from hydra import version
    from hydra._internal.utils import _run_hydra, get_args_parser
    from hydra.main import _get_rerun_conf

    arguments = hydra_arguments(sys.argv[1:])
    if arguments is None:  # --version, shell completion or a command line argparse refuses: Hydra's own handling
        arguments = get_args_parser().parse_args()
    else:
        check_overrides(arguments.overrides)
        arguments.overrides = with_search_path(arguments.overrides)
    register_auto_options()
    version.setbase("1.3")
    if arguments.experimental_rerun is not None:
        run_job(_get_rerun_conf(arguments.experimental_rerun, arguments.overrides))
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises its errors instead of printing them and exiting 1
    try:
        with config_repository_copied_once() if arguments.help else contextlib.nullcontext():
            _run_hydra(
                args=arguments,
                args_parser=get_args_parser(),
                task_function=run_job,
                config_path=str(config_dir()),
                config_name="config",
            )
    except Exception as error:
        if not _a_command_line_error(error):
            raise
        raise UserError(hydra_error_message(error)) from None


@contextlib.contextmanager
def config_repository_copied_once():
    """While ``--help`` prints, Hydra's config loader answers from one copy of its config repository.

    Hydra's help lists the config groups by asking its loader about 100 questions (the groups, each group's
    options, all twice), and the loader deep-copies the whole repository, ConfigStore's structured configs
    included, for each one: most of ``textcluster --help``'s time after the imports. The answers do not change
    while help prints, since nothing moves the search path, so each distinct question copies it once.
    """
    from unittest import mock

    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    copy_for = getattr(ConfigLoaderImpl, "_parse_overrides_and_create_caching_repo", None)
    if copy_for is None:  # a Hydra whose loader is built otherwise: its own help, at its own speed
        yield
        return
    copies: dict[tuple, Any] = {}

    def copied_once(loader, config_name, overrides):
        key = (id(loader), config_name, tuple(overrides))
        if key not in copies:
            copies[key] = copy_for(loader, config_name, overrides)
        return copies[key]

    with mock.patch.object(ConfigLoaderImpl, "_parse_overrides_and_create_caching_repo", copied_once):
        yield


def _a_command_line_error(error: Exception) -> bool:
    """Whether Hydra raised ``error`` composing a config (not a run: its errors are UserErrors, or bugs that
    keep their traceback)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(error, (HydraException, OmegaConfBaseException, ValueError)):
        return False
    frames, traceback = [], error.__traceback__
    while traceback is not None:
        frames.append(traceback.tb_frame.f_code)
        traceback = traceback.tb_next
    return run_job.__code__ not in frames


if __name__ == "__main__":
    main()
