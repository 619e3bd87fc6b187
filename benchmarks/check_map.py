"""A real text run, then its report's interactive document map checked in headless Chromium (offline).

    python benchmarks/check_map.py                                  # 2,000 SearchSnippets, then the checks
    python benchmarks/check_map.py --report RUN/report.html         # check a report that exists already
    python benchmarks/check_map.py --screenshot docs/document-map.png

1. runs ``textcluster data=lines data.path=<SearchSnippets.txt> data.limit=2000 encoder=raw reducer=pca
   clusterer=kmeans clusterer.n_clusters=8 cache=false`` (the data folder: $TEXTCLUSTER_DATA_DIR, else
   ``<repo>/../shared/data``) into a temporary run folder;
2. reads report.html: plotly.js inlined exactly once, every ``<script>`` inline (no ``src``), and outside
   the inlined library no ``src``/``href`` leaving the file and no ``https://cdn``;
3. opens report.html in Chromium (``--dump-dom`` with ``--virtual-time-budget=5000``, every host
   resolving nowhere) with a probe appended that waits for Plotly, then reports what rendered
   (``plot-container``, ``main-svg``, canvases, topic labels, legend entries) and types a word into
   the search box to see the match count and the faded points, then clears it;
4. writes the map's section alone to a small page and screenshots it (``--window-size=1280,1000``).

Prints a line per check and the report's size; exit status 0 when everything passed, 1 otherwise,
2 when there is no Chromium (see benchmarks/check_report.py for how it is found).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from textcluster.reporting.style import CSS, REPORT_CSS

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TEXTCLUSTER_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
OVERRIDES = ["data=lines", "encoder=raw", "reducer=pca", "clusterer=kmeans", "clusterer.n_clusters=8", "cache=false"]
QUERY = "sports"  # a SearchSnippets class: many snippets hold the word
EXTRA_FLAGS = ["--enable-unsafe-swiftshader"]  # software WebGL for Scattergl (no GPU in a container)
SCRIPT = re.compile(r"(<script\b[^>]*>)(.*?)(</script>)", re.S | re.I)
PROBE = """
<script>
(function () {
  function report(result) {
    var out = document.createElement("pre");
    out.id = "map-check";
    out.textContent = JSON.stringify(result);
    document.body.appendChild(out);
  }
  function plain(s) {
    var box = document.createElement("textarea");
    box.innerHTML = String(s).replace(/<br>/g, " ");
    return box.value.toLowerCase();
  }
  function probe(tries) {
    var map = document.getElementById("document-map");
    var plot = map && map.querySelector(".plotly-graph-div");
    if (!plot || !plot.data || !map.querySelector(".plot-container")) {
      if (tries > 0) { setTimeout(function () { probe(tries - 1); }, 100); return; }
      report({rendered: false, has_map: !!map, plotly: typeof Plotly !== "undefined"});
      return;
    }
    var query = __QUERY__, input = document.getElementById("document-map-query");
    var count = document.getElementById("document-map-count");
    var expected = 0;
    plot.data.forEach(function (t) {
      (t.text || []).forEach(function (s) { if (plain(s).indexOf(query) !== -1) { expected++; } });
    });
    var result = {
      rendered: true,
      plot_container: map.querySelectorAll(".plot-container").length,
      main_svg: map.querySelectorAll(".main-svg").length,
      canvases: map.querySelectorAll("canvas").length,
      no_webgl_message: /WebGL is not supported/.test(map.innerText),
      traces: plot.data.length,
      points: plot.data.reduce(function (n, t) { return n + (t.text || []).length; }, 0),
      legend_entries: map.querySelectorAll(".legend .traces").length,
      labels: Array.from(map.querySelectorAll(".annotation-text")).map(function (a) { return a.textContent; }),
      logo_link: !!map.querySelector("a.modebar-btn[href]"),
      query: query,
      expected_matches: expected
    };
    // hover the first point of the first topic (as the mouse would at its position), then read the hover label
    var topic = plot.data.length > 1 && plot.data[0].name === "outliers" ? 1 : 0, full = plot._fullData[topic];
    result.hover_expected = plain(plot.data[topic].text[0]).slice(0, 40);
    result.hover_topic = plain(plot.data[topic].name);
    try {
      Plotly.Fx.hover(plot, {xval: full.x[0], yval: full.y[0]}, "xy");
    } catch (error) { result.hover_error = "" + error; }
    setTimeout(function () { searched(plot, map, query, input, count, result); }, 200);
  }
  function searched(plot, map, query, input, count, result) {
    result.hover_text = (map.querySelector(".hoverlayer") || {}).textContent || "";
    Plotly.Fx.unhover(plot);
    input.value = query;
    input.dispatchEvent(new Event("input"));
    setTimeout(function () {
      result.count_text = count.textContent;
      result.selected = plot.data.reduce(function (n, t) {
        return n + (t.selectedpoints ? t.selectedpoints.length : 0);
      }, 0);
      result.faded_traces = plot.data.filter(function (t) { return Array.isArray(t.selectedpoints); }).length;
      input.value = "";
      input.dispatchEvent(new Event("input"));
      setTimeout(function () {
        result.cleared_count_text = count.textContent;
        result.cleared = plot.data.every(function (t) { return t.selectedpoints == null; });
        report(result);
      }, 200);
    }, 200);
  }
  window.addEventListener("load", function () { probe(40); });
})();
</script>
"""


def _check_report_module():
    spec = importlib.util.spec_from_file_location("check_report", Path(__file__).with_name("check_report.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def textcluster_run(run_dir: Path, data: Path, limit: int, map_method: str) -> Path:
    script = Path(sys.executable).with_name("textcluster")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "textcluster.cli"]
    command += [*OVERRIDES, f"data.path={data}", f"data.limit={limit}", f"report_map={map_method}"]
    command.append(f"hydra.run.dir={run_dir}")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    print("run: textcluster", " ".join(command[1 if script.is_file() else 3 :]))
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=run_dir.parent)
    if done.returncode != 0:
        sys.exit(f"check_map: textcluster failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return run_dir / "report.html"


def static_problems(text: str) -> tuple[list[str], int]:
    """Problems found by reading the HTML (the inlined plotly.js itself is not searched for URLs)."""
    problems = []
    if text.count("* plotly.js v") != 1:
        problems.append(f"plotly.js is inlined {text.count('* plotly.js v')} times, not once")
    tags = re.findall(r"<script\b[^>]*>", text, flags=re.I)
    problems += [f"a script loads a file: {tag[:80]}" for tag in tags if re.search(r"\bsrc\s*=", tag, flags=re.I)]
    outside = SCRIPT.sub(r"\1\3", text)
    for attribute, value in re.findall(r'\b(src|href)\s*=\s*["\']([^"\']*)["\']', outside, flags=re.I):
        if not value.startswith(("data:", "#")):
            problems.append(f"{attribute}={value[:80]!r} points outside the file")
    if "https://cdn" in outside or "mathjax" in outside.lower():
        problems.append("the page names a CDN or MathJax outside the inlined plotly.js")
    if 'id="document-map-query"' not in text:
        problems.append("no search box")
    return problems, len(tags)


def map_section(text: str) -> str:
    start = text.find("<h3>Interactive map</h3>")
    end = text.find("</figure>", start)
    if start < 0 or end < 0:
        raise ValueError("report.html has no document map section")
    return text[start : end + len("</figure>")]


def browser_check(chromium: str, flags: list[str], page: Path, timeout: float = 180) -> dict:
    probe = PROBE.replace("__QUERY__", json.dumps(QUERY))
    return _check_report_module().run_probe(chromium, flags, page, probe, "map-check", timeout)


def browser_problems(seen: dict) -> list[str]:
    if not seen.get("rendered"):
        return [f"Plotly did not render the map: {seen}"]
    problems = []
    if not seen["plot_container"] or not seen["main_svg"]:
        problems.append("no plot-container / main-svg in the DOM")
    if seen["no_webgl_message"] or not seen["canvases"]:
        problems.append("no WebGL canvas (Scattergl did not draw)")
    if not seen["labels"]:
        problems.append("no topic labels on the map")
    hover, expected_hover = seen.get("hover_text", "").lower(), seen.get("hover_expected", "")
    if not expected_hover or expected_hover not in " ".join(hover.split()) or seen["hover_topic"] not in hover:
        problems.append(f"hovering a point did not show its text: {seen.get('hover_text')!r}")
    if seen["logo_link"]:
        problems.append("the modebar links to plotly.com")
    if not seen["expected_matches"]:
        problems.append(f"no document holds {seen['query']!r}: the search check checks nothing")
    expected = seen["expected_matches"]
    if seen["selected"] != expected or not seen["count_text"].startswith(f"{expected} "):
        problems.append(
            f"search {seen['query']!r}: {seen['selected']} points highlighted, count {seen['count_text']!r}, "
            f"expected {seen['expected_matches']}"
        )
    if not seen["cleared"] or seen["cleared_count_text"]:
        problems.append("clearing the search did not restore the map")
    return problems


def screenshot(chromium: str, flags: list[str], section: str, path: Path, timeout: float = 180) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="map-shot-") as scratch:
        page = Path(scratch) / "map.html"
        page.write_text(
            "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>document map</title>"
            f"<style>{CSS}{REPORT_CSS}body{{margin:0 auto}}h2{{margin-top:.3em}}</style></head>"
            f"<body>{section}</body></html>",
            encoding="utf-8",
        )
        subprocess.run(
            [
                chromium,
                *flags,
                f"--user-data-dir={scratch}/profile",
                "--window-size=1280,1000",
                f"--screenshot={path.resolve()}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, default=None, help="check this report.html instead of a new run")
    parser.add_argument("--data", type=Path, default=DATA_DIR / "searchsnippets" / "SearchSnippets.txt")
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--map", default="auto", help="report_map= of the run (auto: UMAP)")
    parser.add_argument("--screenshot", type=Path, default=REPO_ROOT / "docs" / "document-map.png")
    parser.add_argument("--keep", type=Path, default=None, help="run folder to keep (default: a temporary one)")
    args = parser.parse_args()
    check_report = _check_report_module()
    chromium = check_report.find_chromium()
    if chromium is None:
        print("check_map: no Chromium found (set CHROMIUM=, or apt-get install chromium)", file=sys.stderr)
        sys.exit(2)
    flags = [f for f in check_report.FLAGS if not f.startswith("--virtual-time-budget")]
    flags += ["--virtual-time-budget=5000", *EXTRA_FLAGS]
    with tempfile.TemporaryDirectory(prefix="check-map-") as scratch:
        report = args.report
        if report is None:
            if not args.data.is_file():
                sys.exit(f"check_map: {args.data} not found (set TEXTCLUSTER_DATA_DIR or --data)")
            run_dir = args.keep or Path(scratch) / "run"
            report = textcluster_run(run_dir.resolve(), args.data, args.limit, args.map)
        text = report.read_text(encoding="utf-8")
        print(f"report: {report} ({report.stat().st_size:,} bytes)")
        problems, n_scripts = static_problems(text)
        print(f"static: {n_scripts} <script> tags, none with src; plotly.js inlined {text.count('* plotly.js v')}x")
        seen = browser_check(chromium, flags, report)
        print("chromium:", json.dumps(seen))
        problems += browser_problems(seen)
        shot = screenshot(chromium, flags, map_section(text), args.screenshot)
        print(f"screenshot: {shot} ({shot.stat().st_size:,} bytes)")
    for problem in problems:
        print(f"problem: {problem}")
    if not problems:
        print(f"ok: the document map renders offline in {Path(chromium).name}, search and labels work")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
