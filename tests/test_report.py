"""report.html and plots/: self-contained, one embedded PNG per plot, and never a reason for a run to fail."""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import compose_small, read_status

REPO_ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n"
TEXTS = [
    "apple pear plum orchard fruit juice",
    "stock bond market trader money bank",
    "goal match team player league score",
]


def embedded_images(html: str) -> dict[str, bytes]:
    """figure id -> decoded PNG bytes."""
    found = re.findall(r'<figure id="(\w+)"><img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    return {name: base64.b64decode(data) for name, data in found}


@pytest.fixture
def text_csv(tmp_path) -> Path:
    import pandas as pd

    texts = [f"{TEXTS[i % 3]} word{i % 7} extra{i % 5}" for i in range(90)]
    path = tmp_path / "docs.csv"
    pd.DataFrame({"text": texts, "label": [f"topic{i % 3}" for i in range(90)]}).to_csv(path, index=False)
    return path


def run(tmp_path: Path, *overrides: str, limit: int | None = None) -> Path:
    from textcluster.experiment import run_experiment

    run_dir = tmp_path / "run"
    run_experiment(compose_small(*overrides, limit=limit), run_dir)
    return run_dir


def labelled_csv(path: Path) -> tuple[str, ...]:
    """The overrides of a quick labelled text run: TF-IDF, three clusters, the labels scored."""
    return "data=csv", f"data.path={path}", "data.label_column=label", "encoder=raw", "clusterer.n_clusters=3"


def test_text_report_embeds_every_plot_and_the_topics(tmp_path, text_csv, caplog):
    with caplog.at_level(logging.INFO, logger="textcluster.reporting.report"):
        run_dir = run(tmp_path, *labelled_csv(text_csv))
    lines = [record.getMessage() for record in caplog.records]
    # the map's layout, the report's longest step, says it has begun before its plot is written
    layout = next(i for i, line in enumerate(lines) if line.startswith("report: laying out the 2-D map of "))
    assert lines[layout].endswith(" documents") and "embedding_map.png" in lines[layout + 1]
    html = (run_dir / "report.html").read_text()
    images = embedded_images(html)
    assert set(images) == {"embedding_map", "cluster_sizes", "topic_keywords", "topic_tree", "confusion_matrix"}
    for name, data in images.items():
        assert data.startswith(PNG), name
        assert (run_dir / "plots" / f"{name}.png").read_bytes() == data  # the same figure as in plots/
    assert html.count("<img") == 5
    outside_scripts = re.sub(r"(<script\b[^>]*>).*?</script>", r"\1", html, flags=re.S)  # not the inlined plotly.js
    assert not re.search(r'(src|href)="(?!data:)', outside_scripts)  # nothing outside the file
    assert "<h2>What was found</h2>" in html and "fruit" in html  # the keywords of topics.json
    assert "acc" in html and "Left out" not in html


def test_image_report_shows_examples_not_keywords(tmp_path):
    run_dir = run(tmp_path, "encoder=raw", "clusterer.n_clusters=10", limit=200)  # digits
    images = embedded_images((run_dir / "report.html").read_text())
    assert set(images) == {"embedding_map", "cluster_sizes", "cluster_examples", "confusion_matrix"}


def test_the_example_sheet_puts_each_clusters_images_in_its_row():
    from textcluster.reporting.plots import _example_sheet

    images = np.stack([np.full((8, 6), value) for value in (0.2, 0.4, 0.6, 0.8)])  # 8 x 6: rows are taller
    sheet, centres, gap = _example_sheet(images, [np.array([0, 3]), np.array([2])])
    assert gap == 1 and sheet.shape == (2 * (8 + 1) + 1, 10 * (6 + 1) + 1)
    assert (sheet[1:9, 1:7] == 0.2).all() and (sheet[1:9, 8:14] == 0.8).all() and (sheet[10:18, 1:7] == 0.6).all()
    assert sheet.sum() == pytest.approx(48 * (0.2 + 0.8 + 0.6))  # blank everywhere else
    assert centres == [4.5, 13.5]


def test_failing_plot_is_left_out_with_a_warning(tmp_path, text_csv, monkeypatch, caplog):
    from textcluster.reporting import plots

    def broken(*args, **kwargs):
        raise RuntimeError("no ink")

    monkeypatch.setattr(plots, "confusion_matrix", broken)
    with caplog.at_level(logging.WARNING):
        run_dir = run(tmp_path, *labelled_csv(text_csv))
    assert read_status(run_dir) == "completed"
    assert "confusion_matrix plot failed" in caplog.text and "no ink" in caplog.text
    html = (run_dir / "report.html").read_text()
    assert "confusion_matrix" not in embedded_images(html) and "embedding_map" in embedded_images(html)
    assert "Left out of this report" in html and "no ink" in html
    assert not (run_dir / "plots" / "confusion_matrix.png").exists()


def test_report_failure_never_fails_the_run(tmp_path, text_csv, monkeypatch, caplog):
    from textcluster.reporting import report

    monkeypatch.setattr(report, "render_html", lambda *a, **k: 1 / 0)
    with caplog.at_level(logging.WARNING):
        run_dir = run(tmp_path, "data=csv", f"data.path={text_csv}", "encoder=raw", "clusterer.n_clusters=3")
    assert read_status(run_dir) == "completed" and (run_dir / "model" / "manifest.json").is_file()
    assert "could not write" in caplog.text and not (run_dir / "report.html").exists()


def test_report_false_skips_it(tmp_path):
    run_dir = run(tmp_path, "encoder=raw", "clusterer.n_clusters=5", "report=false", limit=60)
    assert not (run_dir / "report.html").exists() and not (run_dir / "plots").exists()


def test_map_uses_pca_for_tiny_data_and_keeps_2d_as_is():
    from textcluster.reporting.plots import map_coordinates

    rng = np.random.default_rng(0)
    coords, method = map_coordinates(rng.normal(size=(40, 8)), method="auto")
    assert method == "PCA" and coords.shape == (40, 2)
    assert map_coordinates(rng.normal(size=(40, 2)))[1] == "embeddings as they are"


def test_map_measures_distance_as_the_runs_umap_does(monkeypatch):
    """The map's UMAP takes the reducer's metric (cosine for text): the geometry the clusters were found in, and
    no second numba compilation for another metric; without a UMAP reducer it is euclidean."""
    from types import SimpleNamespace

    from textcluster.reducers.builtin import PCAReducer, UMAPReducer
    from textcluster.reporting import plots, report

    asked = []
    monkeypatch.setattr(plots, "map_coordinates", lambda X, seed, method, metric: asked.append(metric) or (X, "x"))
    embeddings = np.random.default_rng(0).normal(size=(30, 4))
    for reducer in (UMAPReducer(metric="cosine"), UMAPReducer(), PCAReducer(), None):
        pipeline = SimpleNamespace(labels_=np.zeros(30, dtype=int), embeddings_=embeddings, reducer_=reducer)
        rows, coordinates, _ = report.map_layout(pipeline)()
        assert len(rows) == 30 and coordinates.shape == (30, 4)
    assert asked == ["cosine", "euclidean", "euclidean", "euclidean"]


def test_the_maps_umap_gets_exact_neighbours_at_any_size(monkeypatch):
    """The map's UMAP (of 300 points here) is handed faiss' exact neighbours: umap-learn searches none itself
    (NN-descent from 4,096 points on compiles for about 20 s in every process; below that it measured every
    distance with one Python call per pair)."""
    import umap.umap_
    from sklearn.datasets import make_blobs

    from textcluster.reporting.plots import map_coordinates

    def no_search(*args, **kwargs):
        raise AssertionError("umap-learn searched the neighbours itself")

    monkeypatch.setattr(umap.umap_, "nearest_neighbors", no_search)
    X, y = make_blobs(n_samples=300, centers=3, n_features=8, random_state=0)
    coords, method = map_coordinates(X, method="umap")
    assert method == "UMAP" and coords.shape == (300, 2)
    centres = np.array([coords[y == c].mean(axis=0) for c in range(3)])
    spread = max(np.linalg.norm(coords[y == c] - centres[c], axis=1).mean() for c in range(3))
    assert min(np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1 :]) > 2 * spread


def _check_report_module():
    spec = importlib.util.spec_from_file_location("check_report", REPO_ROOT / "benchmarks" / "check_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_renders_in_headless_chromium(tmp_path, text_csv):
    check = _check_report_module()
    chromium = check.find_chromium()
    if chromium is None:
        pytest.skip(
            "no Chromium (apt-get install chromium-headless-shell, or set CHROMIUM=); "
            "benchmarks/check_report.py needs one"
        )
    run_dir = run(tmp_path, *labelled_csv(text_csv))
    shot = tmp_path / "shot.png"
    assert check.check_report(run_dir / "report.html", chromium, shot) == []
    assert shot.read_bytes().startswith(PNG)


# ------------------------------------------------------------------------------------- reading order, guide, timings

SECTIONS = ("found", "map", "quality", "timings", "details")  # the report's order, top-down


@pytest.fixture(scope="module")
def text_report(tmp_path_factory) -> tuple[Path, str]:
    """One labelled text run shared by the reading-order tests: (run folder, report.html less its scripts)."""
    import pandas as pd

    folder = tmp_path_factory.mktemp("text-report")
    texts = [f"{TEXTS[i % 3]} word{i % 7} extra{i % 5}" for i in range(90)]
    path = folder / "docs.csv"
    pd.DataFrame({"text": texts, "label": [f"topic{i % 3}" for i in range(90)]}).to_csv(path, index=False)
    run_dir = run(folder, *labelled_csv(path))
    page = (run_dir / "report.html").read_text()
    return run_dir, re.sub(r"(<script\b[^>]*>).*?</script>", r"\1</script>", page, flags=re.S)  # not plotly.js


def section(page: str, key: str) -> str:
    start = page.index(f'<section id="{key}">')
    return page[start : page.index("</section>", start)]


def test_report_reads_top_down(text_report):
    _, page = text_report
    starts = [page.index(f'<section id="{key}">') for key in SECTIONS]
    assert starts == sorted(starts)  # found, map, quality, timings, details
    assert page.index("<h1>") < starts[0]  # the header first
    found = section(page, "found")
    assert "3 topics over 90 documents" in found and "<table class=topics>" in found and "fruit" in found
    assert found.index("<table class=topics>") < found.index("<img")  # the topics before any figure
    assert 'id="embedding_map"' in section(page, "map") and 'id="confusion_matrix"' in section(page, "quality")
    assert "<img" not in page[: starts[0]]  # no figure, metric or timing above what was found
    assert "reduce_s" not in page and "encode_s" not in page  # timings by stage name, not by key
    assert "skipped" not in page[: starts[-1]]  # skipped metrics only among the details


def test_every_metric_has_its_reading_beside_it(text_report):
    from textcluster.reporting.metric_guide import GUIDE

    run_dir, page = text_report
    quality = section(page, "quality")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    shown = [key for key in metrics if key in GUIDE and not (key.startswith("noise_fraction_") and not metrics[key])]
    assert {"acc", "nmi", "silhouette", "dbcv", "npmi", "topic_diversity"} <= set(shown)
    for key in shown:
        row = quality[quality.index(f"<span class=meta>{key}</span>") :]
        row = row[: row.index("</tr>")]
        assert html.escape(GUIDE[key].reading) in row and html.escape(GUIDE[key].scale) in row, key
    assert "silhouette" not in section(page, "timings")


def test_timings_are_humanised_and_apart_from_the_metrics(text_report):
    _, page = text_report
    timings = section(page, "timings")
    cells = re.findall(r"<td class=num>([^<]*)</td>", timings)
    durations = [cell for cell in cells if not cell.endswith("%")]
    assert durations and all(re.fullmatch(r"\d+\.\d s|\d+ s|\d+ min \d+ s|\d+ h \d+ min", c) for c in durations)
    assert ">encode<" in timings and ">total<" in timings
    assert "encode" not in section(page, "quality")


def test_humanise_seconds():
    from textcluster.reporting.report import humanise_seconds

    assert humanise_seconds(68.853) == "1 min 9 s"
    assert humanise_seconds(0.43) == "0.4 s" and humanise_seconds(9.94) == "9.9 s"
    assert humanise_seconds(42.4) == "42 s" and humanise_seconds(59.6) == "1 min 0 s"
    assert humanise_seconds(3725) == "1 h 2 min"


def test_skipped_metrics_fold_into_one_line_per_reason(tmp_path, text_csv):
    run_dir = run(tmp_path, "data=csv", f"data.path={text_csv}", "encoder=raw", "clusterer.n_clusters=3")  # no labels
    page = (run_dir / "report.html").read_text()
    details = section(page, "details")
    assert details.count("<li>") == 1 and "skipped 8 metrics that need true labels" in details
    assert "Against the true labels" not in page


def test_every_metric_an_evaluator_emits_has_a_guide(text_report):
    """The run above uses every registered evaluator (the default evaluation lists them all) and none skipped, so
    metrics.json holds every key they emit; each needs its reading in metric_guide.GUIDE."""
    from textcluster import registry
    from textcluster.config import compose
    from textcluster.reporting.metric_guide import GUIDE

    run_dir, _ = text_report
    # textcluster's own evaluators (a plugin another test loaded registers its own; a plugin's metric shows without
    # a reading)
    keys = registry.evaluators.keys()
    built_in = {key for key in keys if registry.evaluators.get(key).__module__.startswith("textcluster.")}
    assert set(compose([]).evaluation.metrics) == built_in
    assert json.loads((run_dir / "skipped_metrics.json").read_text()) == {}
    timings = json.loads((run_dir / "timings.json").read_text())
    emitted = set(json.loads((run_dir / "metrics.json").read_text())) - set(timings) - {"n_samples"}
    assert emitted and emitted <= set(GUIDE), emitted - set(GUIDE)
    assert {"noise_fraction_before", "noise_fraction_after"} <= set(GUIDE)  # the pipeline's noise policy adds them


def test_header_names_the_stages_as_the_console_does(tmp_path):
    from textcluster.reporting.report import stage_names

    config = {"encoder": {"name": "hybrid"}, "reducer": {"name": "umap"}, "clusterer": {"name": "kmeans"}}
    config["refiner"] = {"name": "none"}
    assert stage_names(config) == {"encoder": "hybrid", "reducer": "umap", "clusterer": "kmeans"}
    recipe = {**config, "recipe": "text data: encoder=hybrid reducer=umap_text"}
    assert stage_names(recipe)["reducer"] == "umap_text"  # what encoder=auto resolved to
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "hydra.yaml").write_text(
        "hydra:\n  runtime:\n    choices:\n      reducer: umap_text\n      clusterer: kmeans\n      encoder: hybrid\n"
    )
    assert stage_names(config, tmp_path) == {"encoder": "hybrid", "reducer": "umap_text", "clusterer": "kmeans"}


def test_report_header_shows_the_run_choices(text_report):
    _, page = text_report
    header = page[: page.index("</header>")]
    assert "encoder=raw" in header and "clusterer=kmeans" in header and "data=csv: " in header


# ------------------------------------------------------------------------------------- labels that do not overlap


def boxes_overlap(boxes) -> list[tuple[int, int]]:
    from textcluster.reporting.label_placement import overlap

    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if overlap(boxes[i], boxes[j])]


def test_placed_labels_never_overlap_and_stay_inside():
    from textcluster.reporting.label_placement import box_at, inside, place_labels

    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(2, 40))
        anchors = rng.normal(400, 60 + 20 * trial, size=(n, 2)).clip(0, 800)  # crowded to spread out
        sizes = np.column_stack([rng.uniform(40, 220, n), np.full(n, 20.0)])
        priority = rng.integers(1, 500, n)
        bounds = (0.0, 0.0, 800.0, 700.0)
        centres = place_labels(anchors, sizes, priority, bounds)
        boxes = [box_at(c, s) for c, s in zip(centres, sizes) if c is not None]
        assert boxes and boxes_overlap(boxes) == []
        assert all(inside(box, bounds) for box in boxes)
        first = int(np.argmax(priority))  # the largest topic keeps its anchor when it fits there
        if inside(box_at(anchors[first], sizes[first]), bounds):
            assert centres[first] == tuple(anchors[first])


def test_a_label_with_no_room_is_hidden_and_the_larger_topic_wins():
    from textcluster.reporting.label_placement import place_labels

    anchors = np.array([[50.0, 10.0], [50.0, 10.0]])
    sizes = np.array([[100.0, 20.0], [100.0, 20.0]])
    assert place_labels(anchors, sizes, [1, 9], (0, 0, 100, 20)) == [None, (50.0, 10.0)]  # one box fits
    spaced = place_labels(anchors, sizes, [1, 9], (0, 0, 100, 100))
    assert spaced[1] == (50.0, 10.0) and spaced[0] is not None and spaced[0] != spaced[1]  # moved, not hidden


def test_interactive_map_labels_do_not_overlap_at_its_drawn_size():
    from textcluster.reporting import document_map as dm

    rng = np.random.default_rng(1)
    topics = np.repeat(np.arange(30), 20)
    coords = rng.normal(size=(600, 2)) * 0.3 + rng.normal(size=(30, 2))[topics]  # 30 topics, close together
    names = {t: f"topic words number {t}, more words" for t in range(30)}
    ranges = dm._axis_ranges(coords)
    placed = dm.topic_labels_placed(coords, topics, names, ranges)
    assert 0 < len(placed) < 30  # some fit, the rest are left off
    (x0, x1), (y0, y1) = ranges
    width, height = dm.plot_area()
    boxes = []
    for topic, (x, y) in placed:
        w, h = dm.label_box(dm._label_text(topic, names))
        px, py = (x - x0) / (x1 - x0) * width, (y - y0) / (y1 - y0) * height
        boxes.append((px - w / 2, py - h / 2, px + w / 2, py + h / 2))
    assert boxes_overlap(boxes) == []
    fragment = dm.document_map_html(coords, topics, names, [f"doc {i}" for i in range(600)]).html
    assert fragment.count('"showarrow":false') == len(placed)  # only the placed labels are drawn


def test_png_map_labels_do_not_overlap(tmp_path):
    """The static map's labels, measured as matplotlib drew them: no two boxes intersect."""
    from textcluster.reporting import plots

    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(25), 12)
    coords = rng.normal(size=(300, 2)) * 0.2 + rng.normal(size=(25, 2))[labels]
    names = {t: f"keyword{t}, another, third" for t in range(25)}
    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(9, 7), dpi=100)
    ax.scatter(coords[:, 0], coords[:, 1], s=4)
    fig.tight_layout()
    colours = plots.cluster_colours(list(range(25)))
    shown = plots.label_map(ax, coords, labels, list(range(25)), colours, names)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    visible = [t for t in ax.texts if t.get_visible()]
    boxes = [tuple(t.get_bbox_patch().get_window_extent(renderer).extents) for t in visible]
    plt.close(fig)
    assert 0 < shown == len(visible) and boxes_overlap(boxes) == []
    caption = plots.embedding_map(
        coords, labels, tmp_path / "map.png", layout=(np.arange(300), coords, "PCA"), names=names
    )
    assert "coloured by topic" in caption


def test_plot_titles_fit_their_figure(tmp_path):
    """Every title is wrapped to its axes: none runs past the figure's edge (and is cut in the PNG)."""
    from textcluster.reporting import plots

    plt = plots._pyplot()
    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    plots.set_title(ax, "Choosing k on 5000 documents with a long explanation that cannot fit on one line at all")
    fig.tight_layout()
    fig.canvas.draw()
    extent = ax.title.get_window_extent(fig.canvas.get_renderer())
    figure = fig.bbox
    plt.close(fig)
    assert "\n" in ax.title.get_text() and extent.x0 >= figure.x0 and extent.x1 <= figure.x1
