"""The ``textcluster`` command: Hydra composes the config, the experiment runs, a summary prints."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from textcluster.config import (
    choice_overrides,
    compose_unresolved,
    config_dir,
    plugins_dir_from_overrides,
    recipe_overrides,
    search_path_override,
    settled_overrides,
)
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


def format_summary(cfg: DictConfig, run: Run, run_dir: Path) -> str:
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    stages = " ".join(
        f"{group}={choices.get(group, cfg[group].get('name'))}" for group in ("encoder", "reducer", "clusterer")
    )
    dataset, pipeline = run.dataset, run.pipeline
    lines = [f"\n{dataset.name}: {len(dataset)} {dataset.modality} items | {stages} | seed={cfg.seed}"]
    for key in SUMMARY_METRICS:
        if key in pipeline.metrics_:
            lines.append(f"  {key:<21} {pipeline.metrics_[key]:.4f}")
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


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def hydra_main(cfg: DictConfig) -> float:
    """One run; returns its objective (see ``objective`` in conf/config.yaml), which a sweeper maximises."""
    from textcluster.checks import check_config
    from textcluster.config import to_plain
    from textcluster.reporting.run_guard import discard_if_fresh

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        check_config(to_plain(cfg))  # imports no torch, scikit-learn or UMAP: a typo is reported in a second
        from textcluster.experiment import run_experiment  # torch and scikit-learn: only once a run starts

        run = run_experiment(cfg, run_dir)
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


def with_override(argv: list[str], extra: str) -> list[str]:
    """``argv`` with ``extra`` placed beside the user's overrides.

    Hydra reads its overrides as one run of positional arguments: appended
    after ``--cfg job`` an extra override would be a second run, which argparse
    refuses ("unrecognized arguments"). So it goes right after the first
    override (a ``key=value`` word), or at the end when there is none.
    """
    for index, word in enumerate(argv):
        if "=" in word and not word.startswith("-"):
            return argv[: index + 1] + [extra] + argv[index + 1 :]
    return argv + [extra]


def resolved_recipe(argv: list[str]) -> list[str]:
    """The overrides that resolve ``encoder=auto`` / ``reducer=auto`` for this command line (see
    :func:`textcluster.config.recipe_overrides`), after checking that the command line composes.

    Hydra's own errors (an unknown key, group or option, a malformed override) would come later as several
    lines and exit 1; composing here first turns them into a UserError of one line with the closest valid
    name. A sweep's values are left out (every job shares the rest), as is everything when the command
    only asks for help or names another config (``--config-name``/``--config-path``/``--config-dir``:
    Hydra composes what this check cannot see, and says itself what is wrong).
    """
    arguments = hydra_arguments(argv)
    if arguments is None or arguments.help or arguments.hydra_help:
        return []
    other_config = arguments.config_name or arguments.config_path or arguments.config_dir
    try:
        settled = settled_overrides(arguments.overrides)
        choices = choice_overrides(settled)
        cfg = compose_unresolved(choices)
        swept = [
            compose_unresolved([*choices, f"clusterer={option}"]).clusterer.name
            for option in swept_options(arguments.overrides)
        ]
    except UserError:
        if other_config:
            return []
        raise
    recipe = recipe_overrides(cfg, swept)
    if (recipe or settled != choices) and not other_config:
        compose_unresolved(settled + recipe)  # the settings inside groups exist once the recipe has chosen them
    return recipe


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


def swept_options(words: list[str], group: str = "clusterer") -> list[str]:
    """The options of ``group=a,b,c`` on a sweep's command line (none when the group is not swept)."""
    values = [word.split("=", 1)[1] for word in words if word.startswith(f"{group}=") and "," in word]
    return [option.strip() for option in values[-1].split(",")] if values else []


def main() -> None:
    exit_on_user_error("textcluster", prepare_command_line)
    hydra_main()


def prepare_command_line() -> None:
    """Add the plugin config folders and the ``auto`` recipe to ``sys.argv``, checking the command line (a
    UserError: an unknown name, a malformed override, data that can be text or images with encoder=auto)."""
    extra = search_path_override(plugins_dir_from_overrides(sys.argv[1:]))
    if extra:
        sys.argv[1:] = with_override(sys.argv[1:], extra)
    for override in resolved_recipe(sys.argv[1:]):
        sys.argv[1:] = with_override(sys.argv[1:], override)


if __name__ == "__main__":
    main()
