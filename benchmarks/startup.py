"""Start-up figures of the command line (issue 24: a config error within 2 s, ``--help`` within 1 s), and what
a small run pays to compile umap-learn's numba code (textcluster/compiled.py keeps it between processes).

    python benchmarks/startup.py [--repeats 5] [--run-repeats 2]

Each command runs ``--repeats`` times in a fresh process; the best wall time counts (a shared machine
slows some repeats, never speeds one up). The small run (the bundled digits, the default image recipe:
dense autoencoder for 2 epochs, then UMAP) runs ``--run-repeats`` times each way, alternating: with an empty
cache root (numba compiles everything) and with one an earlier run filled (it loads the code). Writes
benchmarks/results/startup.md.
"""

from __future__ import annotations

import argparse
import json
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


def textcluster() -> str:
    """The command under test: the one on the PATH, else the one beside this Python."""
    return shutil.which("textcluster") or str(Path(sys.executable).with_name("textcluster"))


def best_wall(arguments: list[str], repeats: int, cwd: Path) -> tuple[float, int]:
    times, code, command = [], 0, [textcluster(), *arguments]
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        code = done.returncode
    return min(times), code


SMALL_RUN = ["trainer.max_epochs=2", "trainer.enable_progress_bar=false", "cache=false", "report=false"]


def small_run(cache_root: Path, run_dir: Path) -> tuple[float, float]:
    """(wall s, the run's reduce stage s) of the small run with ``cache_root`` as TEXTCLUSTER_CACHE_DIR."""
    env = {**os.environ, "TEXTCLUSTER_CACHE_DIR": str(cache_root)}
    env.pop("NUMBA_CACHE_DIR", None)
    command = [textcluster(), *SMALL_RUN, f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the small run failed: {done.stderr[-2000:]}")
    reduce_s = json.loads((run_dir / "timings.json").read_text())["reduce_s"]
    shutil.rmtree(run_dir)
    return wall, reduce_s


def compile_rows(work: Path, repeats: int) -> list[str]:
    """The small run with its numba code compiled in the process and loaded from an earlier run's."""
    warm = work / "warm-cache"
    small_run(warm, work / "run")  # fills the warm cache root
    found = {"compiled": [], "loaded": []}
    for repeat in range(repeats):
        found["compiled"].append(small_run(work / f"cold-cache-{repeat}", work / "run"))
        found["loaded"].append(small_run(warm, work / "run"))
    labels = {"compiled": "empty cache root: numba compiles", "loaded": "cache root of an earlier run: loaded"}
    return [
        f"| {labels[way]} | {min(w for w, _ in runs):.1f} | {min(r for _, r in runs):.1f} |"
        for way, runs in found.items()
    ]


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
    parser.add_argument("--run-repeats", type=int, default=2)
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
        compiled = compile_rows(work, args.run_repeats)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    text = "\n".join(
        [
            "# Start-up of the command line",
            "",
            f"Produced by `python benchmarks/startup.py --repeats {args.repeats} --run-repeats {args.run_repeats}`; "
            "do not edit by hand.",
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
            "## A small run's compiled code",
            "",
            f"`textcluster {' '.join(SMALL_RUN)}` (the bundled digits: dense autoencoder, then UMAP), "
            f"{args.run_repeats} runs each way, alternating; best of them. umap-learn's numba code compiles in "
            "a process whose cache root is empty and loads from `$TEXTCLUSTER_CACHE_DIR/numba/` after that.",
            "",
            "| numba code | best wall (s) | reduce stage (s) |",
            "| --- | --- | --- |",
            *compiled,
            "",
        ]
    )
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
