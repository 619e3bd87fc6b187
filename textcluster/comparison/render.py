"""The comparison table as text: markdown (stdout and compare.md), the rows of compare.csv, and compare.html
(a standalone page with a bar chart, in the run report's stylesheet)."""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textcluster.comparison import PROG
from textcluster.comparison.aggregate import Comparison, Row
from textcluster.comparison.runs import TIME
from textcluster.reporting.style import CSS  # the run report's look, without the report's 37 modules

MISSING = "–"


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
