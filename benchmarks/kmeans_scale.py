"""clusterer=kmeans fitted on a sample (``clusterer.fit_size``) against the fit on every point.

    python benchmarks/kmeans_scale.py                  # quality and timing; writes results/kmeans-scale.md
    python benchmarks/kmeans_scale.py quality          # one part (its rows kept in --work; the .md has both)
    python benchmarks/kmeans_scale.py timing --skip-today-1m  # without today's fit of 1M points at k = 228

Quality: StackOverflow (20,000 titles, 20 classes) and BANKING77 (train split, 10,003 queries, 77 intents)
embedded as the default text recipe's fast path does it (``encoder=static``, then ``reducer=umap_text``: UMAP to
10 dimensions, cosine, 30 neighbours), cached under ``--work``. k is the number of classes; the bound is set
artificially low (below the corpus) so that the sampled fit is what runs. ``excess``: the k-means objective
(inertia over all points) of the sampled fit over that of the fit on all points, in percent. Seeds 0-2.

Timing: the cluster stage (``KMeansClusterer.fit``: the fit, then the labels of every point) on 100,000 and
1,000,000 synthetic points in the recipe's 10 dimensions (Gaussian blobs: 100 centres, sd 1, in a box of
+-10), at k = 10 and k = 228 (the k the search picked at 100k and 1M in results/scale-default.md), with
``fit_size: null`` (every point, as before) and the default bound. One process, one run per cell.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from run import data_dir  # the benchmarks' one data folder rule

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "kmeans-scale.md"
SEEDS = (0, 1, 2)
NOTES_MARKER = "<!-- written by hand below: kept when the tables are rewritten -->"
SIZES, KS, DIMENSIONS = (100_000, 1_000_000), (10, 228), 10


def corpus_config(name: str) -> dict:
    root = data_dir()
    if name == "stackoverflow":
        folder = root / "stackoverflow"
        return {
            "name": "lines",
            "path": str(folder / "StackOverflow.txt"),
            "labels_path": str(folder / "StackOverflow_gnd.txt"),
        }
    return {"name": "csv", "path": str(root / "banking77" / "train.csv"), "label_column": "category"}


def embedded(name: str, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """The corpus through encoder=static and reducer=umap_text (cached in ``work``), and its labels."""
    cached = work / f"{name}-static-umap_text.npz"
    if not cached.exists():
        from textcluster.config import option_config
        from textcluster.data import load_dataset
        from textcluster.encoders.static import StaticEncoder
        from textcluster.registry import reducers

        dataset = load_dataset(corpus_config(name))
        vectors = StaticEncoder().fit(dataset).transform(dataset)
        reduced = reducers.build(option_config("reducer", "umap_text"), random_state=0).fit_transform(vectors)
        work.mkdir(parents=True, exist_ok=True)
        np.savez(cached, reduced=reduced, labels=np.unique(dataset.labels, return_inverse=True)[1])
    stored = np.load(cached)
    return stored["reduced"], stored["labels"]


def kmeans(k: int, fit_size: int | None, seed: int = 0, n_init: int = 10):
    from textcluster.registry import clusterers

    return clusterers.build(
        {"name": "kmeans", "n_clusters": k, "fit_size": fit_size, "n_init": n_init}, random_state=seed
    )


def inertia(X: np.ndarray, model) -> float:
    return float(((X - model.cluster_centers_[model.labels_]) ** 2).sum(dtype=np.float64))


def quality_rows(name: str, work: Path, bounds: tuple[int, ...]) -> list[str]:
    from sklearn.metrics import normalized_mutual_info_score

    from textcluster.evaluation.metrics import clustering_accuracy

    X, y = embedded(name, work)
    k = len(np.unique(y))
    rows = []
    for bound in (None, *bounds):
        fits = [kmeans(k, bound, seed).fit(X) for seed in SEEDS]
        nmi = [normalized_mutual_info_score(y, fit.labels_) for fit in fits]
        acc = [clustering_accuracy(y, fit.labels_) for fit in fits]
        if bound is None:
            full = [inertia(X, fit) for fit in fits]
        excess = [100 * (inertia(X, fit) / base - 1) for fit, base in zip(fits, full)]
        shown = "all" if bound is None else f"{bound:,} ({bound / len(X):.0%}, {bound // k} per centre)"
        rows.append(
            f"| {name} | {len(X):,} | {k} | {shown} | {np.mean(nmi):.4f} ({min(nmi):.4f}-{max(nmi):.4f}) "
            f"| {np.mean(acc):.4f} ({min(acc):.4f}-{max(acc):.4f}) | {np.mean(excess):+.2f} |"
        )
        print(rows[-1], flush=True)
    return rows


def timing_rows(skip_today_1m: bool) -> list[str]:
    from sklearn.datasets import make_blobs

    from textcluster.seeding import FIT_SIZE

    rows = []
    for n in SIZES:
        X, _ = make_blobs(n, DIMENSIONS, centers=100, center_box=(-10, 10), random_state=0)
        X = X.astype(np.float32)  # UMAP's output dtype
        for k in KS:
            for bound in (None, FIT_SIZE):
                if bound is None and skip_today_1m and n == SIZES[-1] and k == KS[-1]:
                    rows.append(f"| {n:,} | {k} | all (today) | skipped | |")
                    continue
                start = time.perf_counter()
                fitted = kmeans(k, bound).fit(X)
                seconds = time.perf_counter() - start
                shown = "all (today)" if bound is None or n <= bound else f"{bound:,}"
                rows.append(f"| {n:,} | {k} | {shown} | {seconds:.1f} | {inertia(X, fitted) / n:.4f} |")
                print(rows[-1], flush=True)
    return rows


def write(quality: list[str], timing: list[str], command: str) -> None:
    from textcluster.seeding import FIT_SIZE

    text = f"""# k-means on a sample (clusterer.fit_size)

{command}, {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, {os.cpu_count()} CPU cores
({platform.processor() or platform.machine()}), shared with other benchmarks.
Default bound: fit_size = {FIT_SIZE:,}.

## Quality: sampled fit against the fit on every point (seeds 0-2: mean (min-max))

Real embeddings: encoder=static, then reducer=umap_text (10 dimensions). k = the number of classes.
excess: the k-means objective on all points over that of the fit on all points, same seed (%).

| corpus | n | k | fitted on | NMI | ACC | excess % |
| --- | ---: | ---: | --- | --- | --- | ---: |
{chr(10).join(quality)}

## Timing: the cluster stage (fit + labels of every point), seconds

Synthetic blobs in 10 dimensions (float32), n_init = 10, seed 0. inertia/n: the objective per point.

| n | k | fitted on | seconds | inertia / n |
| ---: | ---: | --- | ---: | ---: |
{chr(10).join(timing)}
"""
    notes = RESULTS.read_text().partition(NOTES_MARKER)[2] if RESULTS.exists() else ""
    RESULTS.write_text(text + (f"\n{NOTES_MARKER}{notes}" if notes else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=("all", "quality", "timing"), default="all")
    parser.add_argument("--work", type=Path, default=Path("/tmp/textcluster-kmeans-scale"))
    parser.add_argument(
        "--skip-today-1m", action="store_true", help="leave out the slowest cell (all 1M points, k=228)"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    command = "python " + " ".join(["benchmarks/kmeans_scale.py", *sys.argv[1:]])
    if args.part in ("all", "quality"):
        rows = quality_rows("stackoverflow", args.work, (5_000, 2_000)) + quality_rows(
            "banking77", args.work, (5_000, 2_000)
        )
        (args.work / "quality.md").write_text("\n".join([command, *rows]))
    if args.part in ("all", "timing"):
        (args.work / "timing.md").write_text("\n".join([command, *timing_rows(args.skip_today_1m)]))
    parts = [
        (args.work / f"{part}.md").read_text().splitlines()
        for part in ("quality", "timing")
        if (args.work / f"{part}.md").exists()
    ]
    if len(parts) == 2:
        write(parts[0][1:], parts[1][1:], ", ".join(f"`{line}`" for line in dict.fromkeys([parts[0][0], parts[1][0]])))


if __name__ == "__main__":
    main()
