"""How many k-means++ starts the final fit of a large corpus needs: ten, ``n_init=auto``'s, or one.

    python benchmarks/scale_default.py   # first: its run folders are what this reads
    python benchmarks/kmeans_starts.py   # writes results/kmeans-starts.md

Above ``fit_size`` (50,000) the default recipe fits UMAP and then k-means on the same seeded sample of 50,000
documents (both draw it with ``fit_sample(n, 50000, 0)``), so a scale_default.py run folder holds k-means' exact
input: the saved reducer's layout of its training points. For each corpus found (1,000,000 and 100,000 short
texts, 100,000 long posts) k-means runs at k = 150 and 287 (the 1M run's pick) with ten starts, with the starts
``n_init=auto`` settles, and with one, seeds 0-2. ``inertia``: over the lowest of all those fits, in percent;
NMI against the corpus' newsgroups on the 50,000 documents; seconds of the fit on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from run import write_keeping_notes
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from textcluster.api import Pipeline
from textcluster.clusterers.builtin import AUTO_STARTS_PAIRS, auto_starts
from textcluster.machine import available_cores
from textcluster.seeding import FIT_SIZE, fit_sample

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "kmeans-starts.md"
RUNS = HERE / "runs" / "scale-default"
CELLS = {"short-1000000": 1_000_000, "short-100000": 100_000, "long-100000": 100_000}
KS, SEEDS = (150, 287), (0, 1, 2)


def sample_and_labels(cell: str, n_documents: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means' input in the run (the UMAP layout of the shared fit sample) and those documents' classes."""
    reducer = Pipeline.load(RUNS / cell / "textcluster" / "model").reducer_
    layout = np.asarray(reducer.model_.embedding_, dtype=np.float32)
    rows = fit_sample(n_documents, FIT_SIZE, 0)
    if rows is None or len(rows) != len(layout):
        sys.exit(f"{cell}: the saved UMAP was not fitted on the {FIT_SIZE:,}-document sample; rerun scale_default.py")
    return layout, np.load(RUNS / f"{cell}.labels.npy")[rows]


def measure(X: np.ndarray, labels: np.ndarray, k: int) -> list[dict]:
    rows = []
    for starts in sorted({10, auto_starts(len(X), k), 1}, reverse=True):
        for seed in SEEDS:
            began = time.perf_counter()
            model = KMeans(n_clusters=k, n_init=starts, random_state=seed).fit(X)
            seconds = time.perf_counter() - began
            nmi = normalized_mutual_info_score(labels, model.labels_)
            rows.append({"starts": starts, "seed": seed, "inertia": model.inertia_, "nmi": nmi, "s": seconds})
            print(f"k={k} starts={starts} seed={seed}: inertia {model.inertia_:.2f}, NMI {nmi:.4f}, {seconds:.1f} s")
    return rows


def table(results: dict[tuple[str, int], list[dict]]) -> list[str]:
    lines = [
        "| corpus | k | starts | inertia over the best (seeds 0, 1, 2) | NMI (seeds 0, 1, 2) | seconds |",
        "| --- | ---: | --- | --- | --- | ---: |",
    ]
    for (cell, k), rows in results.items():
        best = min(row["inertia"] for row in rows)
        for starts in sorted({row["starts"] for row in rows}, reverse=True):
            mine = [row for row in rows if row["starts"] == starts]
            name = f"{starts} (auto)" if starts == auto_starts(FIT_SIZE, k) else str(starts)
            excess = ", ".join(f"+{100 * (row['inertia'] / best - 1):.2f}%" for row in mine)
            nmi = ", ".join(f"{row['nmi']:.4f}" for row in mine)
            seconds = np.mean([row["s"] for row in mine])
            lines.append(f"| {cell} | {k} | {name} | {excess} | {nmi} | {seconds:.1f} |")
    return lines


def write(results: dict[tuple[str, int], list[dict]]) -> None:
    header = [
        "# k-means starts for the final fit of a large corpus",
        "",
        f"`python benchmarks/kmeans_starts.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{available_cores()} CPU cores. k-means' input is the default run's own (the UMAP layout "
        f"of its {FIT_SIZE:,}-document fit sample, from benchmarks/runs/scale-default); n_init=auto bounds points x "
        f"centres x starts by {AUTO_STARTS_PAIRS:,}. Inertia over the lowest of every fit in the row's group.",
        "",
    ]
    write_keeping_notes(RESULTS, "\n".join(header + table(results)))
    print(f"wrote {RESULTS}")


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    results = {}
    for cell, n_documents in CELLS.items():
        if not (RUNS / cell / "textcluster" / "model").is_dir():
            print(f"{cell}: no run folder under {RUNS}; skipped")
            continue
        X, labels = sample_and_labels(cell, n_documents)
        for k in KS:
            print(f"{cell}, k = {k}")
            results[cell, k] = measure(X, labels, k)
    if not results:
        sys.exit(f"no scale_default.py run folders under {RUNS}: run benchmarks/scale_default.py first")
    write(results)


if __name__ == "__main__":
    main()
