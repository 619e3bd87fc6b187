"""``textcluster-compare``: the runs of a sweep side by side, one row per configuration.

    textcluster-compare outputs/multirun/2026-12-02/13-28-07
    textcluster-compare outputs/multirun/2026-12-02 outputs/2026-12-01/09-00-00 --sort nmi --metrics acc,nmi,ari

Each path is a run folder (it holds ``metrics.json`` or ``status.json``) or a folder holding run folders
at any depth (a multirun folder). A row is one configuration: the run's overrides
(``.hydra/overrides.yaml``) without ``seed``; runs that differ only in ``seed`` are one row, each value
the mean ± std over them (the sample std, ddof=1, as benchmarks/run.py gives it; none for a single run),
with the number of seeds. The
columns: the override keys whose values differ between rows, a ``configuration`` label, the metrics
of ``metrics.json`` (``--metrics a,b,c``; by default the common ones the runs have) and ``time_s``,
the run's seconds summed over its stages (``timings.json``, else the ``*_s`` keys of ``metrics.json``).
Runs whose ``status.json`` is not ``completed`` are left out, each with one line saying why. An Optuna
sweep's ``optimization_results.yaml`` (best params and value) is shown under the table.

Options:

* ``--metrics a,b,c``: the metric columns (any key of metrics.json, or ``time_s``);
* ``--sort METRIC``: rows best first by that metric (lower is better for times, ``davies_bouldin``
  and the noise fractions; higher for the others);
* ``--plot-metric METRIC``: the metric of compare.html's bar chart (default: the ``--sort`` metric,
  else nmi when the runs have it, else silhouette);
* ``--out DIR``: where compare.md, compare.csv and compare.html go (default: the first path when it
  is a multirun folder, else the current folder).

The markdown table goes to stdout; skipped folders and the files written to stderr. Bad input ends
with one line, ``textcluster-compare: error: ...``, and exit status 2.

A run folder is data: its JSON is read with ``json``, its YAML with ``yaml.safe_load``; nothing in it runs.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.errors import StorageError, UserError, exit_on_user_error
from textcluster.reporting.files import COMPLETED, STATUS_FILE, write_csv
from textcluster.reporting.style import CSS  # the run report's look
from textcluster.storage import write_text

PROG = "textcluster-compare"
USAGE = (
    f"usage: {PROG} PATH [PATH ...] [--metrics a,b,c] [--sort METRIC] [--plot-metric METRIC] [--out DIR] "
    "(PATH: a run folder or a multirun folder such as outputs/multirun/<date>/<time>)"
)

METRICS_FILE = "metrics.json"
TIMINGS_FILE = "timings.json"  # textcluster.experiment.TIMINGS_FILE (not imported: that module loads torch)
VERSIONS_FILE = "versions.json"
OVERRIDES_FILE = Path(".hydra") / "overrides.yaml"
CONFIG_FILE = Path(".hydra") / "config.yaml"
OPTUNA_FILE = "optimization_results.yaml"
OUTPUT_FILES = ("compare.md", "compare.csv", "compare.html")

TIME = "time_s"
SEED = "seed"
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
MISSING = "–"


# ------------------------------------------------------------------------------------- the records


@dataclass(frozen=True)
class Override:
    """One ``key=value`` of ``.hydra/overrides.yaml``: ``text`` as written, ``canon`` for grouping
    (Hydra's typed value, so ``report=false`` and ``report=False`` are the same)."""

    key: str
    text: str
    canon: str

    def __str__(self) -> str:
        return self.key if self.key.startswith("~") and not self.text else f"{self.key}={self.text}"


@dataclass
class RunRecord:
    """A completed run folder: its overrides (without ``seed``), its seed and its numbers (``time_s`` too)."""

    path: Path
    overrides: dict[str, Override]
    seed: Any
    values: dict[str, float]


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


class SkipRun(Exception):
    """A run folder left out of the comparison; the message says why."""


# ------------------------------------------------------------------------------------- pure table logic


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """``(mean, std)``, std the sample std (ddof=1, as the benchmark harness gives it); nan std for fewer
    than two values, nan mean for none."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return math.nan, math.nan
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else math.nan


def parse_overrides(lines: Iterable[str]) -> dict[str, Override]:
    """``key -> Override`` from the lines of ``.hydra/overrides.yaml`` (Hydra's override grammar)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    found = {}
    for line in lines:
        key, _, text = str(line).partition("=")
        key, canon = key.lstrip("+"), json.dumps(text)
        try:
            parsed = parser.parse_override(str(line))
            key = parsed.key_or_group + (f"@{parsed.package}" if parsed.package else "")
            key = ("~" if parsed.is_delete() else "") + key
            canon = json.dumps(parsed.value(), sort_keys=True, default=str)
        except Exception:  # a line Hydra's grammar does not take: compared as written
            pass
        found[key] = Override(key, text, canon)
    return found


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


# ------------------------------------------------------------------------------------- formatting


def decimals(metric: str, value: float) -> int:
    if metric.endswith("_s"):  # seconds
        return 2 if abs(value) < 10 else 1
    return 1 if abs(value) >= 100 else 4


def format_number(value: float, metric: str = "") -> str:
    """4 decimals (1 from 100 up; seconds: 2, 1 from 10 s up); whole numbers (n_clusters) as integers."""
    if math.isnan(value):
        return MISSING
    if not metric.endswith("_s") and float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.{decimals(metric, value)}f}"


def format_cell(row: Row, metric: str) -> str:
    """``mean ± std`` (just the mean for one run, ``–`` for none)."""
    mean, std = row.stats(metric)
    if math.isnan(std):
        return format_number(mean, metric)
    if std == 0 and format_number(mean, metric).lstrip("-").isdigit():
        return f"{format_number(mean, metric)} ± 0"
    places = decimals(metric, mean)
    return f"{mean:.{places}f} ± {std:.{places}f}"


def seeds_cell(row: Row) -> str:
    n_seeds, n_runs = len(row.seeds), len(row.runs)
    return str(n_seeds) if n_runs == n_seeds else f"{n_seeds} ({n_runs} runs)"


def table_cells(table: Comparison) -> tuple[list[str], list[list[str]]]:
    """The shown table (markdown and HTML): header and one list of strings per row."""
    header = ["configuration", *table.keys, "seeds", *table.metrics]
    body = []
    for row in table.rows:
        keys = [row.overrides[key].text if key in row.overrides else "(default)" for key in table.keys]
        body.append([row.label, *keys, seeds_cell(row), *(format_cell(row, m) for m in table.metrics)])
    return header, body


def footnotes(table: Comparison) -> list[str]:
    lines = [
        "Each value: mean ± std over the seeds of a configuration (sample std, ddof=1); "
        f"{TIME}: the run's seconds summed over its stages (timings.json)."
    ]
    return lines + table.notes


def title(table: Comparison) -> str:
    n_rows, n_runs = len(table.rows), sum(len(row.runs) for row in table.rows)
    return f"{PROG}: {n_rows} configuration{'s' * (n_rows != 1)}, {n_runs} run{'s' * (n_runs != 1)}"


def markdown(table: Comparison) -> str:
    header, body = table_cells(table)
    escape = lambda cell: cell.replace("|", "\\|")
    lines = [f"## {title(table)}", ""]
    lines.append("| " + " | ".join(map(escape, header)) + " |")
    lines.append("|" + "|".join(" --- " if i <= len(table.keys) else " ---: " for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(map(escape, cells)) + " |" for cells in body]
    lines += [""] + footnotes(table)
    if table.skipped:
        lines += ["", f"Skipped {len(table.skipped)} run folder(s):"]
        lines += [f"- `{path}`: {reason}" for path, reason in table.skipped]
    return "\n".join(lines) + "\n"


def csv_table(table: Comparison) -> tuple[list[str], list[list[Any]]]:
    """compare.csv: one column per value, ``<metric>_mean`` and ``<metric>_std`` apart, full precision."""
    header = ["configuration", *table.keys, "n_seeds", "n_runs", "seeds"]
    header += [f"{metric}_{part}" for metric in table.metrics for part in ("mean", "std")] + ["run_dirs"]
    body = []
    for row in table.rows:
        cells: list[Any] = [row.label]
        cells += [row.overrides[key].text if key in row.overrides else "" for key in table.keys]
        cells += [len(row.seeds), len(row.runs), " ".join(map(str, row.seeds))]
        for metric in table.metrics:
            cells += ["" if math.isnan(value) else value for value in row.stats(metric)]
        body.append(cells + [";".join(str(run.path) for run in row.runs)])
    return header, body


def bar_chart_html(table: Comparison, div_id: str = "compare-plot") -> str | None:
    """A plotly bar chart of ``table.plot_metric`` per configuration, std as error bars (plotly.js inlined)."""
    metric = table.plot_metric
    if metric is None or all(math.isnan(row.stats(metric)[0]) for row in table.rows):
        return None
    import plotly.graph_objects as go
    import plotly.io as pio

    stats = [row.stats(metric) for row in table.rows]
    figure = go.Figure(
        go.Bar(
            x=[row.label for row in table.rows],
            y=[None if math.isnan(mean) else mean for mean, _ in stats],
            error_y=dict(type="data", array=[0.0 if math.isnan(std) else std for _, std in stats], visible=True),
            customdata=[[len(row.seeds), format_cell(row, metric)] for row in table.rows],
            hovertemplate="%{x}<br>" + metric + " %{customdata[1]}<br>%{customdata[0]} seed(s)<extra></extra>",
            marker_color="#4c78a8",
        )
    )
    figure.update_layout(
        template="plotly_white",
        height=480,
        margin=dict(l=60, r=20, t=50, b=20),
        title=dict(text=f"{metric} per configuration (mean ± std over the seeds)"),
        yaxis=dict(title=dict(text=metric)),
        xaxis=dict(automargin=True, type="category"),
    )
    config = {"displaylogo": False, "showSendToCloud": False, "responsive": True}
    return pio.to_html(
        figure, full_html=False, include_plotlyjs=True, include_mathjax=False, div_id=div_id, config=config
    )


def html_table(table: Comparison) -> str:
    header, body = table_cells(table)
    first_number = len(table.keys) + 1
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    rows = [
        "<tr>"
        + "".join(
            f"<td{' class=num' if i >= first_number else ''}>{html.escape(cell)}</td>" for i, cell in enumerate(cells)
        )
        + "</tr>"
        for cells in body
    ]
    return f"<table id=compare-table><tr>{head}</tr>{''.join(rows)}</table>"


def html_page(table: Comparison, sources: Sequence[Path]) -> str:
    """compare.html: one standalone page, the bar chart, the table, the notes and the skipped folders."""
    chart = bar_chart_html(table)
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>{html.escape(title(table))}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title(table))}</h1>",
        f"<p class=meta>{html.escape(' · '.join(map(str, sources)))} · {time.strftime('%Y-%m-%d %H:%M')}</p>",
    ]
    if chart:
        parts.append(f"<figure id=compare-chart>{chart}</figure>")
    else:
        parts.append(f"<p class=meta>No chart: no run has {html.escape(str(table.plot_metric))}.</p>")
    parts += ["<h2>Configurations</h2>", html_table(table)]
    parts += [f"<p class=meta>{html.escape(line)}</p>" for line in footnotes(table)]
    if table.skipped:
        items = "".join(f"<li><code>{html.escape(str(p))}</code>: {html.escape(r)}</li>" for p, r in table.skipped)
        parts.append(f"<div class=warn><b>Skipped {len(table.skipped)} run folder(s):</b><ul>{items}</ul></div>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------- reading run folders


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def one_line(text: Any) -> str:
    return " ".join(str(text).split())


def numbers(payload: Any) -> dict[str, float]:
    """The finite numbers of a JSON object (no bools, no nan)."""
    if not isinstance(payload, dict):
        return {}
    return {
        str(key): float(value)
        for key, value in payload.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }


def check_status(folder: Path) -> None:
    try:
        status = read_json(folder / STATUS_FILE)
    except FileNotFoundError:
        raise SkipRun(f"no {STATUS_FILE}, so not known to have completed") from None
    except (OSError, ValueError) as error:
        raise SkipRun(f"{STATUS_FILE} is unreadable ({one_line(error)})") from None
    state = status.get("status") if isinstance(status, dict) else None
    if state != COMPLETED:
        error = status.get("error") if isinstance(status, dict) else None
        raise SkipRun(f"status is {state}" + (f" ({one_line(error)})" if error else ""))


def run_values(folder: Path) -> dict[str, float]:
    """metrics.json's numbers without its stage timings, and ``time_s``: timings.json summed (else the
    metrics' ``*_s`` keys)."""
    try:
        metrics = numbers(read_json(folder / METRICS_FILE))
    except (OSError, ValueError) as error:
        raise SkipRun(f"{METRICS_FILE} is missing or unreadable ({one_line(error)})") from None
    try:
        timings = numbers(read_json(folder / TIMINGS_FILE))
    except (OSError, ValueError):
        timings = {key: value for key, value in metrics.items() if key.endswith("_s")}
    values = {key: value for key, value in metrics.items() if not key.endswith("_s")}
    if timings:
        values[TIME] = sum(timings.values())
    return values


def run_overrides(folder: Path) -> dict[str, Override]:
    path = folder / OVERRIDES_FILE
    if not path.is_file():
        return {}
    try:
        lines = read_yaml(path)
    except Exception as error:  # yaml's errors: one line
        raise SkipRun(f"{OVERRIDES_FILE} is unreadable ({one_line(error)})") from None
    if not isinstance(lines, list):
        raise SkipRun(f"{OVERRIDES_FILE} is not a list of key=value overrides")
    return parse_overrides(lines)


def run_seed(folder: Path, overrides: dict[str, Override]) -> Any:
    """versions.json's seed, else .hydra/config.yaml's, else the ``seed=`` override; None when unknown."""
    for read in (lambda: read_json(folder / VERSIONS_FILE), lambda: read_yaml(folder / CONFIG_FILE)):
        try:
            found = read()
        except Exception:
            continue
        if isinstance(found, dict) and found.get(SEED) is not None:
            return found[SEED]
    return overrides[SEED].text if SEED in overrides else None


def read_run(folder: Path) -> RunRecord:
    """A completed run folder's record; SkipRun (with the reason) for any other."""
    check_status(folder)
    values = run_values(folder)
    overrides = run_overrides(folder)
    seed = run_seed(folder, overrides)
    overrides.pop(SEED, None)
    return RunRecord(folder, overrides, seed, values)


def natural_key(name: str) -> list:
    """``2_...`` before ``10_...``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def is_run_folder(folder: Path) -> bool:
    """A folder a run wrote (a job that failed before its status.json counts too: it is listed as skipped)."""
    return any((folder / name).is_file() for name in (METRICS_FILE, STATUS_FILE, OVERRIDES_FILE))


def find_runs(path: Path) -> tuple[list[Path], list[Path]]:
    """``(run folders, optimization_results.yaml files)`` at or under ``path``; UserError when there are none."""
    if not path.exists():
        raise UserError(
            f"'{path}' does not exist; give a run folder (it holds {METRICS_FILE}) or a multirun folder "
            "such as outputs/multirun/<date>/<time>"
        )
    if not path.is_dir():
        raise UserError(f"'{path}' is a file; give the run folder that holds it, or a multirun folder")
    if is_run_folder(path):
        return [path], []
    runs, optuna = [], []
    for top, dirs, files in os.walk(path):
        folder = Path(top)
        if OPTUNA_FILE in files:
            optuna.append(folder / OPTUNA_FILE)
        if folder != path and is_run_folder(folder):
            runs.append(folder)
            dirs.clear()  # model/, logs/, plots/ hold no runs
            continue
        dirs[:] = sorted((d for d in dirs if not d.startswith(".")), key=natural_key)
    if not runs:
        raise UserError(
            f"no run folders under '{path}' (a run folder holds {METRICS_FILE} or {STATUS_FILE}); give a run "
            "folder or a multirun folder such as outputs/multirun/<date>/<time>"
        )
    return runs, optuna


def optuna_note(path: Path) -> str:
    """One line from an Optuna sweep's optimization_results.yaml: its best params and value."""
    try:
        found = read_yaml(path)
    except Exception as error:
        return f"Optuna ({path.parent}): {OPTUNA_FILE} is unreadable ({one_line(error)})"
    found = found if isinstance(found, dict) else {}
    show = lambda params: " ".join(f"{k}={v}" for k, v in (params or {}).items()) or "(no params)"
    if "best_params" in found or "best_value" in found:
        return f"Optuna ({path.parent}): best value {found.get('best_value')} with {show(found.get('best_params'))}"
    solutions = found.get("solutions") or []
    shown = "; ".join(
        f"values {s.get('values')} with {show(s.get('params'))}" for s in solutions if isinstance(s, dict)
    )
    return f"Optuna ({path.parent}): {len(solutions)} Pareto solutions: {shown or 'none'}"


def collect(paths: Sequence[Path]) -> tuple[list[RunRecord], list[tuple[Path, str]], list[str]]:
    """``(completed runs, [(skipped folder, why)], Optuna notes)`` from the input paths."""
    records, skipped, notes, seen = [], [], [], set()
    for path in paths:
        folders, optuna = find_runs(path)
        notes += [optuna_note(file) for file in optuna]
        for folder in folders:
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            try:
                records.append(read_run(folder))
            except SkipRun as reason:
                skipped.append((folder, str(reason)))
    return records, skipped, notes


# ------------------------------------------------------------------------------------- the command


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit status 2 (argparse would print its usage first)
        raise UserError(f"{message}. {USAGE}")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    paragraphs = __doc__.replace("``", "").split("\n\n")
    parser = Parser(
        prog=PROG,
        description=paragraphs[0].split(": ", 1)[1],
        epilog="\n\n".join([paragraphs[1], paragraphs[2], paragraphs[5]]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="run folders or multirun folders")
    parser.add_argument("--metrics", help="the metric columns, comma-separated (default: the common ones)")
    parser.add_argument("--sort", metavar="METRIC", help="rows best first by this metric")
    parser.add_argument("--plot-metric", metavar="METRIC", help="compare.html's bar chart (default: --sort, nmi)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where compare.md/.csv/.html go")
    args = parser.parse_args(list(argv))
    args.metrics = [name.strip() for name in args.metrics.split(",") if name.strip()] if args.metrics else None
    return args


def output_dir(args: argparse.Namespace) -> Path:
    if args.out is not None:
        return args.out
    first = args.paths[0]
    return first if first.is_dir() and not is_run_folder(first) else Path.cwd()


def write_outputs(folder: Path, table: Comparison, sources: Sequence[Path]) -> list[Path]:
    md, csv_path, page = (folder / name for name in OUTPUT_FILES)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_text(md, markdown(table))
        header, body = csv_table(table)
        write_csv(csv_path, [header, *body])
        write_text(page, html_page(table, sources))
    except (OSError, StorageError) as error:
        raise UserError(f"cannot write the comparison to '{folder}' ({one_line(error)}); choose --out DIR") from None
    return [md, csv_path, page]


def print_skipped(skipped: Sequence[tuple[Path, str]]) -> None:
    for path, reason in skipped:
        print(f"{PROG}: skipped {path}: {reason}", file=sys.stderr)


def compare(argv: Sequence[str]) -> Comparison:
    args = parse_arguments(argv)
    records, skipped, notes = collect(args.paths)
    if not records:
        print_skipped(skipped)
        raise UserError(
            f"none of the {len(skipped)} run folders completed (see the lines above); "
            "compare finished runs, or run the failed ones again"
        )
    table = comparison(records, skipped, args.metrics, args.sort, args.plot_metric, notes)  # checks the names
    print_skipped(skipped)
    print(markdown(table), end="")
    written = write_outputs(output_dir(args), table, args.paths)
    print(f"{PROG}: wrote {', '.join(map(str, written))}", file=sys.stderr)
    return table


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    exit_on_user_error(PROG, lambda: compare(argv))


if __name__ == "__main__":
    main()
