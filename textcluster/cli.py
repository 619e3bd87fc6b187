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
)
from textcluster.errors import RunInterrupted, UserError, WorkerFinished

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
        lines.append(
            f"  {'chosen k':<21} {selection.chosen} (n_clusters=auto, k from {selection.ks[0]} to {selection.ks[-1]})"
        )
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
    from textcluster.experiment import run_experiment  # torch and Lightning: only once a run starts

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        run = run_experiment(cfg, run_dir)
    except UserError as error:
        print(f"textcluster: error: {error}", file=sys.stderr)
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
    :func:`textcluster.config.recipe_overrides`); none where the command line does not compose (Hydra then
    says why) or where the data itself is swept (each job's data may differ)."""
    if any(word in ("--help", "-h", "--hydra-help") for word in argv):
        return []
    words = [word for word in argv if "=" in word and not word.startswith("-")]
    choices = choice_overrides(words)
    try:
        cfg = compose_unresolved(choices)
        options = swept_options(words)
        swept = [compose_unresolved([*choices, f"clusterer={option}"]).clusterer.name for option in options]
    except UserError:
        return []
    return recipe_overrides(cfg, swept)


def swept_options(words: list[str], group: str = "clusterer") -> list[str]:
    """The options of ``group=a,b,c`` on a sweep's command line (none when the group is not swept)."""
    values = [word.split("=", 1)[1] for word in words if word.startswith(f"{group}=") and "," in word]
    return [option.strip() for option in values[-1].split(",")] if values else []


def main() -> None:
    try:
        extra = search_path_override(plugins_dir_from_overrides(sys.argv[1:]))
    except UserError as error:
        print(f"textcluster: error: {error}", file=sys.stderr)
        sys.exit(2)
    if extra:
        sys.argv[1:] = with_override(sys.argv[1:], extra)
    try:
        recipe = resolved_recipe(sys.argv[1:])
    except UserError as error:  # data that can be text or images, with encoder=auto
        print(f"textcluster: error: {error}", file=sys.stderr)
        sys.exit(2)
    for override in recipe:
        sys.argv[1:] = with_override(sys.argv[1:], override)
    hydra_main()


if __name__ == "__main__":
    main()
