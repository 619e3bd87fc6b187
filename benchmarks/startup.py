"""Start-up figures of the command line (issue 24: a config error within 2 s, ``--help`` within 1 s).

    python benchmarks/startup.py [--repeats 5]

Each command runs ``--repeats`` times in a fresh process; the best wall time counts (a shared machine
slows some repeats, never speeds one up). Writes benchmarks/results/startup.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "startup.md"
HEAVY = ("torch", "sklearn", "umap", "pytorch_lightning", "transformers", "faiss", "onnxruntime")
TARGETS = {"help": 1.0, "error": 2.0}


def commands(corpus: Path) -> list[tuple[str, str, list[str]]]:
    """(label, kind, arguments of ``textcluster``)."""
    return [
        ("`textcluster --help`", "help", ["--help"]),
        ("config error, default data (`clusterer.n_clusters=abc`)", "error", ["clusterer.n_clusters=abc"]),
        (
            "config error, a text CSV (`data=csv data.path=... clusterer.n_clusters=abc`)",
            "error",
            ["data=csv", f"data.path={corpus}", "clusterer.n_clusters=abc"],
        ),
        ("config error, `encoder=cnn encoder.lr=-1`", "error", ["encoder=cnn", "encoder.lr=-1"]),
    ]


def best_wall(arguments: list[str], repeats: int, cwd: Path) -> tuple[float, int]:
    executable = shutil.which("textcluster") or str(Path(sys.executable).with_name("textcluster"))
    times, code = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([executable, *arguments], cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        code = done.returncode
    return min(times), code


def heavy_imports_of_a_check(corpus: Path) -> list[str]:
    """The heavy libraries imported while the text recipe's config is checked (none is the goal)."""
    script = (
        "import sys\n"
        "from textcluster.checks import check_config\n"
        "from textcluster.config import compose, to_plain\n"
        f"check_config(to_plain(compose(['data=csv', 'data.path={corpus}', 'encoder=hybrid', 'reducer=umap_text'])))\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    return [name for name in done.stdout.strip().split(",") if name] if done.returncode == 0 else ["(failed)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        corpus = work / "corpus.csv"
        corpus.write_text("text\nfirst document\nsecond document\n", encoding="utf-8")
        rows = []
        for label, kind, arguments in commands(corpus):
            seconds, code = best_wall(arguments, args.repeats, work)
            met = "yes" if seconds <= TARGETS[kind] else "no"
            rows.append(f"| {label} | {code} | {seconds:.2f} | {TARGETS[kind]:.0f} | {met} |")
        heavy = heavy_imports_of_a_check(corpus)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    text = "\n".join(
        [
            "# Start-up of the command line",
            "",
            f"Produced by `python benchmarks/startup.py --repeats {args.repeats}`; do not edit by hand.",
            "",
            f"- date: {datetime.now():%Y-%m-%d %H:%M}; {os.cpu_count()} cores; load average at the end {load}",
            "- each command in a fresh process, from a folder without a run; best of the repeats",
            "",
            "| command | exit | best wall (s) | target (s) | met |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
            "Heavy libraries imported while checking the text recipe's config (hybrid + umap_text): "
            + (", ".join(heavy) or "none"),
            "",
        ]
    )
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
