"""Your own corpus, measured: labelled corpora turned into text-only CSVs, clustered with no option but data.path.

    python benchmarks/own_corpus.py                      # writes benchmarks/results/own-corpus.md
    python benchmarks/own_corpus.py --corpora searchsnippets --resume

For each corpus (SearchSnippets, StackOverflow, 20 Newsgroups-test from the
shared data folder) the script writes a CSV holding only a ``text`` column,
then runs, each as its own `textcluster` process (benchmarks/run.py's run_cell:
wall time and peak memory of that process):

* ``auto``: ``data=csv data.path=<csv>`` and nothing else but ``cache=false``
  (so the timing includes the encoder): the text recipe, k searched;
* ``fixed k``: the same with ``clusterer.n_clusters=<true k>`` (the wall-time
  reference for the cost of the search);
* ``hdbscan``: the same with ``clusterer=hdbscan`` (the density route,
  min_cluster_size auto, noise=soft), embeddings from the cache;
* ``preset``: the corpus' experiment preset on the original labelled files
  (k = the true number of classes).

The withheld labels score every run afterwards from its assignments.csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from run import HERE, data_dir, run_cell
from sklearn.metrics import normalized_mutual_info_score

from textcluster.evaluation.metrics import clustering_accuracy

CORPORA = {
    "searchsnippets": ("searchsnippets/SearchSnippets.txt", "searchsnippets/SearchSnippets_gnd.txt"),
    "stackoverflow": ("stackoverflow/StackOverflow.txt", "stackoverflow/StackOverflow_gnd.txt"),
    "newsgroups": ("20newsgroups/test.csv", None),
}


def corpus(name: str, data: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """Texts, withheld labels, and the preset's data overrides for the original files."""
    texts_file, labels_file = CORPORA[name]
    if labels_file is None:
        table = pd.read_csv(data / texts_file)
        return (
            table["text"].fillna("").astype(str).tolist(),
            table["label"].to_numpy(),
            [f"data.path={data / texts_file}"],
        )
    texts = (data / texts_file).read_text(encoding="utf-8-sig").splitlines()
    labels = np.array((data / labels_file).read_text().split())
    preset = [f"data.path={data / texts_file}", f"data.labels_path={data / labels_file}"]
    return texts, labels, preset


def score(run_dir: Path, labels: np.ndarray) -> dict:
    """NMI and ACC of a run's assignments.csv against the withheld labels (rows are the CSV's row numbers)."""
    with open(run_dir / "assignments.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ids = np.array([int(row["id"]) for row in rows])
    clusters = np.array([int(row["cluster"]) for row in rows])
    truth = labels[ids]
    selection = run_dir / "k_selection.json"
    return {
        "nmi": normalized_mutual_info_score(truth, clusters),
        "acc": clustering_accuracy(truth, clusters),
        "k": len(set(clusters[clusters != -1])),
        "chosen_k": json.loads(selection.read_text())["chosen_k"] if selection.is_file() else None,
        "files": all((run_dir / name).is_file() for name in ("topics.json", "report.html")),
    }


def measure(name: str, work: Path, resume: bool) -> list[dict]:
    texts, labels, preset_data = corpus(name, data_dir())
    csv_path = work / f"{name}.csv"
    if not csv_path.is_file():
        pd.DataFrame({"text": texts}).to_csv(csv_path, index=False)  # only the text: the labels stay here
    true_k = len(set(labels.tolist()))
    runs = {
        "auto": ["data=csv", f"data.path={csv_path}", "cache=false"],
        "fixed k": ["data=csv", f"data.path={csv_path}", f"clusterer.n_clusters={true_k}"],
        "hdbscan": ["data=csv", f"data.path={csv_path}", "clusterer=hdbscan"],
        "preset": [f"experiment={name}", *preset_data, "report=false"],
    }
    rows = []
    for label, overrides in runs.items():
        print(f"{name} / {label}: {' '.join(overrides)}", flush=True)
        run_dir = work / name / label.replace(" ", "_")
        cell = run_cell(overrides, run_dir, resume)
        if cell.get("failed"):
            rows.append({"corpus": name, "run": label, "failed": True})
            continue
        measured = score(run_dir, labels)
        rows.append(
            {
                "corpus": name,
                "run": label,
                "true_k": true_k,
                **measured,
                "wall_s": cell["wall_s"],
                "choose_k_s": cell.get("choose_k_s", 0.0),
                "peak_mem_mb": cell["peak_mem_mb"],
                "noise_before": cell.get("noise_fraction_before", 0.0),
            }
        )
        print(f"  {rows[-1]}", flush=True)
    return rows


def write_table(rows: list[dict], path: Path) -> None:
    lines = [
        "# Your own corpus: text-only CSVs, no option but data.path",
        "",
        "`python benchmarks/own_corpus.py` (seed 0, 2 CPU cores). `auto` is `textcluster data=csv data.path=<csv>`",
        "(plus cache=false, so its time includes the encoder); `fixed k` the same run with",
        "`clusterer.n_clusters=<true k>`; `hdbscan` the same with `clusterer=hdbscan` (min_cluster_size auto,",
        "noise=soft; its embeddings come from the cache); `preset` the corpus' experiment preset on the",
        "labelled files. NMI and ACC are scored against the labels withheld from the CSV.",
        "",
        "| corpus | run | true k | k | NMI | ACC | noise before | wall (s) | choosing k (s) | peak memory (MB) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        if row.get("failed"):
            lines.append(f"| {row['corpus']} | {row['run']} | failed | | | | | | | |")
            continue
        lines.append(
            f"| {row['corpus']} | {row['run']} | {row['true_k']} | {row['k']} | {row['nmi']:.3f} | {row['acc']:.3f} "
            f"| {row['noise_before']:.1%} | {row['wall_s']:.0f} | {row['choose_k_s']:.1f} | {row['peak_mem_mb']:.0f} |"
        )
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", choices=sorted(CORPORA), default=list(CORPORA))
    parser.add_argument("--work", type=Path, default=HERE / "runs" / "own-corpus", help="CSVs and run folders")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "own-corpus.md")
    parser.add_argument("--resume", action="store_true", help="keep finished runs (their cell.json)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [row for name in args.corpora for row in measure(name, args.work, args.resume)]
    (args.work / "rows.json").write_text(json.dumps(rows, indent=2, default=float))
    write_table(rows, args.output)


if __name__ == "__main__":
    sys.exit(main())
