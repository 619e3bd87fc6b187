"""The report's interactive document map: offline HTML, hover texts, topic labels, search box, sampling."""

from __future__ import annotations

import html
import logging
import re
import sys

import numpy as np
import pytest
from test_report import run, text_csv  # noqa: F401  (text_csv: the small text data set fixture)

pytest.importorskip("plotly")

TEXTS = ['<b>Fish & chips</b> say "hello" to the sea', "stock bond market trader money bank", "goal match team"]
LABELS = {0: "fish, chips, sea", 1: "stock, bond, market", 2: "goal, match, team"}
SCRIPT = re.compile(r"(<script\b[^>]*>)(.*?)</script>", re.S | re.I)


def build(n: int = 60, **kwargs):
    from textcluster.reporting.document_map import document_map_html

    rng = np.random.default_rng(0)
    topics = np.array([i % 4 - 1 for i in range(n)])  # -1 (outliers), 0, 1, 2
    coords = rng.normal(size=(n, 2)) + 5 * topics[:, None]
    texts = [f"{TEXTS[i % 3]} doc{i}x" for i in range(n)]
    return document_map_html(coords, topics, LABELS, texts, **kwargs)


@pytest.fixture(scope="module")
def small_map():
    return build()


def outside_library(fragment: str) -> str:
    """The fragment without the body of the inlined plotly.js (whose code names URLs it never loads), and
    with the figure's JSON escapes (plotly writes ``<``, ``>``, ``/`` as ``\\u003c``...) decoded."""
    rest = SCRIPT.sub(lambda m: m.group(0) if "plotly.js v" not in m.group(2)[:200] else m.group(1), fragment)
    return re.sub(r"\\u00([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), rest)


def test_map_loads_nothing_from_the_network(small_map):
    fragment = small_map.html
    tags = re.findall(r"<script\b[^>]*>", fragment, flags=re.I)
    assert tags and all("src" not in tag.lower() for tag in tags)  # every script inline
    assert 'src="http' not in fragment and "<link" not in fragment
    assert sum("plotly.js v" in body[:200] for _, body in SCRIPT.findall(fragment)) == 1  # inlined exactly once
    rest = outside_library(fragment)
    assert "https://cdn" not in rest and "MathJax.js" not in fragment and "@import" not in rest  # no MathJax
    assert '"displaylogo": false' in rest and "system-ui" in rest  # no logo link; a system font


def test_map_shows_escaped_hover_texts_topic_labels_and_a_search_box(small_map):
    fragment = outside_library(small_map.html)
    assert html.escape('<b>Fish & chips</b> say "hello" to the sea doc0x') in fragment
    assert "<b>Fish" not in fragment  # the document's own markup is text, not HTML
    for label in LABELS.values():
        assert label in fragment  # the legend names and the labels on the map
    assert "outliers" in fragment
    assert re.search(r'<input type=search id="document-map-query"', fragment)
    assert 'id="document-map-count"' in fragment and "selectedpoints" in fragment
    assert small_map.points == 60 and "the 60 documents" in small_map.caption


def test_hover_text_is_cut_escaped_and_wrapped():
    from textcluster.reporting.document_map import HOVER_CHARS, hover_text

    text = hover_text("a<b " * 200)
    lines = text.split("<br>")
    assert len(html.unescape(" ".join(lines))) == HOVER_CHARS and text.endswith("…")
    assert "<b" not in text.replace("<br>", "") and max(len(html.unescape(line)) for line in lines) <= 80


def test_map_keeps_at_most_the_stated_number_of_points():
    from textcluster.reporting.document_map import INTERACTIVE_MAX_POINTS, sample_rows

    n = INTERACTIVE_MAX_POINTS + 1000
    rows = sample_rows(n, seed=3)
    assert len(rows) == INTERACTIVE_MAX_POINTS and len(set(rows.tolist())) == len(rows)
    assert np.array_equal(rows, sample_rows(n, seed=3))  # the run's seed: the same sample each time
    assert len(sample_rows(100)) == 100
    sampled = build(200, max_points=50, seed=1)
    assert sampled.points == 50 and "a seeded random sample of 50 of the 200 documents" in sampled.caption
    assert len(re.findall(r"doc\d+x", outside_library(sampled.html))) == 50  # one hover text per point


def test_image_runs_get_no_interactive_map():
    from textcluster.dataset import Dataset
    from textcluster.reporting.report import make_document_map

    problems: list[str] = []
    images = Dataset(name="digits", images=np.zeros((3, 4, 4), dtype=np.float32))
    assert make_document_map(None, images, None, lambda: 1 / 0, problems) is None and problems == []


TEXT_RUN = ("data=csv", "data.label_column=label", "encoder=raw", "clusterer.n_clusters=3")


def test_text_report_has_the_interactive_map(tmp_path, text_csv, monkeypatch):  # noqa: F811
    from textcluster.reporting import plots

    calls, original = [], plots.map_coordinates
    monkeypatch.setattr(plots, "map_coordinates", lambda *a, **k: calls.append(1) or original(*a, **k))
    run_dir = run(tmp_path, f"data.path={text_csv}", *TEXT_RUN)
    assert len(calls) == 1  # one 2-D layout for the PNG map and the interactive map
    page = (run_dir / "report.html").read_text()
    assert "<h3>Interactive map</h3>" in page and 'id="document-map-query"' in page
    assert page.count("plotly.js v") == 1 and "Left out" not in page
    section = outside_library(page[page.index("<h3>Interactive map</h3>") :])
    assert "apple pear plum orchard fruit juice word0 extra0" in section  # a document's hover text
    assert "the 90 documents" in section  # every document (fewer than the sample size)


def test_map_failures_are_warnings_and_left_out(monkeypatch, caplog):
    from types import SimpleNamespace

    from textcluster.dataset import Dataset
    from textcluster.reporting.report import make_document_map

    docs = Dataset(name="docs", texts=list(TEXTS))
    pipeline = SimpleNamespace(labels_=np.array([0, 1, 2]))
    layout = lambda: (np.arange(3), np.eye(3)[:, :2], "PCA")
    assert "<h3>Interactive map</h3>" in make_document_map(pipeline, docs, None, layout, [])
    problems: list[str] = []
    with caplog.at_level(logging.WARNING):
        assert make_document_map(pipeline, docs, None, lambda: 1 / 0, problems) is None
        for name in ("plotly", "plotly.graph_objects", "plotly.io"):
            monkeypatch.setitem(sys.modules, name, None)  # `import plotly...` fails as if it were not installed
        assert make_document_map(pipeline, docs, None, layout, problems) is None
    assert problems == ["document_map: ZeroDivisionError: division by zero", "document_map: plotly is not installed"]
    assert "interactive document map failed" in caplog.text and "plotly is not installed" in caplog.text
