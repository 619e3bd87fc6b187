"""report.html and plots/: self-contained, one embedded PNG per plot, and never a reason for a run to fail."""

from __future__ import annotations

import base64
import importlib.util
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


def test_text_report_embeds_every_plot_and_the_topics(tmp_path, text_csv):
    run_dir = run(
        tmp_path,
        "data=csv",
        f"data.path={text_csv}",
        "data.label_column=label",
        "encoder=raw",
        "clusterer.n_clusters=3",
    )
    html = (run_dir / "report.html").read_text()
    images = embedded_images(html)
    assert set(images) == {"embedding_map", "cluster_sizes", "topic_keywords", "topic_tree", "confusion_matrix"}
    for name, data in images.items():
        assert data.startswith(PNG), name
        assert (run_dir / "plots" / f"{name}.png").read_bytes() == data  # the same figure as in plots/
    assert html.count("<img") == 5
    outside_scripts = re.sub(r"(<script\b[^>]*>).*?</script>", r"\1", html, flags=re.S)  # not the inlined plotly.js
    assert not re.search(r'(src|href)="(?!data:)', outside_scripts)  # nothing outside the file
    assert "<h2>Topics</h2>" in html and "fruit" in html  # the keywords of topics.json
    assert "acc" in html and "Left out" not in html


def test_image_report_shows_examples_not_keywords(tmp_path):
    run_dir = run(tmp_path, "encoder=raw", "clusterer.n_clusters=10", limit=200)  # digits
    images = embedded_images((run_dir / "report.html").read_text())
    assert set(images) == {"embedding_map", "cluster_sizes", "cluster_examples", "confusion_matrix"}


def test_failing_plot_is_left_out_with_a_warning(tmp_path, text_csv, monkeypatch, caplog):
    from textcluster.reporting import plots

    def broken(*args, **kwargs):
        raise RuntimeError("no ink")

    monkeypatch.setattr(plots, "confusion_matrix", broken)
    with caplog.at_level(logging.WARNING):
        run_dir = run(
            tmp_path,
            "data=csv",
            f"data.path={text_csv}",
            "data.label_column=label",
            "encoder=raw",
            "clusterer.n_clusters=3",
        )
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
    run_dir = run(
        tmp_path,
        "data=csv",
        f"data.path={text_csv}",
        "data.label_column=label",
        "encoder=raw",
        "clusterer.n_clusters=3",
    )
    shot = tmp_path / "shot.png"
    assert check.check_report(run_dir / "report.html", chromium, shot) == []
    assert shot.read_bytes().startswith(PNG)
