"""The report's interactive document map: a Plotly scatter of the documents in 2-D, one trace per topic.

:func:`document_map_html` turns 2-D coordinates, per-document topic ids, topic labels and hover texts
into an HTML fragment (a ``<div>`` and inline ``<script>`` tags) for ``report.html``:

* one point per document, coloured by topic (the colours of the PNG map); one ``Scattergl`` trace per
  topic, so clicking a legend entry hides or shows that topic; outliers (topic -1) in grey;
* each topic's label drawn near the median position of its documents, placed (largest topic first) so
  that no two labels overlap at the map's drawn size; a label with no free place nearby is left off, and
  the legend still names its topic (:mod:`textcluster.reporting.label_placement`);
* hovering a point shows its topic and the document's text (cut to ``HOVER_CHARS``, HTML-escaped,
  a ``<br>`` every ~``HOVER_WIDTH`` characters); zoom and pan are Plotly's own;
* a search box above the plot: documents whose shown text contains the query (case-insensitive) stay
  opaque and grow, the others fade, and the number of matches is shown; an empty query restores the map.

Offline and self-contained: plotly.js is inlined once (``include_plotlyjs=True``), no MathJax, no
``<script src>``, no web font (the layout uses a system font stack), no Plotly logo link in the modebar.
Above ``INTERACTIVE_MAX_POINTS`` documents the map shows a seeded random sample, which keeps
report.html small (plotly.js itself is ~4.8 MB).

The report draws it for text runs only (image runs keep the PNG map); the function itself takes any
hover texts, e.g. an image's row and cluster.
"""

from __future__ import annotations

import html
import json
import textwrap
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from textcluster.labels import NOISE
from textcluster.reporting.label_placement import place_labels
from textcluster.text import snippet

INTERACTIVE_MAX_POINTS = 5000  # documents on the interactive map at most (a seeded sample above it)
HOVER_CHARS = 300  # the document text shown on hover (and searched), cut to this many characters
HOVER_WIDTH = 80  # a line break in the hover text every ~this many characters
LABEL_CHARS = 32  # topic labels on the map are cut to this many characters
LEGEND_CHARS = 34  # and in the legend, which has the rest of the width beside the plot
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
# A fixed size, so that the labels are placed for the size the map is drawn at (the report's column is
# 1,100 px wide at most); the plot takes PLOT_SHARE of the width, the legend the rest.
WIDTH, HEIGHT = 1060, 720
MARGIN = dict(l=10, r=10, t=36, b=10)
PLOT_SHARE = 0.70
LABEL_SIZE = 12  # px
# a label's box, estimated from its text: a sans-serif character is at most ~0.62 of the font size wide on
# average (an over-estimate hides a label more, never lets two overlap); plus Plotly's border and padding
CHAR_WIDTH = 0.62 * LABEL_SIZE
LABEL_PAD = 2  # borderpad, px
LABEL_HEIGHT = 1.3 * LABEL_SIZE + 2 * LABEL_PAD + 2
POINT_SIZE = 5
MATCH_SIZE = 9

# The search box: lower-cased plain text of every point (from its hover text), then Plotly's own selection
# (``selectedpoints``: the selected/unselected marker styles of each trace) for the documents that match.
SEARCH_JS = """<script>
(function () {
  var ids = __IDS__;
  var input = document.getElementById(ids.query), count = document.getElementById(ids.count);
  var searchable = null;
  function plain(s) {
    return String(s).replace(/<br>/g, " ").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
      .replace(/&#x27;/g, "'").replace(/&amp;/g, "&").toLowerCase();
  }
  function search() {
    var plot = document.getElementById(ids.plot);
    if (!plot || !plot.data || typeof Plotly === "undefined") { return; }
    if (searchable === null) {
      searchable = plot.data.map(function (trace) { return (trace.text || []).map(plain); });
    }
    var query = input.value.trim().toLowerCase().replace(/\\s+/g, " ");
    var traces = plot.data.map(function (_, i) { return i; });
    if (!query) {
      Plotly.restyle(plot, {selectedpoints: traces.map(function () { return null; })}, traces);
      count.textContent = "";
      return;
    }
    var matches = 0, total = 0;
    var selected = searchable.map(function (texts) {
      var hits = [];
      texts.forEach(function (text, j) { if (text.indexOf(query) !== -1) { hits.push(j); } });
      matches += hits.length;
      total += texts.length;
      return hits;
    });
    Plotly.restyle(plot, {selectedpoints: selected}, traces);
    count.textContent = matches + " of " + total + " documents match";
  }
  input.addEventListener("input", search);
})();
</script>"""


class DocumentMap(NamedTuple):
    html: str  # the fragment: search box, plot <div>, inline <script>s
    caption: str
    points: int  # documents on the map (after sampling)


def sample_rows(n: int, max_points: int = INTERACTIVE_MAX_POINTS, seed: int = 0) -> np.ndarray:
    """Every row when ``n <= max_points``, else a seeded random sample of ``max_points`` rows (sorted)."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def hover_text(text: str, limit: int = HOVER_CHARS, width: int = HOVER_WIDTH) -> str:
    """``text`` on one line, cut to ``limit`` characters, HTML-escaped, a ``<br>`` every ~``width`` characters.

    Lines break at spaces only, so the search script gets the cut text back by joining the lines with spaces.
    """
    lines = textwrap.wrap(snippet(text, limit), width, break_long_words=False, break_on_hyphens=False)
    return "<br>".join(html.escape(line) for line in lines)


def topic_name(topic: int, labels: Mapping[int, str]) -> str:
    if topic == NOISE:
        return "outliers"
    label = labels.get(topic)
    return f"{topic}: {label}" if label else str(topic)


def _rgb(colour: tuple) -> str:
    r, g, b = (round(255 * float(c)) for c in colour[:3])
    return f"rgb({r},{g},{b})"


def document_map_html(
    coords: np.ndarray,
    topic_ids: Sequence[int],
    topic_labels: Mapping[int, str],
    texts: Sequence[str],
    *,
    seed: int = 0,
    max_points: int = INTERACTIVE_MAX_POINTS,
    n_total: int | None = None,
    method: str | None = None,
    div_id: str = "document-map",
) -> DocumentMap:
    """The interactive map of ``coords`` (n x 2), coloured by ``topic_ids`` (n), hover ``texts`` (n, plain text).

    ``topic_labels``: topic id -> label (outliers are ``-1``; a topic without a label shows its id).
    Above ``max_points`` rows a seeded (``seed``) sample is drawn. ``n_total``: how many documents the
    run had, when ``coords`` is already a sample of them (for the caption); ``method``: how the 2-D
    coordinates were made (UMAP, PCA), for the caption. Needs plotly (ImportError without it).
    """
    import plotly.graph_objects as go
    import plotly.io as pio

    from textcluster.reporting.plots import cluster_colours

    coords = np.asarray(coords, dtype=np.float32)
    topic_ids = np.asarray(topic_ids)
    if coords.ndim != 2 or coords.shape[1] != 2 or not (len(coords) == len(topic_ids) == len(texts)):
        raise ValueError(
            f"need n x 2 coordinates, n topic ids and n texts; got {coords.shape}, {len(topic_ids)}, {len(texts)}"
        )
    if len(coords) == 0:
        raise ValueError("no documents to draw")
    n_total = len(coords) if n_total is None else n_total
    rows = sample_rows(len(coords), max_points, seed)
    coords, topic_ids = coords[rows], topic_ids[rows]
    hover = np.array([hover_text(texts[i]) for i in rows], dtype=object)
    topics = sorted(set(topic_ids.tolist()))
    colours = cluster_colours(topics)
    fig = go.Figure()
    for topic in ([NOISE] if NOISE in topics else []) + [t for t in topics if t != NOISE]:
        mask = topic_ids == topic
        fig.add_trace(
            go.Scattergl(
                x=coords[mask, 0],
                y=coords[mask, 1],
                mode="markers",
                name=html.escape(snippet(topic_name(topic, topic_labels), LEGEND_CHARS)),
                text=hover[mask].tolist(),
                hovertemplate="<b>%{fullData.name}</b><br>%{text}<extra></extra>",
                marker=dict(size=POINT_SIZE, color=_rgb(colours[topic]), opacity=0.75),
                selected=dict(marker=dict(size=MATCH_SIZE, opacity=1.0)),
                unselected=dict(marker=dict(opacity=0.08)),
            )
        )
    ranges = _axis_ranges(coords)
    for topic, (x, y) in topic_labels_placed(coords, topic_ids, topic_labels, ranges):
        fig.add_annotation(
            x=x,
            y=y,
            text=html.escape(_label_text(topic, topic_labels)),
            showarrow=False,
            font=dict(size=LABEL_SIZE, color="#111"),
            bgcolor="rgba(255,255,255,0.8)",
            bordercolor=_rgb(colours[topic]),
            borderpad=LABEL_PAD,
        )
    fig.update_layout(
        font=dict(family=FONT, size=12),
        hoverlabel=dict(font=dict(family=FONT, size=12), align="left"),
        template="plotly_white",
        width=WIDTH,
        height=HEIGHT,
        autosize=False,
        margin=MARGIN,
        hovermode="closest",
        dragmode="zoom",
        legend=dict(
            title=dict(text="topics (click to hide)"), itemsizing="constant", x=PLOT_SHARE + 0.01, xanchor="left", y=1
        ),
        xaxis=dict(
            showticklabels=False, showgrid=False, zeroline=False, title=None, range=ranges[0], domain=[0, PLOT_SHARE]
        ),
        yaxis=dict(showticklabels=False, showgrid=False, zeroline=False, title=None, range=ranges[1]),
    )
    plot_id = f"{div_id}-plot"
    plot = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=True,
        include_mathjax=False,
        div_id=plot_id,
        config={"displaylogo": False, "showSendToCloud": False, "responsive": False},
    )
    search = (
        f'<div style="margin:.3em 0"><label>search the documents: <input type=search id="{div_id}-query" '
        'placeholder="a word or phrase" size=40></label> '
        f'<span id="{div_id}-count" style="color:#555"></span></div>'
    )
    sample = f"a seeded random sample of {len(rows)} of the {n_total} documents" if len(rows) < n_total else None
    caption = (
        f"Interactive map of {'the ' + str(len(rows)) + ' documents' if sample is None else sample}"
        + (f" ({method} of the embeddings, the coordinates of the map above)" if method else "")
        + f"; colour = topic. Hover a point for its text (first {HOVER_CHARS} characters), drag to zoom, "
        "double-click to reset, click a legend entry to hide a topic; the search box finds documents whose "
        "shown text contains the query. A smaller topic's label that would overlap a larger one's is left off "
        "(the legend names every topic)."
    )
    fragment = f'<div id="{div_id}">{search}{plot}{_search_script(div_id, plot_id)}</div>'
    return DocumentMap(fragment, caption, len(rows))


def _label_text(topic: int, labels: Mapping[int, str]) -> str:
    return snippet(labels.get(topic) or f"topic {topic}", LABEL_CHARS)


def _axis_ranges(coords: np.ndarray) -> tuple[list[float], list[float]]:
    """The x and y ranges the map is drawn with (set, not left to Plotly, so that data and pixels map
    known ways for the label placement): the points' extent and 4 % either side."""
    low, high = coords.min(axis=0).astype(float), coords.max(axis=0).astype(float)
    pad = np.maximum(high - low, 1e-9) * 0.04
    return [low[0] - pad[0], high[0] + pad[0]], [low[1] - pad[1], high[1] + pad[1]]


def plot_area() -> tuple[float, float]:
    """The plot's width and height in pixels at the map's fixed size."""
    width = (WIDTH - MARGIN["l"] - MARGIN["r"]) * PLOT_SHARE
    return width, HEIGHT - MARGIN["t"] - MARGIN["b"]


def label_box(text: str) -> tuple[float, float]:
    """A label's box (width, height) in pixels, estimated from its text."""
    return len(text) * CHAR_WIDTH + 2 * LABEL_PAD + 2, LABEL_HEIGHT


def topic_labels_placed(
    coords: np.ndarray, topic_ids: np.ndarray, labels: Mapping[int, str], ranges
) -> list[tuple[int, tuple[float, float]]]:
    """``[(topic, (x, y) of its label in data coordinates)]`` for the labels that fit without overlapping
    (largest topic first; outliers get none)."""
    topics = [t for t in sorted(set(topic_ids.tolist())) if t != NOISE]
    if not topics:
        return []
    (x0, x1), (y0, y1) = ranges
    width, height = plot_area()
    scale = np.array([width / (x1 - x0), height / (y1 - y0)])
    origin = np.array([x0, y0])
    anchors = np.array([(np.median(coords[topic_ids == t], axis=0) - origin) * scale for t in topics])
    sizes = np.array([label_box(_label_text(t, labels)) for t in topics])
    priority = [int((topic_ids == t).sum()) for t in topics]
    centres = place_labels(anchors, sizes, priority, (0.0, 0.0, width, height))
    return [
        (t, tuple(float(v) for v in np.asarray(c) / scale + origin)) for t, c in zip(topics, centres) if c is not None
    ]


def _search_script(div_id: str, plot_id: str) -> str:
    ids = json.dumps({"query": f"{div_id}-query", "count": f"{div_id}-count", "plot": plot_id})
    return SEARCH_JS.replace("__IDS__", ids)
