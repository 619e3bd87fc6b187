"""Granularity: the number of topics the plain default picks, on corpora of 8 to 77 classes and 300 to 20,000 texts.

    python benchmarks/granularity.py                          # writes benchmarks/results/granularity.md
    python benchmarks/granularity.py --only banking77-test --resume
    python benchmarks/granularity.py --table-only             # tabulate the rows already measured
    python benchmarks/granularity.py --work runs/x --out x.md -- encoder.semantic=static   # a variant

Each corpus becomes a file holding only what a user would have (a one-column
``text`` CSV, or a ``.npy`` of vectors); its labels stay here and score the run
afterwards. Three rows per corpus, all on the same embeddings:

* ``textcluster``: the plain default, ``textcluster data=csv data.path=<csv>``
  (``data=embeddings data.path=<npy>`` for vectors), its own `textcluster`
  process (benchmarks/run.py's run_cell: wall time, peak memory); k is the
  number of clusters in its ``assignments.csv``;
* ``BERTopic``: BERTopic 0.17 with its defaults (UMAP to 5 dimensions +
  HDBSCAN, min_topic_size 10; ``random_state`` fixed for repeatability) on the
  MiniLM half of the run's embeddings (the same all-MiniLM-L6-v2 vectors
  BERTopic's default model gives). Its outliers (-1) count as one cluster in
  NMI and ACC, as BERTopic reports them; k is its number of topics;
* ``k-means at true k``: scikit-learn KMeans (n_init 10) on the same MiniLM
  vectors, told the true number of classes.

BERTopic is a benchmark dependency only (``pip install bertopic==0.17.4``);
without it its rows are skipped. The target of issue 23: the default's k within
0.5x to 2x of the classes, its NMI at least the higher of the other two rows
minus 0.02.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from corpora import SNIPPETS, STACKOVERFLOW, Corpus, read_lines, read_table
from own_corpus import score
from run import HERE, data_dir, run_cell
from sklearn.metrics import normalized_mutual_info_score

from textcluster.evaluation.metrics import clustering_accuracy

WORK = HERE / "runs" / "granularity"
MINILM_DIMS = 384  # the hybrid encoder's first 384 dimensions are the L2-normalised MiniLM embedding
NEWSGROUP_SLICES = (300, 1000, 3000)
NOTES_MARKER = "<!-- written by hand below: kept when the table is rewritten -->"


def load_corpora(data: Path) -> list[Corpus]:
    """The dev corpora of issue 23, smallest number of classes first."""

    snippets = read_lines(data, *SNIPPETS)
    corpora = [
        Corpus("searchsnippets", *snippets),
        Corpus("searchsnippets-vectors", *snippets, vectors_of="searchsnippets"),
        Corpus("stackoverflow", *read_lines(data, *STACKOVERFLOW)),
        Corpus("newsgroups-test", *read_table(data / "20newsgroups/test.csv", "label")),
    ]
    train_texts, train_labels = read_table(data / "20newsgroups/train.csv", "label")
    order = np.random.default_rng(0).permutation(len(train_texts))
    for size in NEWSGROUP_SLICES:
        rows = np.sort(order[:size])
        corpora.append(Corpus(f"newsgroups-train-{size}", [train_texts[i] for i in rows], train_labels[rows]))
    banking_test = read_table(data / "banking77/test.csv", "category")
    banking_train = read_table(data / "banking77/train.csv", "category")
    corpora.append(Corpus("banking77-test", *banking_test))
    corpora.append(
        Corpus(
            "banking77-all",
            banking_train[0] + banking_test[0],
            np.concatenate([banking_train[1], banking_test[1]]),
        )
    )
    return corpora


def user_file(corpus: Corpus) -> Path:
    """What the user would hand over: a text-only CSV, or the MiniLM vectors of another corpus' run."""
    WORK.mkdir(parents=True, exist_ok=True)
    if corpus.vectors_of is not None:
        path = WORK / f"{corpus.name}.npy"
        if not path.is_file():
            np.save(path, minilm_vectors(corpus.vectors_of))
        return path
    path = WORK / f"{corpus.name}.csv"
    if not path.is_file():
        pd.DataFrame({"text": corpus.texts}).to_csv(path, index=False)
    return path


def minilm_vectors(name: str) -> np.ndarray:
    """The MiniLM half of a text corpus' default run (its embeddings.npy)."""
    embeddings = WORK / name / "textcluster" / "embeddings.npy"
    if not embeddings.is_file():
        raise SystemExit(f"{name}: run it first (its embeddings give the MiniLM vectors): --only {name}")
    return np.ascontiguousarray(np.load(embeddings)[:, :MINILM_DIMS], dtype=np.float32)


def default_row(corpus: Corpus, resume: bool, extra: list[str]) -> dict:
    path = user_file(corpus)
    data = ["data=embeddings"] if path.suffix == ".npy" else ["data=csv"]
    run_dir = WORK / corpus.name / "textcluster"
    cell = run_cell([*data, f"data.path={path}", *extra], run_dir, resume)
    if cell.get("failed"):
        return {"corpus": corpus.name, "method": "textcluster", "failed": True}
    measured = score(run_dir, corpus.labels)
    selection_file = run_dir / "k_selection.json"
    selection = json.loads(selection_file.read_text()) if selection_file.is_file() else {}
    return {
        "corpus": corpus.name,
        "method": "textcluster",
        "k": measured["k"],
        "nmi": measured["nmi"],
        "acc": measured["acc"],
        "wall_s": cell["wall_s"],
        "choose_k_s": cell.get("choose_k_s", 0.0),
        "peak_mem_mb": cell["peak_mem_mb"],
        "alternatives": selection.get("alternatives"),
    }


def labelled_row(corpus: Corpus, method: str, predicted: np.ndarray, seconds: float, outliers: float = 0.0) -> dict:
    return {
        "corpus": corpus.name,
        "method": method,
        "k": len(set(predicted[predicted != -1].tolist())),
        "nmi": normalized_mutual_info_score(corpus.labels, predicted),
        "acc": clustering_accuracy(corpus.labels, predicted),
        "wall_s": seconds,
        "outliers": outliers,
    }


def bertopic_row(corpus: Corpus, vectors: np.ndarray, seed: int) -> dict | None:
    try:
        from bertopic import BERTopic
        from umap import UMAP
    except ImportError:
        print("  BERTopic not installed (pip install bertopic==0.17.4): its row is skipped", flush=True)
        return None
    # BERTopic's own default UMAP, with a fixed random_state so that the row repeats
    reducer = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    start = time.perf_counter()
    topics, _ = BERTopic(umap_model=reducer).fit_transform(corpus.texts, vectors)
    predicted = np.asarray(topics)
    return labelled_row(corpus, "BERTopic", predicted, time.perf_counter() - start, float(np.mean(predicted == -1)))


def kmeans_row(corpus: Corpus, vectors: np.ndarray, seed: int) -> dict:
    from sklearn.cluster import KMeans

    start = time.perf_counter()
    predicted = KMeans(n_clusters=corpus.true_k, n_init=10, random_state=seed).fit_predict(vectors)
    return labelled_row(corpus, "k-means at true k", predicted, time.perf_counter() - start)


def measure(corpus: Corpus, resume: bool, baselines: bool, extra: list[str]) -> list[dict]:
    print(f"{corpus.name}: {len(corpus.texts)} documents, {corpus.true_k} classes", flush=True)
    rows = [default_row(corpus, resume, extra)]
    print(f"  {rows[-1]}", flush=True)
    record = WORK / corpus.name / "baselines.json"
    if not baselines or corpus.vectors_of is not None:  # vectors: the same MiniLM vectors as their text corpus
        return rows
    if record.is_file():  # the peers do not change with textcluster's code: measured once
        return rows + json.loads(record.read_text())
    vectors = minilm_vectors(corpus.name)
    measured = [row for row in (bertopic_row(corpus, vectors, 0), kmeans_row(corpus, vectors, 0)) if row]
    record.write_text(json.dumps(measured, indent=2))
    for row in measured:
        print(f"  {row}", flush=True)
    return rows + measured


def verdict(rows: list[dict], corpus: Corpus, peer_rows: list[dict]) -> str:
    """Issue 23's target for one corpus: k within 0.5x-2x of the classes, NMI >= best peer - 0.02 (the peers
    of a vectors corpus are those of its text corpus: the same vectors)."""
    ours = next(row for row in rows if row["method"] == "textcluster")
    if ours.get("failed"):
        return "failed"
    peers = [row["nmi"] for row in peer_rows if row["method"] != "textcluster"]
    k_ok = corpus.true_k / 2 <= ours["k"] <= corpus.true_k * 2
    nmi_ok = not peers or ours["nmi"] >= max(peers) - 0.02
    return "yes" if k_ok and nmi_ok else ("k" if not k_ok else "") + (" NMI" if not nmi_ok else "")


def write_table(
    results: dict[str, list[dict]], corpora: dict[str, Corpus], path: Path, command: str, extra: list[str]
) -> None:
    variant = f" with `{' '.join(extra)}`" if extra else ""
    lines = [
        "# Granularity: the number of topics the plain default finds",
        "",
        f"`{command}` (seed 0, 2 CPU cores). `textcluster` is the plain default{variant}",
        "(`textcluster data=csv data.path=<text-only csv>`; `data=embeddings` for the vectors row), BERTopic",
        "0.17.4 with its defaults and k-means at the true k run on the same MiniLM vectors; NMI and ACC",
        "against the labels withheld from the file. BERTopic's outliers count as one cluster. Target (issue 23):",
        "k within 0.5x-2x of the classes and NMI at least the best other row minus 0.02.",
        "",
        "| corpus | documents | classes | method | k | NMI | ACC | outliers | wall (s) | choosing k (s) | target met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, rows in results.items():
        corpus = corpora[name]
        met = verdict(rows, corpus, results.get(corpus.vectors_of or name, rows))
        for row in rows:
            if row.get("failed"):
                failed = f"| {name} | {len(corpus.texts)} | {corpus.true_k} | {row['method']} | failed |"
                lines.append(failed + " | " * 6)
                continue
            lines.append(
                f"| {name} | {len(corpus.texts):,} | {corpus.true_k} | {row['method']} | {row['k']} | "
                f"{row['nmi']:.3f} | {row['acc']:.3f} | {row.get('outliers', 0.0):.0%} | {row['wall_s']:.0f} | "
                + (f"{row['choose_k_s']:.1f} | {met} |" if row["method"] == "textcluster" else "| |")
            )
    alternatives = [
        f"- {name}: {rows[0]['alternatives']}" for name, rows in results.items() if rows[0].get("alternatives")
    ]
    if alternatives:
        lines += ["", "The levels each run reported beside its pick (k_selection.json's `alternatives`):", ""]
        lines += alternatives
    notes = path.read_text().split(NOTES_MARKER, 1)[1] if path.is_file() and NOTES_MARKER in path.read_text() else ""
    path.write_text("\n".join(lines) + "\n" + (f"\n{NOTES_MARKER}{notes}" if notes else ""))
    print(f"wrote {path}")


def main() -> None:
    global WORK  # --work moves every run of this process
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=None, help="corpora to run (default: all)")
    parser.add_argument("--resume", action="store_true", help="reuse runs already made (their cell.json)")
    parser.add_argument("--no-baselines", action="store_true", help="only the textcluster rows")
    parser.add_argument("--table-only", action="store_true", help="tabulate the rows already measured")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "granularity.md")
    parser.add_argument("--work", type=Path, default=WORK, help="folder of the runs (another one per variant)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    extra = argv[split + 1 :]  # Hydra overrides for every textcluster run
    WORK = args.work

    corpora = {corpus.name: corpus for corpus in load_corpora(data_dir())}
    unknown = set(args.only or ()) - set(corpora)
    if unknown:
        raise SystemExit(f"unknown corpora {sorted(unknown)}; choose from {sorted(corpora)}")
    results = {}
    for name, corpus in corpora.items():
        if args.only and name not in args.only:
            continue
        resume = args.resume or args.table_only
        results[name] = measure(corpus, resume, not args.no_baselines, extra)
    rows_file = WORK / "rows.json"
    if args.only:  # keep the other corpora's rows from earlier runs
        earlier = json.loads(rows_file.read_text()) if rows_file.is_file() else {}
        results = {**earlier, **results}
        results = {name: results[name] for name in corpora if name in results}
    rows_file.write_text(json.dumps(results, indent=2))
    shown = [word for word in sys.argv[1:] if word not in ("--table-only", "--resume")]  # how the rows were made
    write_table(results, corpora, args.out, " ".join(["python benchmarks/granularity.py", *shown]), extra)


if __name__ == "__main__":
    main()
