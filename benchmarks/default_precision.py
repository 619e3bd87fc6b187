"""Does the encoder's precision change what the text recipe finds? The text preset (hybrid + UMAP + k-means at the
true k) and the plain default (the same recipe with the k search) on four labelled corpora, with the hybrid's
transformer half in float32 and in bfloat16, over a few seeds.

    python benchmarks/default_precision.py --docs 3000 --newsgroups-docs 1000 --seeds 3

benchmarks/encoder_precision.py judges each path by k-means on the transformer's embeddings alone; this runs
what a user runs, through the Python API (``Pipeline.from_config``), so UMAP, the lexical half and the k search
are in it. Each corpus is a seeded random subsample (``encoder_precision.load_corpora``); the seed (``seed=``,
which reaches UMAP and k-means) goes over 0..``--seeds``-1 and the embeddings are encoded once per precision
(the embedding cache, in a fresh temporary folder: the encoder does not depend on the seed). Writes
benchmarks/results/default-precision.md (``--output``) with a JSON of the runs beside it: for each corpus,
configuration and precision the mean NMI and ACC over the seeds, the paired difference (bfloat16 minus float32
at the same seed) with its standard error, and the k each run chose. Target of issue 24: |delta| <= 0.005.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from encoder_precision import DEFAULT_DATA, NOTES_MARKER, TARGET, load_corpora
from encoder_speed import cpu_name

REPO = Path(__file__).resolve().parent.parent
PRECISIONS = ("float32", "bfloat16")
CONFIGS = ("preset", "default")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--docs", type=int, default=3000, help="documents per corpus (seeded subsample)")
    parser.add_argument("--newsgroups-docs", type=int, default=1000, help="documents of 20 Newsgroups-test")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (UMAP and k-means)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "default-precision.md")
    return parser.parse_args(argv)


def settings(config: str, precision: str, k: int, seed: int) -> dict:
    """The Python API's config: the plain default (encoder and reducer by the recipe, k searched) or the text
    preset (the same stages, k-means at the true k), with the transformer half in ``precision``."""
    common = {"encoder.dtype": precision, "encoder.semantic": "transformer", "seed": seed, "topics": None}
    if config == "preset":
        return {**common, "encoder": "hybrid", "reducer": "umap_text", "clusterer.n_clusters": k}
    return common


def measure(args) -> list[dict]:
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from textcluster import Pipeline
    from textcluster.evaluation.metrics import clustering_accuracy

    runs = []
    for name, (texts, labels, full_size) in load_corpora(args.data_dir, args.docs, args.newsgroups_docs).items():
        k = len(set(labels.tolist()))
        for precision in PRECISIONS:
            for seed in range(args.seeds):
                for config in CONFIGS:
                    start = time.perf_counter()
                    found = Pipeline.from_config(settings(config, precision, k, seed)).fit_predict(texts)
                    runs.append(
                        {
                            "corpus": name,
                            "docs": len(texts),
                            "of": full_size,
                            "true_k": k,
                            "config": config,
                            "precision": precision,
                            "seed": seed,
                            "k": int(len(set(found.tolist()) - {-1})),
                            "nmi": float(nmi(labels, found)),
                            "acc": float(clustering_accuracy(labels, found)),
                            "seconds": time.perf_counter() - start,
                        }
                    )
                    print(json.dumps(runs[-1]), flush=True)
    return runs


def paired(runs: list[dict], metric: str) -> tuple[float, float]:
    """Mean and standard error of bfloat16 minus float32 at the same seed."""
    by_seed = {(run["precision"], run["seed"]): run[metric] for run in runs}
    seeds = sorted({run["seed"] for run in runs})
    differences = np.array([by_seed[PRECISIONS[1], s] - by_seed[PRECISIONS[0], s] for s in seeds])
    error = differences.std(ddof=1) / np.sqrt(len(differences)) if len(differences) > 1 else 0.0
    return float(differences.mean()), float(error)


def write(runs: list[dict], args, argv) -> None:
    lines = [
        "# The text recipe in float32 and in bfloat16 (issue 24)",
        "",
        f"Written by `python benchmarks/default_precision.py {' '.join(argv)}` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {cpu_name()}, {os.cpu_count()} cores. The hybrid's "
        "transformer half (MiniLM) in float32 and in bfloat16 (`encoder.dtype`), everything else as the config "
        "has it; NMI and ACC are means over the seeds; delta = bfloat16 minus float32 at the same seed, mean "
        f"(standard error). Target: |delta| <= {TARGET}.",
        "",
        "| corpus | docs | config | NMI float32 | NMI bfloat16 | delta NMI (se) | ACC float32 | ACC bfloat16 "
        "| delta ACC (se) | k float32 | k bfloat16 |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    worst = 0.0
    for corpus in dict.fromkeys(run["corpus"] for run in runs):
        for config in CONFIGS:
            mine = [r for r in runs if r["corpus"] == corpus and r["config"] == config]
            mean = {
                (p, m): np.mean([r[m] for r in mine if r["precision"] == p]) for p in PRECISIONS for m in ("nmi", "acc")
            }
            ks = {p: ", ".join(str(r["k"]) for r in mine if r["precision"] == p) for p in PRECISIONS}
            (d_nmi, e_nmi), (d_acc, e_acc) = paired(mine, "nmi"), paired(mine, "acc")
            worst = max(worst, abs(d_nmi), abs(d_acc))
            lines.append(
                f"| {corpus} | {mine[0]['docs']:,} of {mine[0]['of']:,} | {config} | {mean['float32', 'nmi']:.4f} | "
                f"{mean['bfloat16', 'nmi']:.4f} | {d_nmi:+.4f} ({e_nmi:.4f}) | {mean['float32', 'acc']:.4f} | "
                f"{mean['bfloat16', 'acc']:.4f} | {d_acc:+.4f} ({e_acc:.4f}) | {ks['float32']} | {ks['bfloat16']} |"
            )
    lines += ["", f"Largest |delta| (mean over seeds): {worst:.4f} (target {TARGET}).", ""]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    notes = args.output.read_text().partition(NOTES_MARKER)[2] if args.output.is_file() else ""
    args.output.write_text("\n".join(lines) + "\n" + NOTES_MARKER + (notes or "\n"))
    args.output.with_suffix(".json").write_text(json.dumps(runs, indent=1) + "\n")
    print("\n".join(lines))


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="default-precision-") as cache:
        os.environ["TEXTCLUSTER_CACHE_DIR"] = cache
        runs = measure(args)
    write(runs, args, argv)


if __name__ == "__main__":
    main()
