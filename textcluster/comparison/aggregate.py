"""The comparison table from the runs' records: one row per configuration (runs that differ only in their seed),
labelled by the overrides that differ, with the metric columns chosen and checked, sorted best first."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textcluster.comparison.runs import TIME, Override, RunRecord
from textcluster.errors import UserError

DEFAULT_METRICS = (
    "acc",
    "nmi",
    "ari",
    "silhouette",
    "n_clusters",
    "noise_fraction",
    "noise_fraction_before",
    "npmi",
    "topic_diversity",
)
SHOWN_WHEN_NONZERO = {"noise_fraction", "noise_fraction_before"}  # defaults left out when no run has noise
LOWER_IS_BETTER = {"davies_bouldin", "noise_fraction", "noise_fraction_before", "noise_fraction_after"}
UNLABELLED_KEYS = {"recipe"}  # set by textcluster itself beside the encoder=/reducer= it resolved: no column


@dataclass
class Row:
    """One configuration: the runs that differ only in their seed."""

    overrides: dict[str, Override]
    runs: list[RunRecord]
    label: str = ""

    def values(self, metric: str) -> list[float]:
        return [run.values[metric] for run in self.runs if metric in run.values]

    def stats(self, metric: str) -> tuple[float, float]:
        return mean_std(self.values(metric))

    @property
    def seeds(self) -> list:
        return sorted({run.seed for run in self.runs}, key=str)


@dataclass
class Comparison:
    rows: list[Row]
    keys: list[str]  # the override keys that differ between rows
    metrics: list[str]  # the value columns, in order
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # Optuna's best params, how the rows are sorted
    plot_metric: str | None = None


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """``(mean, std)``, std the sample std (ddof=1, as the benchmark harness gives it); nan std for fewer
    than two values, nan mean for none."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return math.nan, math.nan
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else math.nan


def group_runs(records: Iterable[RunRecord]) -> list[Row]:
    """One row per set of overrides (``seed`` is not among them), in the order the runs come."""
    rows: dict[tuple, Row] = {}
    for record in records:
        key = tuple(sorted((name, o.canon) for name, o in record.overrides.items()))
        rows.setdefault(key, Row(record.overrides, []))
        rows[key].runs.append(record)
    return list(rows.values())


def differing_keys(rows: Sequence[Row]) -> list[str]:
    """The override keys whose value differs between rows (absent counts as a value), first seen first."""
    keys = list(dict.fromkeys(name for row in rows for name in row.overrides))
    return [
        key
        for key in keys
        if len({row.overrides[key].canon if key in row.overrides else None for row in rows}) > 1
        and key not in UNLABELLED_KEYS
    ]


def row_label(row: Row, keys: Sequence[str]) -> str:
    """``k=v`` for the differing keys the row sets; all its overrides when nothing differs."""
    if not keys:
        shown = [str(o) for o in row.overrides.values() if o.key not in UNLABELLED_KEYS]
        return " ".join(shown) or "(no overrides)"
    shown = [str(row.overrides[key]) for key in keys if key in row.overrides]
    return " ".join(shown) or f"(default {', '.join(keys)})"


def available_metrics(records: Sequence[RunRecord]) -> list[str]:
    """Every value a run has, in metrics.json's order, ``time_s`` last."""
    names = dict.fromkeys(name for record in records for name in record.values if name != TIME)
    return list(names) + ([TIME] if any(TIME in record.values for record in records) else [])


def default_metrics(records: Sequence[RunRecord]) -> list[str]:
    """The common metrics the runs have (noise fractions only when a run has noise); the first eight else."""
    have = available_metrics(records)
    nonzero = {name for record in records for name, value in record.values.items() if value != 0}
    chosen = [m for m in DEFAULT_METRICS if m in have and (m not in SHOWN_WHEN_NONZERO or m in nonzero)]
    return chosen or [m for m in have if m != TIME][:8]


def check_metric(name: str, available: Sequence[str], option: str) -> str:
    if name not in available:
        raise UserError(
            f"unknown metric '{name}' for {option}; these runs have: {', '.join(available)} (pick one of those)"
        )
    return name


def choose_metrics(
    records: Sequence[RunRecord], requested: Sequence[str] | None = None, extra: Sequence[str | None] = ()
) -> list[str]:
    """The value columns: ``requested`` (each checked) or the defaults, then ``extra`` (the sort and plot
    metrics) when missing, then ``time_s`` when the runs have it."""
    available = available_metrics(records)
    if requested:
        chosen = [check_metric(name, available, "--metrics") for name in requested]
    else:
        chosen = default_metrics(records)
    chosen += [name for name in extra if name and name not in chosen]
    if TIME in available and TIME not in chosen:
        chosen.append(TIME)
    return list(dict.fromkeys(chosen))


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER or metric.endswith("_s")


def sort_rows(rows: Sequence[Row], metric: str) -> list[Row]:
    """Best first by the mean of ``metric``; rows without it last."""

    def key(row: Row) -> tuple[int, float]:
        mean = row.stats(metric)[0]
        if math.isnan(mean):
            return 1, 0.0
        return 0, mean if lower_is_better(metric) else -mean

    return sorted(rows, key=key)


def default_plot_metric(metrics: Sequence[str], available: Sequence[str]) -> str | None:
    for name in ("nmi", "silhouette"):
        if name in available:
            return name
    return next((m for m in metrics if m != TIME), None)


def comparison(
    records: Sequence[RunRecord],
    skipped: Sequence[tuple[Path, str]] = (),
    metrics: Sequence[str] | None = None,
    sort: str | None = None,
    plot_metric: str | None = None,
    notes: Sequence[str] = (),
) -> Comparison:
    """The table: rows grouped over seeds, labelled, sorted; unknown metric names raise UserError."""
    available = available_metrics(records)
    for name, option in ((sort, "--sort"), (plot_metric, "--plot-metric")):
        if name:
            check_metric(name, available, option)
    columns = choose_metrics(records, metrics, (sort, plot_metric))
    rows = group_runs(records)
    keys = differing_keys(rows)
    for row in rows:
        row.label = row_label(row, keys)
    notes = list(notes)
    if sort:
        rows = sort_rows(rows, sort)
        notes.append(f"Sorted by {sort}, best ({'lowest' if lower_is_better(sort) else 'highest'}) first.")
    plot = plot_metric or sort or default_plot_metric(columns, available)
    return Comparison(rows, keys, columns, list(skipped), notes, plot)
