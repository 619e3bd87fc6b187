"""``plots/`` and a self-contained ``report.html`` for a finished run.

The HTML embeds every figure as a base64 PNG and its CSS inline: one file, no
external URL, readable offline; text runs add an interactive document map
(:mod:`textcluster.reporting.document_map`, plotly.js inlined). Each figure is drawn on its own; one that
fails is logged as a warning, named in the report, and left out, and
:func:`write_report_safely` makes sure nothing here can fail a finished run.
"""

from __future__ import annotations

import base64
import functools
import html
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.dataset import Dataset
from textcluster.errors import StorageError
from textcluster.labels import NOISE
from textcluster.pipeline import Pipeline
from textcluster.reporting import document_map, plots
from textcluster.reporting.run_folder import metrics_record
from textcluster.reporting.style import CSS
from textcluster.reporting.topics_files import largest_first, topics_payload
from textcluster.storage import atomic_write, write_text
from textcluster.text import snippet
from textcluster.topics.over_time import topics_over_time, topics_per_group

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
PLOTS_DIR = "plots"
MAP_LAYOUT_FILE = "map_layout.npz"  # in plots/: the map's rows and 2-D coordinates, reused after a topic edit
SNIPPET_CHARS = 220
DOCS_PER_TOPIC = 3


def _stage_names(config: dict | None) -> dict[str, str]:
    names = {}
    for group in ("encoder", "reducer", "clusterer", "refiner"):
        node = (config or {}).get(group)
        if isinstance(node, dict) and node.get("name") not in (None, "none"):
            names[group] = str(node["name"])
    return names


def _drawable_confusion(labels_true: np.ndarray, labels: np.ndarray) -> bool:
    sides = len(np.unique(np.asarray(labels_true).astype(str))), len(np.unique(labels))
    if max(sides) <= plots.MAX_CONFUSION_SIDE:
        return True
    log.info("report: no confusion matrix (%d classes x %d clusters is too many to read)", *sides)
    return False


def make_plots(
    run_dir: Path,
    pipeline: Pipeline,
    dataset: Dataset,
    topics: list[dict] | None,
    seed: int = 0,
    map_method: str = "auto",
    tree: dict | None = None,
    layout: Callable[[], tuple[np.ndarray, np.ndarray, str]] | None = None,
    time_bins: str | int = "auto",
) -> tuple[list[tuple[str, Path, str]], list[str]]:
    """Draw every figure that applies; ``([(name, png, caption)], [problems])``; ``tree``: topics.json's tree;
    ``time_bins``: data.time_bins, for the topics-over-time chart."""
    folder = Path(run_dir) / PLOTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(pipeline.labels_)
    layout = layout or map_layout(pipeline, seed, map_method)  # the 2-D map's rows and coordinates
    jobs: list[tuple[str, Callable[[Path], str]]] = [
        ("embedding_map", lambda p: plots.embedding_map(pipeline.embeddings_, labels, p, layout=layout())),
        ("cluster_sizes", lambda p: plots.cluster_sizes(labels, p)),
    ]
    if getattr(pipeline, "k_selection_", None) is not None:
        jobs.append(("k_selection", lambda p: plots.k_selection_curve(pipeline.k_selection_.as_dict(), p)))
    if topics:
        jobs.append(("topic_keywords", lambda p: plots.topic_keywords(topics, p)))
    if topics and tree and tree.get("merges"):
        jobs.append(("topic_tree", lambda p: plots.topic_tree(tree, topics, p)))
    jobs += topic_trend_jobs(pipeline.topics_, dataset, time_bins)
    if dataset.images is not None:
        jobs.append(("cluster_examples", lambda p: plots.cluster_examples(dataset.images, labels, p, seed)))
    if dataset.has_labels and _drawable_confusion(dataset.labels, labels):
        jobs.append(("confusion_matrix", lambda p: plots.confusion_matrix(dataset.labels, labels, p)))
    made, problems = [], []
    for name, draw in jobs:
        path = folder / f"{name}.png"
        start = time.perf_counter()
        try:
            caption = draw(path)
        except StorageError:  # a full disk is not the figure's fault: the run stops and says so
            raise
        except Exception as error:  # a figure must never cost the run (or the rest of the report)
            log.warning("report: the %s plot failed and is left out (%s: %s)", name, type(error).__name__, error)
            problems.append(f"{name}: {type(error).__name__}: {error}")
            path.unlink(missing_ok=True)
            continue
        log.info("report: %s (%.1f s)", path, time.perf_counter() - start)
        made.append((name, path, caption))
    return made, problems


def topic_trend_jobs(topics, dataset: Dataset, time_bins: str | int) -> list[tuple[str, Callable[[Path], str]]]:
    """The charts of topics over time and per group, when the documents have times / groups; each computes its
    table when drawn, so a failure costs that chart only."""
    if topics is None:
        return []

    def over_time(path: Path) -> str:
        return plots.topics_over_time(topics_over_time(topics, topics.labels, dataset.times, time_bins), path)

    def per_group(path: Path) -> str:
        return plots.topics_per_group(topics_per_group(topics, topics.labels, dataset.groups), path)

    charts = [("topics_over_time", dataset.times, over_time), ("topics_per_group", dataset.groups, per_group)]
    return [(name, draw) for name, values, draw in charts if values is not None]


def map_layout(
    pipeline: Pipeline, seed: int = 0, map_method: str = "auto", run_dir: Path | None = None
) -> Callable[[], tuple[np.ndarray, np.ndarray, str]]:
    """``() -> (rows, their 2-D coordinates, method)`` of the map, computed on the first call only: the PNG
    map and the interactive map show the same sampled rows at the same coordinates. With ``run_dir`` the
    layout is kept in ``plots/map_layout.npz``, and one kept there is reused: the documents and their
    embeddings do not change when topics are edited, and a UMAP costs far more than the edit."""
    path = None if run_dir is None else Path(run_dir) / PLOTS_DIR / MAP_LAYOUT_FILE

    def compute() -> tuple[np.ndarray, np.ndarray, str]:
        kept = _kept_layout(path, len(pipeline.labels_))
        if kept is not None:
            return kept
        rows = plots.map_rows(len(pipeline.labels_), seed)
        layout = (rows, *plots.map_coordinates(np.asarray(pipeline.embeddings_)[rows], seed, map_method))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            arrays = {"rows": layout[0], "coordinates": layout[1], "method": np.array(layout[2])}
            atomic_write(path, lambda handle: np.savez(handle, **arrays))
        return layout

    return functools.cache(compute)


def _kept_layout(path: Path | None, n_documents: int) -> tuple[np.ndarray, np.ndarray, str] | None:
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as kept:
            rows, coordinates, method = kept["rows"], kept["coordinates"], str(kept["method"])
    except (OSError, ValueError, KeyError):
        return None
    if len(rows) != len(coordinates) or (len(rows) and rows.max() >= n_documents):
        return None
    return rows, coordinates, method


def make_document_map(
    pipeline: Pipeline,
    dataset: Dataset,
    topics: list[dict] | None,
    layout: Callable[[], tuple[np.ndarray, np.ndarray, str]],
    problems: list[str],
    seed: int = 0,
) -> str | None:
    """The interactive map's section for a text run (None for image runs); a failure, or no plotly, is a
    warning and a line in ``problems``, never an error."""
    if not dataset.has_texts:
        return None
    start = time.perf_counter()
    try:
        rows, coords, method = layout()
        labels = np.asarray(pipeline.labels_)[rows]
        names = {int(entry["id"]): str(entry.get("label") or "") for entry in topics or []}
        found = document_map.document_map_html(
            coords,
            labels,
            names,
            [dataset.texts[i] for i in rows],
            seed=seed,
            n_total=len(dataset),
            method=method,
        )
    except Exception as error:  # like a figure: never costs the run (or the rest of the report)
        missing = isinstance(error, ImportError) and (error.name or "").partition(".")[0] == "plotly"
        reason = "plotly is not installed" if missing else f"{type(error).__name__}: {error}"
        log.warning("report: the interactive document map failed and is left out (%s)", reason)
        problems.append(f"document_map: {reason}")
        return None
    log.info("report: interactive document map, %d points (%.1f s)", found.points, time.perf_counter() - start)
    return (
        f'<h2>Document map</h2><figure id="document_map">{found.html}'
        f"<figcaption>{html.escape(found.caption)}</figcaption></figure>"
    )


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _metrics_table(metrics: dict[str, Any], skipped: dict[str, str]) -> str:
    cells = []
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else html.escape(str(value))
        cells.append(f"<div><span>{html.escape(key)}</span><b>{shown}</b></div>")
    notes = "".join(f"<li>{html.escape(key)} skipped: {html.escape(reason)}</li>" for key, reason in skipped.items())
    if not cells and not notes:
        return "<p>No metrics.</p>"
    return f"<div class=metrics>{''.join(cells)}</div>" + (f"<ul class=meta>{notes}</ul>" if notes else "")


def _topics_table(topics: list[dict]) -> str:
    rows = ["<tr><th>topic</th><th>size</th><th>keywords</th><th>NPMI</th><th>closest to the centre</th></tr>"]
    for entry in largest_first(topics):
        name = "outliers" if entry["id"] == NOISE else f"{entry['id']}: {entry['label']}"
        docs = "".join(
            f"<li>{html.escape(snippet(doc['text'], SNIPPET_CHARS))}</li>"
            for doc in entry["representative_docs"][:DOCS_PER_TOPIC]
        )
        npmi = entry.get("npmi")
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td class=num>{entry['size']}</td>"
            f"<td>{html.escape(', '.join(entry['keywords']))}</td>"
            f"<td class=num>{'' if npmi is None else f'{npmi:.3f}'}</td><td class=docs><ul>{docs}</ul></td></tr>"
        )
    return "<table>" + "".join(rows) + "</table>"


def render_html(
    run_dir: Path,
    pipeline: Pipeline,
    dataset: Dataset,
    topics: list[dict] | None,
    figures: list[tuple[str, Path, str]],
    problems: list[str],
    config: Mapping[str, Any] | None = None,
    interactive: str | None = None,
) -> str:
    """``interactive``: the document map's section (:func:`make_document_map`), after the plots."""
    stages = " · ".join(f"{group}={name}" for group, name in _stage_names(config).items())
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>textcluster report: {html.escape(dataset.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>textcluster report: {html.escape(dataset.name)}</h1>",
        f"<p class=meta>{len(dataset)} {dataset.modality} items"
        + (f", {dataset.n_classes} true classes" if dataset.has_labels else "")
        + (f" · {html.escape(stages)}" if stages else "")
        + (f" · seed={html.escape(str(config.get('seed')))}" if config and "seed" in config else "")
        + f" · {time.strftime('%Y-%m-%d %H:%M')}<br>run folder: {html.escape(str(run_dir))}</p>",
    ]
    edits = [edit.get("edit", "") for edit in getattr(pipeline, "topic_edits_", None) or []]
    if edits:
        parts.append(
            f"<p class=meta>Topics edited after the fit ({html.escape(', '.join(edits))}; see topic_edits.json): "
            "the topics, tables and maps show the edited topics; the metrics are the fit's.</p>"
        )
    if problems:
        parts.append(
            "<div class=warn><b>Left out of this report:</b><ul>"
            + "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            + "</ul></div>"
        )
    parts += ["<h2>Metrics</h2>", _metrics_table(metrics_record(pipeline), pipeline.skipped_metrics_)]
    if figures:
        parts.append("<h2>Plots</h2>")
        for name, path, caption in figures:
            parts.append(
                f'<figure id="{name}">{_img(path, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>'
            )
    if interactive:
        parts.append(interactive)
    if topics:
        parts += ["<h2>Topics</h2>", _topics_table(topics)]
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    run_dir: Path,
    pipeline: Pipeline,
    dataset: Dataset,
    config: Mapping[str, Any] | None = None,
    map_method: str = "auto",
    topics: list[dict] | None = None,
) -> Path:
    """Draw ``plots/`` and write ``report.html`` in ``run_dir`` from the fitted pipeline; returns the report's path.

    ``topics``: the topics.json entries when the caller has them already.
    """
    run_dir = Path(run_dir)
    seed = int((config or {}).get("seed", 0) or 0)
    if topics is None and pipeline.topics_ is not None and dataset.has_texts:
        topics = topics_payload(pipeline.topics_, dataset.texts, dataset.ids)["topics"]
    tree = pipeline.topics_.tree if topics and pipeline.topics_ is not None else None  # topics.json's "tree"
    layout = map_layout(pipeline, seed, map_method, run_dir)  # computed once, for both maps
    time_bins = ((config or {}).get("data") or {}).get("time_bins", "auto")
    figures, problems = make_plots(run_dir, pipeline, dataset, topics, seed, map_method, tree, layout, time_bins)
    interactive = make_document_map(pipeline, dataset, topics, layout, problems, seed)
    path = run_dir / REPORT_FILE
    page = render_html(run_dir, pipeline, dataset, topics, figures, problems, config, interactive)
    write_text(path, page)
    log.info("report: %s (%d plots)", path, len(figures))
    return path


def write_report_safely(
    run_dir: Path,
    pipeline: Pipeline,
    dataset: Dataset,
    config: Mapping[str, Any] | None = None,
    map_method: str = "auto",
    topics: list[dict] | None = None,
) -> Path | None:
    """:func:`write_report` that logs a warning instead of raising: a drawing that fails does not undo a
    finished clustering. A full disk or a refused write is not a drawing problem and is raised (one line)."""
    try:
        return write_report(run_dir, pipeline, dataset, config, map_method, topics)
    except StorageError:
        raise
    except Exception as error:
        log.warning(
            "report: could not write %s (%s: %s); the run's other files are complete",
            Path(run_dir) / REPORT_FILE,
            type(error).__name__,
            error,
            exc_info=True,
        )
        return None
