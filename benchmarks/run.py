"""Benchmark harness: run named suites of textcluster configurations and tabulate the results.

    python benchmarks/run.py encoders --seeds 0            # writes benchmarks/results/encoders.md
    python benchmarks/run.py smoke --seeds 0 1 2           # mean ± std over seeds
    python benchmarks/run.py deep --seeds 0 1 2 --resume   # add missing cells to earlier ones

Each cell (data set x configuration x seed) is a separate `textcluster` process,
so wall time and peak memory (max resident set size of that process) are its own.
Suites live in benchmarks/suites.yaml. Extra Hydra overrides for every run go
after `--`, e.g. `-- trainer.max_epochs=5`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
MODELS = HERE / "runs" / "models"  # models fetched by a script (benchmarks/fetch_mpnet.py); {models} in suites.yaml
METRICS = ("acc", "nmi", "ari")


def data_dir() -> Path:
    return Path(os.environ.get("TEXTCLUSTER_DATA_DIR", HERE.parent.parent / "shared" / "data")).resolve()


NOTES_MARKER = "<!-- written by hand below: kept when the table is rewritten -->"


def write_keeping_notes(page: Path, generated: str) -> None:
    """Write a results page's generated part, keeping whatever was written by hand below NOTES_MARKER."""
    notes = page.read_text().split(NOTES_MARKER, 1)[1] if page.is_file() and NOTES_MARKER in page.read_text() else ""
    page.write_text(generated.rstrip("\n") + "\n\n" + NOTES_MARKER + (notes or "\n"))


def textcluster_command() -> list[str]:
    script = Path(sys.executable).with_name("textcluster")
    return [str(script)] if script.exists() else [sys.executable, "-m", "textcluster.cli"]


def run_cell(overrides: list[str], run_dir: Path, resume: bool = False) -> dict:
    """One textcluster process; returns its metrics plus wall time and peak memory (kept in cell.json)."""
    record = run_dir / "cell.json"
    if resume and record.is_file():
        return json.loads(record.read_text())
    if run_dir.exists():
        shutil.rmtree(run_dir)
    command = textcluster_command() + overrides + [f"hydra.run.dir={run_dir}", "trainer.enable_progress_bar=false"]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = "\n".join(output.strip().splitlines()[-5:])
        print(f"  FAILED: {' '.join(overrides)}\n{tail}", file=sys.stderr)
        return {"failed": True}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    cell = {**metrics, "wall_s": wall, "peak_mem_mb": usage.ru_maxrss / 1024, "overrides": overrides}
    record.write_text(json.dumps(cell, indent=2))
    return cell


def mean_std(values: list[float], digits: int) -> str:
    if not values:
        return "failed"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", nargs="*", default=None, help="data sets to run (default: all in the suite)")
    parser.add_argument("--out", type=Path, default=None, help="markdown table (default benchmarks/results/<suite>.md)")
    parser.add_argument("--resume", action="store_true", help="reuse cells already run (their cell.json)")
    parser.add_argument("--table-only", action="store_true", help="tabulate the cells already run; run nothing")
    # Everything after a bare `--` is passed to every run as Hydra overrides.
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.extra = argv[split + 1 :]

    spec = yaml.safe_load((HERE / "suites.yaml").read_text())
    suite = spec["suites"][args.suite]
    folder = data_dir()
    runs_root = HERE / "results" / "runs" / args.suite
    rows = []
    for dataset, config_names in suite["datasets"].items():
        if args.only and dataset not in args.only:
            continue
        data_overrides = [o.format(data=folder) for o in spec["datasets"][dataset]]
        for name in config_names:
            cells = []
            for seed in args.seeds:
                configuration = [o.format(data=folder, models=MODELS) for o in suite["configurations"][name]]
                overrides = data_overrides + configuration + [f"seed={seed}"] + args.extra
                if args.table_only:
                    record = runs_root / f"{dataset}-{name}-seed{seed}" / "cell.json"
                    if record.is_file():
                        cells.append(json.loads(record.read_text()))
                    continue
                print(f"[{dataset} / {name} / seed {seed}]", flush=True)
                cell = run_cell(overrides, runs_root / f"{dataset}-{name}-seed{seed}", args.resume)
                if not cell.get("failed"):
                    print("  " + "  ".join(f"{k}={cell[k]:.3f}" for k in (*METRICS, "wall_s")), flush=True)
                    cells.append(cell)
            rows.append((dataset, name, cells))
    write_table(args, suite, rows)


def write_table(args, suite: dict, rows: list) -> None:
    out = args.out or HERE / "results" / f"{args.suite}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Benchmark: {args.suite}",
        "",
        suite.get("description", ""),
        "",
        f"Command: `python benchmarks/run.py {args.suite} --seeds {' '.join(map(str, args.seeds))}"
        + (f" -- {' '.join(args.extra)}" if args.extra else "")
        + "`",
        "",
        f"Machine: {os.cpu_count()} CPU cores, {time.strftime('%Y-%m-%d')}; seeds {args.seeds}; "
        "each cell is mean ± std over seeds.",
        "",
        "Wall time is the whole process (start-up, loading, encoding, clustering); the encode column is "
        "the part spent embedding, near 0 when the embeddings came from the embedding cache.",
        "",
        "| data | configuration | ACC | NMI | ARI | wall time (s) | encode (s) | peak memory (MB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for dataset, name, cells in rows:
        values = {k: [c.get(k, 0.0) for c in cells] for k in (*METRICS, "wall_s", "encode_s", "peak_mem_mb")}
        lines.append(
            f"| {dataset} | {name} | "
            + " | ".join(
                [mean_std(values[k], 3) for k in METRICS]
                + [mean_std(values[k], 0) for k in ("wall_s", "encode_s", "peak_mem_mb")]
            )
            + " |"
        )
    out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
