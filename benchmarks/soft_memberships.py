"""Calibration of Pipeline.predict_proba (issue 25, item 5) on 20 Newsgroups test slices.

    .venv/bin/python benchmarks/soft_memberships.py [--fit 2000] [--held-out 1000] [--k 20] [--seed 0]

Each setting is fitted on ``--fit`` posts of the 20 Newsgroups test split (a seeded random slice) and
predicts ``--held-out`` other posts. For every held-out post: its top topic and that topic's probability
(the confidence). A topic's class is the majority true class of its training posts; the top topic is
"right" when the post's true class is that class. A calibrated model's confidence matches how often it is
right: the expected calibration error (ECE, 10 equal-width confidence bins, weighted by the posts in each)
is |confidence - accuracy| averaged over the bins. ``agree`` is how often the top topic is the topic
``predict`` gives. The distance rule's shared variance is compared three ways (per nominal dimension,
moment-matched, along the lines between centres: see textcluster/clusterers/memberships.py); GMM and
HDBSCAN give their own probabilities. Prints a markdown table and the reliability table of each row.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textcluster.clusterers.memberships import directional_variance  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "20newsgroups" / "test.csv"
BINS = np.linspace(0.0, 1.0, 11)
SETTINGS = {  # name -> (config, uses the distance rule)
    "TF-IDF 2000-d, k-means": ({"reducer": None, "clusterer": "kmeans"}, True),
    "TF-IDF -> UMAP 10-d, k-means": ({"reducer": "umap_text", "clusterer": "kmeans"}, True),
    "TF-IDF -> UMAP 10-d, GMM (own)": ({"reducer": "umap_text", "clusterer": "gmm"}, False),
    "TF-IDF -> UMAP 10-d, HDBSCAN (own)": ({"reducer": "umap_text", "clusterer": "hdbscan"}, False),
    "MiniLM 384-d, k-means": ({"encoder": "pretrained", "reducer": None, "clusterer": "kmeans"}, True),
    "MiniLM -> UMAP 10-d, k-means": ({"encoder": "pretrained", "reducer": "umap_text", "clusterer": "kmeans"}, True),
    "MiniLM -> UMAP 10-d, GMM (own)": ({"encoder": "pretrained", "reducer": "umap_text", "clusterer": "gmm"}, False),
}


def reliability(confidence: np.ndarray, right: np.ndarray) -> tuple[float, list[tuple[str, int, float, float]]]:
    """``(ECE, [(bin, posts, mean confidence, accuracy)])`` over the non-empty bins."""
    index = np.clip(np.digitize(confidence, BINS[1:-1]), 0, len(BINS) - 2)
    rows, ece = [], 0.0
    for b in range(len(BINS) - 1):
        members = index == b
        if members.any():
            gap = abs(confidence[members].mean() - right[members].mean())
            ece += members.mean() * gap
            rows.append(
                (
                    f"{BINS[b]:.1f}-{BINS[b + 1]:.1f}",
                    int(members.sum()),
                    confidence[members].mean(),
                    right[members].mean(),
                )
            )
    return float(ece), rows


def scores(pipeline, proba: np.ndarray, predicted: np.ndarray, truth: np.ndarray, majority: dict) -> dict:
    top = pipeline.topic_ids_[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    right = np.array([majority.get(int(t)) == y for t, y in zip(top, truth)], dtype=float)
    ece, table = reliability(confidence, right)
    ece_agree, _ = reliability(confidence, (top == predicted).astype(float))
    return {
        "confidence": confidence.mean(),
        "accuracy": right.mean(),
        "ECE": ece,
        "agree": (top == predicted).mean(),
        "ECE vs predict": ece_agree,
        "table": table,
    }


def own_squared_distances(points: np.ndarray, labels: np.ndarray, ids: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each clustered point's squared distance to its own cluster's centre (noise left out)."""
    kept = labels != -1
    return np.sum((np.asarray(points, dtype=np.float64)[kept] - centres[np.searchsorted(ids, labels[kept])]) ** 2, 1)


def moment_matched(distances: np.ndarray) -> float:
    """Under an isotropic Gaussian in d dimensions ``||x - c||² / s`` is chi-square with d degrees of freedom
    (mean d·s, variance 2·d·s²): matching both moments gives the effective d and ``s = var / (2·mean)``."""
    return float(distances.var() / (2.0 * distances.mean()))


def variants(pipeline) -> dict[str, float]:
    """The shared variance three ways, from the fit's clustered space and labels."""
    rule, points, labels = pipeline.membership_rule_, pipeline.reduced_, pipeline.cluster_labels_
    distances = own_squared_distances(points, labels, rule.ids, rule.centres)
    return {
        "per nominal dimension": float(distances.mean() / points.shape[1]),
        "moment-matched": moment_matched(distances),
        "directional (default)": directional_variance(points, labels, rule.ids, rule.centres),
    }


def main() -> None:
    from textcluster import Pipeline

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", type=int, default=2000)
    parser.add_argument("--held-out", type=int, default=1000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    frame = pd.read_csv(DATA)
    order = np.random.default_rng(args.seed).permutation(len(frame))
    fit, held = frame.iloc[order[: args.fit]], frame.iloc[order[args.fit : args.fit + args.held_out]]
    lines, tables = [], []
    header = "| setting | variance | confidence | accuracy | ECE | top = predict | ECE vs predict |"
    lines += [header, "|" + "---|" * 7]
    for name, (config, rule) in SETTINGS.items():
        start = time.perf_counter()
        # the embedding cache ($TEXTCLUSTER_CACHE_DIR) encodes the MiniLM posts once for its three settings
        settings = {"encoder": "raw", "topics": None, "seed": args.seed, **config}
        if config["clusterer"] != "hdbscan":
            settings["clusterer.n_clusters"] = args.k
        pipeline = Pipeline.from_config(settings).fit(list(fit.text), labels=list(fit.label))
        truth_fit = fit.label.to_numpy()
        majority = {int(t): pd.Series(truth_fit[pipeline.labels_ == t]).mode().iloc[0] for t in pipeline.topic_ids_}
        predicted = pipeline.predict(list(held.text))
        runs = variants(pipeline) if rule else {"own": None}
        fitted_rule = pipeline.membership_rule_
        for variant, variance in runs.items():
            if variance is not None:
                pipeline.membership_rule_ = dataclasses.replace(fitted_rule, variance=variance)
            proba = pipeline.predict_proba(list(held.text))
            result = scores(pipeline, proba, predicted, held.label.to_numpy(), majority)
            shown = "own" if variance is None else f"{variant} {variance:.3g}"
            lines.append(
                f"| {name} | {shown} | {result['confidence']:.3f} | {result['accuracy']:.3f} | {result['ECE']:.3f} "
                f"| {result['agree']:.3f} | {result['ECE vs predict']:.3f} |"
            )
            rows = "\n".join(f"| {b} | {n} | {c:.3f} | {a:.3f} |" for b, n, c, a in result["table"])
            tables.append(
                f"{name}, {shown}:\n\n| confidence | posts | mean confidence | accuracy |\n|---|---|---|---|\n{rows}\n"
            )
        print(f"{name}: {time.perf_counter() - start:.0f} s, {len(pipeline.topic_ids_)} topics", file=sys.stderr)
    print("\n".join(lines))
    print()
    print("\n".join(tables))


if __name__ == "__main__":
    main()
