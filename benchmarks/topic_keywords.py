"""Topic keywords with and without dropping the words the clusters share (topics.shared_words).

    python benchmarks/topic_keywords.py                 # writes benchmarks/results/topic-keywords.md
    python benchmarks/topic_keywords.py --corpora searchsnippets --out /tmp/t.md

Keywords depend only on the texts and the partition, so no encoder runs. For each corpus (20 Newsgroups
test and train, SearchSnippets, StackOverflow, BANKING77 test, from the shared data folder) two partitions:

* ``true``: the corpus' labels;
* ``kmeans``: k-means (k = the number of labels, seed 0, one start) of the TF-IDF of the texts reduced to
  50 dimensions by truncated SVD: a clustering with the flaws of a real one (mixed and catch-all clusters).

The topics come from the topic stage itself (``TopicModeler`` with conf/topics/default.yaml's settings),
once with ``shared_words=keep`` (plain c-TF-IDF: the code before the change, keyword for keyword) and once
with ``drop`` (the default). The SVD vectors go in as the embeddings; they only choose the representative
documents. Reported: topic_diversity and mean NPMI of the top-10 keywords (the evaluators' numbers), the
words dropped, and the topic tree's inner nodes: how many distinct labels (their first 4 keywords, as a
set) they have, and the share of distinct words among those labels. A last table varies the rule's one
constant (``COMMON_SHARE_OF_PEAK``) to see how much the result hangs on it.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # a small job beside other people's benchmarks

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from run import HERE, data_dir
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from textcluster.topics import TopicModeler, ctfidf
from textcluster.topics.coherence import topic_diversity

CORPORA = {
    "20newsgroups-test": ("20newsgroups/test.csv", "label"),
    "20newsgroups-train": ("20newsgroups/train.csv", "label"),
    "searchsnippets": ("searchsnippets/SearchSnippets.txt", "searchsnippets/SearchSnippets_gnd.txt"),
    "stackoverflow": ("stackoverflow/StackOverflow.txt", "stackoverflow/StackOverflow_gnd.txt"),
    "banking77-test": ("banking77/test.csv", "category"),
}
SHOWN = "20newsgroups-test"  # the corpus whose labels the results show
SENSITIVITY = ("20newsgroups-test", "searchsnippets")
LABEL_WORDS = 4


def load(name: str, data: Path) -> tuple[list[str], np.ndarray]:
    texts_file, labels = CORPORA[name]
    if texts_file.endswith(".csv"):
        table = pd.read_csv(data / texts_file)
        return table["text"].fillna("").astype(str).tolist(), pd.factorize(table[labels])[0]
    texts = (data / texts_file).read_text(encoding="utf-8-sig").splitlines()
    return texts, pd.factorize(np.array((data / labels).read_text().split()))[0]


def svd_vectors(texts: list[str]) -> np.ndarray:
    tfidf = TfidfVectorizer(stop_words="english", min_df=2, sublinear_tf=True).fit_transform(texts)
    return TruncatedSVD(50, random_state=0).fit_transform(tfidf)


def kmeans_labels(vectors: np.ndarray, k: int) -> np.ndarray:
    return KMeans(k, n_init=1, random_state=0).fit_predict(vectors)


def default_settings() -> dict:
    """conf/topics/default.yaml without ``enabled``: what a run's topic stage gets."""
    settings = yaml.safe_load((HERE.parent / "conf" / "topics" / "default.yaml").read_text())
    settings.pop("enabled")
    return settings


def measure(texts, labels, vectors, shared_words: str) -> dict:
    topics = TopicModeler(**{**default_settings(), "shared_words": shared_words}).fit(texts, labels, vectors)
    top_n = topics.top_n
    inner = [merge["keywords"][:LABEL_WORDS] for merge in reversed(topics.tree["merges"])]  # the root first
    return {
        "diversity": topics.diversity(top_n),
        "npmi": float(np.mean(list(topics.coherence(top_n).values()))),
        "shared": topics.shared_words,
        "labels": [topic.label for topic in topics.topics],
        "inner": [", ".join(words) for words in inner],
        "inner_word_diversity": topic_diversity(inner) if inner else float("nan"),
    }


def arrow(before: float, after: float) -> str:
    return f"{before:.3f} → {after:.3f}"


def shared_cell(words: list[str]) -> str:
    return f"{len(words)}: {', '.join(words[:8])}{', ...' if len(words) > 8 else ''}" if words else "0"


def distinct(labels: list[str]) -> str:
    """How many labels differ in their words (the same words in another order are the same label)."""
    return f"{len({frozenset(label.split(', ')) for label in labels})}/{len(labels)}"


def result_row(corpus: str, partition: str, k: int, keep: dict, drop: dict) -> str:
    cells = [
        corpus,
        partition,
        str(k),
        arrow(keep["diversity"], drop["diversity"]),
        arrow(keep["npmi"], drop["npmi"]),
        shared_cell(drop["shared"]),
        f"{distinct(keep['inner'])} → {distinct(drop['inner'])}",
        arrow(keep["inner_word_diversity"], drop["inner_word_diversity"]),
    ]
    return "| " + " | ".join(cells) + " |"


def shown_labels(partition: str, keep: dict, drop: dict, n_topics: int = 8, n_inner: int = 4) -> list[str]:
    lines = [
        f"### {SHOWN}, {partition} partition",
        "",
        "| | keep (before) | drop (after) |",
        "| --- | --- | --- |",
    ]
    pairs = zip(keep["labels"][:n_topics], drop["labels"][:n_topics])
    lines += [f"| topic {i} | {a} | {b} |" for i, (a, b) in enumerate(pairs)]
    names = ["root"] + [f"inner node {i}" for i in range(1, n_inner)]
    lines += [f"| {name} | {a} | {b} |" for name, a, b in zip(names, keep["inner"], drop["inner"])]
    return lines + [""]


def sensitivity_rows(name: str, texts, partitions: dict, vectors) -> list[str]:
    rows = []
    for share in (0.4, 0.5, 0.6):
        ctfidf.COMMON_SHARE_OF_PEAK = share
        for partition, labels in partitions.items():
            after = measure(texts, labels, vectors, "drop")
            rows.append(
                f"| {name} | {partition} | {share} | {after['diversity']:.3f} | {after['npmi']:.3f} "
                f"| {len(after['shared'])} |"
            )
    ctfidf.COMMON_SHARE_OF_PEAK = 0.5
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", nargs="+", choices=list(CORPORA), default=list(CORPORA))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "topic-keywords.md")
    args = parser.parse_args()
    started = time.time()
    data = data_dir()
    rows, examples, sensitivity = [], [], []
    for name in args.corpora:
        texts, truth = load(name, data)
        vectors = svd_vectors(texts)
        k = len(np.unique(truth))
        partitions = {"true": truth, "kmeans": kmeans_labels(vectors, k)}
        for partition, labels in partitions.items():
            keep, drop = (measure(texts, labels, vectors, setting) for setting in ("keep", "drop"))
            rows.append(result_row(name, partition, k, keep, drop))
            print(rows[-1], flush=True)
            if name == SHOWN:
                examples += shown_labels(partition, keep, drop)
        if name in SENSITIVITY:
            sensitivity += sensitivity_rows(name, texts, partitions, vectors)
    write(args, rows, examples, sensitivity, time.time() - started)


def write(args, rows: list[str], examples: list[str], sensitivity: list[str], seconds: float) -> None:
    command = "python benchmarks/topic_keywords.py" + (
        f" --corpora {' '.join(args.corpora)}" if args.corpora != list(CORPORA) else ""
    )
    lines = [
        "# Topic keywords: dropping the words the clusters share (topics.shared_words)",
        "",
        f"`{command}` ({seconds:.0f} s on 2 CPU cores, one thread). Topics by the topic stage with",
        "conf/topics/default.yaml's settings; `keep` is plain c-TF-IDF (the code before), `drop` the default.",
        "Partitions: the true labels, and k-means (k = the number of labels) of TF-IDF + SVD(50).",
        "Each cell: keep → drop. Inner labels: the tree's merged nodes' first 4 keywords (as a set: the same",
        "words in another order count once).",
        "",
        "| corpus | partition | k | topic_diversity | NPMI | words dropped | distinct inner labels "
        "| inner-label word diversity |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "## Labels (first 8 topics) and the top of the topic tree",
        "",
        *examples,
    ]
    if sensitivity:
        lines += [
            "## The rule's constant varied",
            "",
            "`COMMON_SHARE_OF_PEAK` (textcluster/topics/ctfidf.py): a word is common in a cluster when its share",
            "of the cluster's documents is at least this part of its highest share in any cluster. With drop:",
            "",
            "| corpus | partition | share of peak | topic_diversity | NPMI | words dropped |",
            "| --- | --- | --- | --- | --- | --- |",
            *sensitivity,
            "",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
