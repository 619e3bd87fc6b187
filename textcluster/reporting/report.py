"""``plots/`` and a self-contained ``report.html`` for a finished run.

The report reads top-down, in the order a reader asks: what data and stages (the header), what was found
(the topics: labels, sizes, keywords, example documents), where it lies (the maps, labelled by topic), how
good it is (each metric with one line on how to read it, :mod:`textcluster.reporting.metric_guide`), what it
cost (timings, humanised) and the details (skipped metrics, configuration, versions).

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
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.dataset import Dataset
from textcluster.errors import StorageError
from textcluster.evaluation import skipped_lines
from textcluster.labels import NOISE
from textcluster.pipeline import Pipeline
from textcluster.reducers.builtin import UMAPReducer
from textcluster.reporting import document_map, plots
from textcluster.reporting.metric_guide import GROUPS, UNKNOWN_GROUP, guide_for
from textcluster.reporting.style import CSS, REPORT_CSS
from textcluster.reporting.topics_files import largest_first, topics_payload
from textcluster.storage import atomic_write, write_text
from textcluster.text import snippet
from textcluster.topics.over_time import topics_over_time, topics_per_group

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
PLOTS_DIR = "plots"
MAP_LAYOUT_FILE = "map_layout.npz"  # in plots/: the map's rows and 2-D coordinates, reused after a topic edit
SNIPPET_CHARS = 150  # an example document in the topics table: two short lines
DOCS_PER_TOPIC = 2
TABLE_KEYWORDS = 8
STAGES = ("encoder", "reducer", "clusterer", "refiner")
HYDRA_CONFIG = Path(".hydra") / "hydra.yaml"  # Hydra's own config of the run: runtime.choices
# the figures of each section, in the order they are shown; a figure not listed goes with what was found
FOUND_FIGURES = ("topic_keywords", "cluster_examples", "cluster_sizes", "topic_tree", "topics_over_time")
FOUND_FIGURES += ("topics_per_group",)
MAP_FIGURES = ("embedding_map",)
QUALITY_FIGURES = ("confusion_matrix", "k_selection")
HIDDEN_WHEN_ZERO = {"noise_fraction_before", "noise_fraction_after"}  # nothing to say when no clusterer left noise


def stage_names(config: Mapping[str, Any] | None, run_dir: Path | None = None) -> dict[str, str]:
    """``{group: option}`` of the run's stages as the console prints them (``reducer=umap_text``, not the
    YAML's ``name: umap``): Hydra's recorded choices (``.hydra/hydra.yaml``) where the run has them, else what
    ``encoder=auto`` resolved to (the config's ``recipe``), else each stage's ``name``. ``none`` is left out."""
    config = config or {}
    choices = _hydra_choices(run_dir)
    recipe = dict(re.findall(r"(\w+)=(\S+)", str(config.get("recipe") or "")))  # "text data: encoder=x reducer=y"
    names = {}
    for group in STAGES:
        node = config.get(group)
        name = node.get("name") if isinstance(node, Mapping) else None
        option = next((o for o in (choices.get(group), recipe.get(group), name) if o not in (None, "auto")), None)
        if option not in (None, "none"):
            names[group] = str(option)
    return names


def _hydra_choices(run_dir: Path | None) -> dict[str, str]:
    path = None if run_dir is None else Path(run_dir) / HYDRA_CONFIG
    if path is None or not path.is_file():
        return {}
    import yaml

    try:
        choices = ((yaml.safe_load(path.read_text()) or {}).get("hydra") or {}).get("runtime", {}).get("choices")
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in (choices or {}).items() if v is not None}


def humanise_seconds(seconds: float) -> str:
    """``68.85`` -> ``1 min 9 s``; under 10 s one decimal, under a minute whole seconds, above an hour h and min."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


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
    names = {int(entry["id"]): str(entry.get("label") or "") for entry in topics or []}
    jobs: list[tuple[str, Callable[[Path], str]]] = [
        ("embedding_map", lambda p: plots.embedding_map(pipeline.embeddings_, labels, p, layout=layout(), names=names)),
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
        # the layout (a UMAP, seconds to tens of seconds with its first compilation) is the report's longest step
        log.info("report: laying out the 2-D map of %d of %d documents", len(rows), len(pipeline.labels_))
        reducer = getattr(pipeline, "reducer_", None)
        metric = reducer.metric if isinstance(reducer, UMAPReducer) else "euclidean"
        sample = np.asarray(pipeline.embeddings_)[rows]
        layout = (rows, *plots.map_coordinates(sample, seed, map_method, metric))
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
        f'<h3>Interactive map</h3><figure id="document_map">{found.html}'
        f"<figcaption>{html.escape(found.caption)}</figcaption></figure>"
    )


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _figures(figures: list[tuple[str, Path, str]], names: tuple[str, ...]) -> str:
    return "".join(
        f'<figure id="{name}">{_img(path, caption)}<figcaption>{html.escape(caption)}</figcaption></figure>'
        for name in names
        for figure, path, caption in figures
        if figure == name
    )


def _swatch(colour: tuple) -> str:
    r, g, b = (round(255 * float(c)) for c in colour[:3])
    return f'<span class=swatch style="background:rgb({r},{g},{b})"></span>'


def _share(count: float, total: float) -> str:
    if not total:
        return ""
    return "<1 %" if 0 < count < total / 200 else f"{100 * count / total:.0f} %"


def found_summary(topics: list[dict] | None, labels: np.ndarray) -> str:
    """One sentence: how many topics (clusters), the largest, and the outliers."""
    labels = np.asarray(labels)
    total, outliers = len(labels), int((labels == NOISE).sum())
    kept = [entry for entry in topics or [] if entry["id"] != NOISE]
    if kept:
        largest = max(kept, key=lambda entry: entry["size"])
        text = (
            f"{len(kept)} topics over {total:,} documents; the largest, “{largest.get('label') or largest['id']}”, "
            f"holds {largest['size']:,} ({_share(largest['size'], total)})"
        )
    else:
        ids, counts = np.unique(labels[labels != NOISE], return_counts=True)
        text = f"{len(ids)} clusters over {total:,} items" + (
            f"; the largest holds {counts.max():,} ({_share(int(counts.max()), total)})" if len(ids) else ""
        )
    if outliers:
        text += f"; {outliers:,} ({_share(outliers, total)}) are outliers, in no topic"
    return f"<p>{html.escape(text)}.</p>"


def _topics_table(topics: list[dict], labels: np.ndarray) -> str:
    total = len(labels)
    colours = plots.cluster_colours(sorted(set(np.asarray(labels).tolist()) | {entry["id"] for entry in topics}))
    rows = [
        "<tr><th>topic</th><th>documents</th><th>keywords</th>"
        '<th title="NPMI coherence of the keywords: see Quality">NPMI</th><th>example documents</th></tr>'
    ]
    for entry in largest_first(topics):
        noise = entry["id"] == NOISE
        name = "outliers (in no topic)" if noise else str(entry.get("label") or f"topic {entry['id']}")
        docs = "".join(
            f"<li>{html.escape(snippet(doc['text'], SNIPPET_CHARS))}</li>"
            for doc in entry["representative_docs"][:DOCS_PER_TOPIC]
        )
        npmi, share = entry.get("npmi"), html.escape(_share(entry["size"], total))
        rows.append(
            f"<tr><td class=topic>{_swatch(colours.get(entry['id'], (0.7, 0.7, 0.7)))}{html.escape(name)}"
            + ("" if noise else f" <span class=meta>#{entry['id']}</span>")
            + f"</td><td class=num>{entry['size']:,}<br><span class=meta>{share}</span></td>"
            f"<td>{html.escape(', '.join(list(entry['keywords'])[:TABLE_KEYWORDS]))}</td>"
            f"<td class=num>{'' if npmi is None else f'{npmi:.2f}'}</td><td class=docs><ul>{docs}</ul></td></tr>"
        )
    return "<table class=topics>" + "".join(rows) + "</table>"


def _value(key: str, value: Any) -> str:
    if isinstance(value, float) and key == "n_clusters" and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3f}"
    return html.escape(str(value))


def quality_tables(metrics: Mapping[str, Any]) -> str:
    """The metrics by kind (labels, shape, topics, counts), each with its range and how to read it."""
    by_group: dict[str, list[str]] = {}
    for key, value in metrics.items():
        if key in HIDDEN_WHEN_ZERO and not value:
            continue
        guide = guide_for(key)
        by_group.setdefault(guide.group, []).append(
            f"<tr><td><b>{html.escape(guide.name)}</b><br><span class=meta>{html.escape(key)}</span></td>"
            f"<td class=num><b>{_value(key, value)}</b></td><td class=scale>{html.escape(guide.scale)}</td>"
            f"<td>{html.escape(guide.reading)}</td></tr>"
        )
    if not by_group:
        return "<p>No metrics.</p>"
    parts = []
    for group in (*GROUPS, UNKNOWN_GROUP):
        if group in by_group:
            parts.append(
                f"<h3>{html.escape(group)}</h3><table class=quality><tr><th>metric</th><th>value</th>"
                f"<th>range</th><th>how to read it</th></tr>{''.join(by_group[group])}</table>"
            )
    return "".join(parts)


def run_timings(pipeline: Pipeline, run_dir: Path) -> dict[str, float]:
    """The stages' seconds: the fit's own, else the run folder's timings.json (a report redrawn after a topic
    edit has no fit in memory)."""
    timings = dict(getattr(pipeline, "timings_", None) or {})
    path = Path(run_dir) / "timings.json"
    if not timings and path.is_file():
        try:
            timings = {k: float(v) for k, v in json.loads(path.read_text()).items()}
        except (OSError, ValueError, TypeError, AttributeError):
            timings = {}
    return timings


def timings_table(timings: Mapping[str, float]) -> str:
    if not timings:
        return "<p class=meta>No timings (this report was redrawn without the fit).</p>"
    total = sum(timings.values())
    rows = [
        f"<tr><td>{html.escape(key.removesuffix('_s').replace('_', ' '))}</td>"
        f"<td class=num>{humanise_seconds(seconds)}</td><td class=num>{html.escape(_share(seconds, total))}</td></tr>"
        for key, seconds in timings.items()
    ]
    rows.append(f"<tr class=total><td>total</td><td class=num>{humanise_seconds(total)}</td><td></td></tr>")
    return "<table class=timings><tr><th>stage</th><th>time</th><th>share</th></tr>" + "".join(rows) + "</table>"


def details(run_dir: Path, skipped: Mapping[str, str], config: Mapping[str, Any] | None) -> str:
    """Skipped metrics (one line per reason), then the configuration and the versions, folded."""
    parts = []
    lines = skipped_lines(skipped)
    if lines:
        parts.append("<ul class=meta>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")
    if config:
        import yaml

        shown = yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=None, width=100)
        parts.append(f"<details><summary>configuration</summary><pre>{html.escape(shown)}</pre></details>")
    versions = Path(run_dir) / "versions.json"
    if versions.is_file():
        try:
            text = json.dumps(json.loads(versions.read_text()), indent=1)
        except (OSError, ValueError):
            text = ""
        if text:
            parts.append(f"<details><summary>versions</summary><pre>{html.escape(text)}</pre></details>")
    parts.append(f"<p class=meta>run folder: {html.escape(str(run_dir))}</p>")
    return "".join(parts)


def data_source(config: Mapping[str, Any] | None) -> str:
    """``data=csv: /path/posts.csv`` where the config names the data (empty for documents given in Python)."""
    data = (config or {}).get("data")
    if not isinstance(data, Mapping) or not data.get("name"):
        return ""
    where = data.get("path") or data.get("subset") or ""
    return f"data={data['name']}" + (f": {where}" if where else "")


def header(run_dir: Path, dataset: Dataset, config: Mapping[str, Any] | None) -> list[str]:
    stages = " · ".join(f"{group}={name}" for group, name in stage_names(config, run_dir).items())
    source = data_source(config)
    return [
        f"<header><h1>textcluster report: {html.escape(dataset.name)}</h1>",
        f"<p class=meta>{html.escape(source) + '<br>' if source else ''}{len(dataset):,} {dataset.modality} items"
        + (f", {dataset.n_classes} true classes" if dataset.has_labels else "")
        + (f" · {html.escape(stages)}" if stages else "")
        + (f" · seed={html.escape(str(config.get('seed')))}" if config and "seed" in config else "")
        + f" · {time.strftime('%Y-%m-%d %H:%M')}</p></header>",
    ]


def _section(key: str, title: str, *body: str) -> str:
    return f'<section id="{key}"><h2>{html.escape(title)}</h2>{"".join(body)}</section>'


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
    """``interactive``: the document map's section (:func:`make_document_map`), after the PNG map."""
    labels = np.asarray(pipeline.labels_)
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>textcluster report: {html.escape(dataset.name)}</title><style>{CSS}{REPORT_CSS}</style></head><body>",
        *header(run_dir, dataset, config),
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
    listed = set(MAP_FIGURES + QUALITY_FIGURES + FOUND_FIGURES)
    found_names = FOUND_FIGURES + tuple(name for name, _, _ in figures if name not in listed)
    parts.append(
        _section(
            "found",
            "What was found",
            found_summary(topics, labels),
            _topics_table(topics, labels) if topics else "",
            _figures(figures, found_names),
        )
    )
    parts.append(_section("map", "Document map", _figures(figures, MAP_FIGURES), interactive or ""))
    parts.append(_section("quality", "Quality", quality_tables(pipeline.metrics_), _figures(figures, QUALITY_FIGURES)))
    parts.append(_section("timings", "Timings", timings_table(run_timings(pipeline, run_dir))))
    parts.append(_section("details", "Details", details(run_dir, pipeline.skipped_metrics_, config)))
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
