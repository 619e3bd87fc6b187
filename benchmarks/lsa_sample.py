"""The hybrid encoder's LSA fitted on a sample of a large corpus against fitted on all of it.

    python benchmarks/scale_default.py   # first: its million short texts are what this reads
    python benchmarks/lsa_sample.py      # writes results/lsa-sample.md

The vocabulary and IDF come from every document (as ``encoder=hybrid`` fits them); the truncated SVD is then
fitted on a seeded sample of 50,000, 100,000 or 200,000 TF-IDF rows (``fit_sample`` with the encoder's fixed
seed) or on all of them. For each: the SVD's seconds, the peak of the memory numpy allocates during it
(tracemalloc), the share of the whole corpus' TF-IDF variance its components capture, and what k-means finds
in the lexical vectors (L2-normalised LSA, as the hybrid's half) of 100,000 documents at k = 20: NMI against
their newsgroups, mean over seeds 0-2.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from run import write_keeping_notes
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.metrics import normalized_mutual_info_score
from sklearn.preprocessing import normalize

from textcluster.dataset import Dataset
from textcluster.encoders.features import VectorFeatures
from textcluster.encoders.hybrid import HYBRID_TFIDF_DEFAULTS, LEXICAL, LEXICAL_FIT_SIZE, SVD_RANDOM_STATE
from textcluster.machine import available_cores
from textcluster.seeding import fit_sample

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "runs" / "scale-default" / "short-1000000.csv"
RESULTS = HERE / "results" / "lsa-sample.md"
SIZES = (50_000, 100_000, 200_000, None)
SCORED, K, SEEDS = 100_000, 20, (0, 1, 2)


def tfidf_of(texts: list[str]):
    """The TF-IDF rows encoder=hybrid's lexical half reads for short texts (its settings, every document)."""
    features = {**HYBRID_TFIDF_DEFAULTS, "max_df": LEXICAL["short"]["max_df"]}
    dataset = Dataset(name="short", texts=texts)
    return VectorFeatures(**features).fit(dataset).tfidf(dataset)


def fit_lsa(tfidf, size: int | None, dims: int) -> tuple[np.ndarray, float, float]:
    """Components, seconds and the peak of numpy's allocations (GB) of the SVD on ``size`` sampled rows."""
    rows = fit_sample(tfidf.shape[0], size, SVD_RANDOM_STATE)
    fitted = tfidf if rows is None else tfidf[rows]
    tracemalloc.start()
    start = time.perf_counter()
    components = TruncatedSVD(dims, random_state=SVD_RANDOM_STATE).fit(fitted).components_
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 1e9
    tracemalloc.stop()
    return components, seconds, peak


def captured(tfidf, components: np.ndarray, total: float) -> float:
    return float(np.square(tfidf @ components.T).sum() / total)


def kmeans_nmi(lexical: np.ndarray, labels: np.ndarray) -> float:
    scores = [
        normalized_mutual_info_score(labels, KMeans(K, n_init=3, random_state=seed).fit_predict(lexical))
        for seed in SEEDS
    ]
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", type=int, default=200, help="LSA dimensions (encoder.lexical_dims)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"{CORPUS} is missing: run python benchmarks/scale_default.py first (it writes the corpus)")
    texts = pd.read_csv(CORPUS)["text"].astype(str).tolist()
    labels = np.load(CORPUS.with_suffix(".labels.npy"), allow_pickle=False)
    tfidf = tfidf_of(texts)
    total = float(tfidf.multiply(tfidf).sum())
    scored = fit_sample(len(texts), SCORED, 1)
    rows = []
    for size in SIZES:
        components, seconds, peak = fit_lsa(tfidf, size, args.dims)
        lexical = normalize(np.asarray(tfidf[scored] @ components.T)).astype(np.float32)
        share = captured(tfidf, components, total)
        rows.append((size, seconds, peak, share, kmeans_nmi(lexical, labels[scored])))
        print(rows[-1], flush=True)
    write_page(rows, len(texts), tfidf.shape[1], args)


def write_page(rows: list[tuple], n_documents: int, n_terms: int, args: argparse.Namespace) -> None:
    whole = rows[-1][3]
    lines = [
        "# The hybrid's LSA on a sample of a large corpus (encoder.lexical_fit_size)",
        "",
        f"`python benchmarks/lsa_sample.py`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{available_cores()} CPU cores. {n_documents:,} short texts (scale_default.py's 10-25-word "
        f"windows of 20 Newsgroups), {n_terms:,} terms, {args.dims} dimensions. Default lexical_fit_size: "
        f"{LEXICAL_FIT_SIZE:,}. Variance: the share of the whole corpus' TF-IDF variance the components capture, "
        f"and that share over the full fit's. NMI: k-means at k = {K} on the L2-normalised lexical vectors of "
        f"{SCORED:,} documents against their newsgroups, mean of seeds {SEEDS[0]}-{SEEDS[-1]}.",
        "",
        "| SVD fitted on | seconds | numpy peak (GB) | variance | of the full fit's | NMI |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, seconds, peak, share, nmi in rows:
        fitted = "all documents" if size is None else f"{size:,} documents"
        lines.append(f"| {fitted} | {seconds:.1f} | {peak:.2f} | {share:.4f} | {share / whole:.3f} | {nmi:.3f} |")
    write_keeping_notes(args.out, "\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
