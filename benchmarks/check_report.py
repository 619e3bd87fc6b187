"""Open a run's report.html in headless Chromium: every image must load, nothing may come from the network.

    python benchmarks/check_report.py outputs/2026-11-27/08-46-02            # a run folder or report.html
    python benchmarks/check_report.py RUN --screenshot docs/report.png        # and save what the browser shows
    python benchmarks/check_report.py --newsgroups 1000 --docs docs           # a real run, then the docs' pictures

``--newsgroups N`` first runs ``textcluster data=csv data.path=<20newsgroups/test.csv> data.label_column=label
data.limit=N clusterer.n_clusters=20`` (the default recipe otherwise; the data folder: $TEXTCLUSTER_DATA_DIR,
else ``<repo>/../shared/data``) into ``--keep`` or a temporary folder. ``--docs FOLDER`` saves the three
screenshots the documentation shows: ``report-20ng.png`` (the top: header and topics), ``report-quality.png``
(the quality section's metrics, without its figures) and ``document-map.png`` (the interactive map), each
section on a page of its own with the report's stylesheet.

Chromium is found as $CHROMIUM, else chromium, chromium-browser, chromium-headless-shell or
google-chrome on the PATH (Debian: ``apt-get install chromium-headless-shell``). The check

1. reads the HTML: no ``src=``/``href=`` pointing outside the file (no http(s), no relative paths),
   every ``<img>`` a ``data:image/png;base64`` URI that decodes to a PNG;
2. loads a copy of the report with a small script appended in Chromium (``--dump-dom``, network
   blocked by ``--host-resolver-rules``), which writes, once the page has loaded, how many images it
   has and how many decoded with a non-zero size;
3. measures, in the same page, the box of every topic label Plotly drew on the interactive map: no two
   may overlap (the report places them so);
4. optionally takes a screenshot of the report itself.

Exit status 0 when every check passes, 1 otherwise (a line per problem), 2 when there is no Chromium.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TEXTCLUSTER_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
NEWSGROUPS = ["data=csv", "data.label_column=label", "clusterer.n_clusters=20"]
BROWSERS = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome", "google-chrome-stable")
PROBE = """
<script>
window.addEventListener("load", function () {
  var images = Array.from(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0 && i.naturalHeight > 0; });
  var out = document.createElement("pre");
  out.id = "report-check";
  var labels = Array.from(document.querySelectorAll("#document-map .annotation .bg")).map(function (r) {
    var b = r.getBoundingClientRect();
    return [b.left, b.top, b.right, b.bottom];
  });
  out.textContent = JSON.stringify({images: images.length, loaded: loaded.length,
    sizes: loaded.map(function (i) { return [i.naturalWidth, i.naturalHeight]; }), title: document.title,
    labels: labels});
  document.body.appendChild(out);
});
</script>
"""
# Chromium flags for a sandbox-less container: no GPU, no network (every host resolves nowhere).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",  # software WebGL, for the interactive map's Scattergl (no GPU here)
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=10000",
]


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() or shutil.which(explicit) else None
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def static_problems(text: str) -> tuple[list[str], int]:
    """Problems found by reading the HTML, and the number of images."""
    problems = []
    # the bodies of inline scripts (the document map's plotly.js names URLs it never loads) are not read;
    # their <script> tags are, so a <script src=...> is still found
    text = re.sub(r"(<script\b[^>]*>).*?</script>", r"\1</script>", text, flags=re.S | re.I)
    for attribute, value in re.findall(r'\b(src|href)\s*=\s*["\']([^"\']*)["\']', text, flags=re.I):
        if not value.startswith(("data:", "#")):
            problems.append(f"{attribute}={value[:80]!r} points outside the file")
    if re.search(r"@import|url\((?!['\"]?data:)", text):
        problems.append("the CSS loads something from outside the file")
    images = re.findall(r"<img\b[^>]*>", text, flags=re.I)
    for tag in images:
        match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', tag)
        if not match:
            problems.append(f"an image is not an embedded PNG: {tag[:80]}")
        elif not base64.b64decode(match.group(1)).startswith(b"\x89PNG\r\n\x1a\n"):
            problems.append("an embedded image does not decode to a PNG")
    return problems, len(images)


def run_probe(chromium: str, flags: list[str], page: Path, probe: str, marker: str, timeout: float = 120) -> dict:
    """Open a copy of ``page`` with the ``probe`` script appended in headless Chromium; the JSON the probe wrote
    into ``<pre id="{marker}">`` of the dumped DOM."""
    import html

    with tempfile.TemporaryDirectory(prefix=f"{marker}-") as scratch:
        copy = Path(scratch) / page.name
        text = page.read_text(encoding="utf-8")
        copy.write_text(text.replace("</body>", probe + "</body>") if "</body>" in text else text + probe, "utf-8")
        done = subprocess.run(
            [chromium, *flags, f"--user-data-dir={scratch}/profile", "--dump-dom", copy.as_uri()],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    match = re.search(rf'<pre id="{marker}">(.*?)</pre>', done.stdout, flags=re.S)
    if not match:
        raise RuntimeError(f"Chromium did not run the check (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return json.loads(html.unescape(match.group(1)))


def browser_check(chromium: str, report: Path, timeout: float = 120) -> dict:
    """What the probe script saw in Chromium: {images, loaded, sizes, title}."""
    return run_probe(chromium, FLAGS, report, PROBE, "report-check", timeout)


def screenshot(
    chromium: str, report: Path, path: Path, width: int = 1200, height: int = 3000, timeout: float = 120
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="report-shot-") as scratch:
        subprocess.run(
            [
                chromium,
                *FLAGS,
                f"--user-data-dir={scratch}/profile",
                f"--window-size={width},{height}",
                f"--screenshot={path.resolve()}",
                report.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    return path


def overlapping_labels(boxes: list[list[float]]) -> list[tuple[int, int]]:
    """Pairs of label boxes (left, top, right, bottom) that intersect by more than a pixel's rounding."""
    return [
        (i, j)
        for i, a in enumerate(boxes)
        for j, b in enumerate(boxes[i + 1 :], i + 1)
        if a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5
    ]


def check_report(report: Path, chromium: str, shot: Path | None = None) -> list[str]:
    """Every problem found (empty: the report is self-contained and its images render)."""
    problems, n_images = static_problems(report.read_text(encoding="utf-8"))
    if n_images == 0:
        problems.append("the report has no images")
    seen = browser_check(chromium, report)
    if seen["images"] != n_images:
        problems.append(f"Chromium found {seen['images']} images, the HTML has {n_images}")
    if seen["loaded"] != seen["images"]:
        problems.append(f"only {seen['loaded']} of {seen['images']} images rendered in Chromium")
    for i, j in overlapping_labels(seen.get("labels") or []):
        problems.append(f"labels {i} and {j} of the interactive map overlap: {seen['labels'][i]}, {seen['labels'][j]}")
    if shot is not None:
        screenshot(chromium, report, shot)
    return problems


def section_page(text: str, key: str, start: str | None = None, figures: bool = True) -> str:
    """The report's ``<section id=key>`` (from ``start`` within it, when given; without its PNG figures when
    ``figures`` is false) alone on a page with the report's stylesheet, for a screenshot of that section."""
    begin = text.index(f'<section id="{key}">')
    end = text.index("</section>", begin) + len("</section>")
    if start is not None:
        begin = text.index(start, begin)
    body = text[begin:end]
    if not figures:
        body = re.sub(r'<figure id="\w+"><img\b.*?</figure>', "", body, flags=re.S)
    style = re.search(r"<style>(.*?)</style>", text, flags=re.S)
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>report section</title>"
        f"<style>{style.group(1) if style else ''}body{{margin:.5em auto}}h2{{margin-top:.2em}}</style></head>"
        f"<body>{body}</body></html>"
    )


def page_screenshot(chromium: str, page_html: str, path: Path, width: int, height: int, timeout: float = 180) -> Path:
    with tempfile.TemporaryDirectory(prefix="report-section-") as scratch:
        page = Path(scratch) / "section.html"
        page.write_text(page_html, encoding="utf-8")
        return screenshot(chromium, page, path, width, height, timeout)


def docs_screenshots(chromium: str, report: Path, folder: Path) -> list[Path]:
    """The three pictures of the documentation: the report's top, its quality section, its interactive map."""
    text = report.read_text(encoding="utf-8")
    shots = [screenshot(chromium, report, folder / "report-20ng.png", 1280, 2000)]
    quality = section_page(text, "quality", figures=False)  # the metrics and their readings, not the matrix below
    shots.append(page_screenshot(chromium, quality, folder / "report-quality.png", 1280, 1400))
    interactive = section_page(text, "map", "<h3>Interactive map</h3>")
    shots.append(page_screenshot(chromium, interactive, folder / "document-map.png", 1280, 960))
    return shots


def newsgroups_run(run_dir: Path, limit: int) -> Path:
    """``textcluster`` on the first ``limit`` posts of 20 Newsgroups' test split, the default recipe, k = 20."""
    data = DATA_DIR / "20newsgroups" / "test.csv"
    if not data.is_file():
        sys.exit(f"check_report: {data} not found (set TEXTCLUSTER_DATA_DIR)")
    script = Path(sys.executable).with_name("textcluster")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "textcluster.cli"]
    command += [*NEWSGROUPS, f"data.path={data}", f"data.limit={limit}", f"hydra.run.dir={run_dir}"]
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    print("run:", " ".join(["textcluster", *command[1 if script.is_file() else 3 :]]))
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=run_dir.parent)
    if done.returncode != 0:
        sys.exit(f"check_report: textcluster failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    print(done.stdout.strip())
    return run_dir / "report.html"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, nargs="?", help="a run folder or its report.html")
    parser.add_argument("--screenshot", type=Path, default=None, help="save a PNG of the rendered report here")
    parser.add_argument("--newsgroups", type=int, default=None, help="first run textcluster on this many posts")
    parser.add_argument("--keep", type=Path, default=None, help="the --newsgroups run's folder (default: temporary)")
    parser.add_argument("--docs", type=Path, default=None, help="save the documentation's three screenshots here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="check-report-") as scratch:
        if args.newsgroups:
            report = newsgroups_run((args.keep or Path(scratch) / "run").resolve(), args.newsgroups)
        elif args.report is None:
            parser.error("name a run folder or report.html, or --newsgroups N")
        else:
            report = args.report / "report.html" if args.report.is_dir() else args.report
        check_and_print(report, args.screenshot, args.docs)


def check_and_print(report: Path, shot: Path | None, docs: Path | None) -> None:
    if not report.is_file():
        sys.exit(f"check_report: {report} not found")
    chromium = find_chromium()
    if chromium is None:
        print(
            "check_report: no Chromium found (set CHROMIUM=/path/to/chromium, or apt-get install "
            "chromium-headless-shell)",
            file=sys.stderr,
        )
        sys.exit(2)
    problems = check_report(report, chromium, shot)
    for problem in problems:
        print(f"problem: {problem}")
    if docs is not None:
        for path in docs_screenshots(chromium, report, docs):
            print(f"screenshot: {path} ({path.stat().st_size:,} bytes)")
    if not problems:
        print(
            f"ok: {report} is self-contained, every image renders in {Path(chromium).name} and no two map labels "
            "overlap" + (f"; screenshot: {shot}" if shot else "")
        )
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
