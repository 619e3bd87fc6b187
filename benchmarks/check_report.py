"""Open a run's report.html in headless Chromium: every image must load, nothing may come from the network.

    python benchmarks/check_report.py outputs/2026-11-27/08-46-02            # a run folder or report.html
    python benchmarks/check_report.py RUN --screenshot docs/report.png        # and save what the browser shows

Chromium is found as $CHROMIUM, else chromium, chromium-browser, chromium-headless-shell or
google-chrome on the PATH (Debian: ``apt-get install chromium-headless-shell``). The check

1. reads the HTML: no ``src=``/``href=`` pointing outside the file (no http(s), no relative paths),
   every ``<img>`` a ``data:image/png;base64`` URI that decodes to a PNG;
2. loads a copy of the report with a small script appended in Chromium (``--dump-dom``, network
   blocked by ``--host-resolver-rules``), which writes, once the page has loaded, how many images it
   has and how many decoded with a non-zero size;
3. optionally takes a full-page screenshot of the report itself.

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

BROWSERS = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome", "google-chrome-stable")
PROBE = """
<script>
window.addEventListener("load", function () {
  var images = Array.from(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0 && i.naturalHeight > 0; });
  var out = document.createElement("pre");
  out.id = "report-check";
  out.textContent = JSON.stringify({images: images.length, loaded: loaded.length,
    sizes: loaded.map(function (i) { return [i.naturalWidth, i.naturalHeight]; }), title: document.title});
  document.body.appendChild(out);
});
</script>
"""
# Chromium flags for a sandbox-less container: no GPU, no network (every host resolves nowhere).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
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
    if shot is not None:
        screenshot(chromium, report, shot)
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a run folder or its report.html")
    parser.add_argument("--screenshot", type=Path, default=None, help="save a PNG of the rendered report here")
    args = parser.parse_args()
    report = args.report / "report.html" if args.report.is_dir() else args.report
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
    problems = check_report(report, chromium, args.screenshot)
    for problem in problems:
        print(f"problem: {problem}")
    if not problems:
        print(
            f"ok: {report} is self-contained and every image renders in {Path(chromium).name}"
            + (f"; screenshot: {args.screenshot}" if args.screenshot else "")
        )
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
