"""``topics.json`` and ``topics.md``: the topics of a text run, for programs and for readers; with times or groups
per document, ``topics_over_time.csv`` and ``topics_per_group.csv``."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.dataset import Dataset
from textcluster.errors import UserError
from textcluster.labels import NOISE
from textcluster.storage import write_text
from textcluster.text import snippet
from textcluster.topics.model import Topics

log = logging.getLogger(__name__)

JSON_TEXT_CHARS = 500  # representative documents are cut to this many characters in topics.json
MARKDOWN_TEXT_CHARS = 200
TREE_KEYWORDS = 5  # keywords per merged node in topics.md's tree
TOPICS_OVER_TIME_FILE = "topics_over_time.csv"
TOPICS_PER_GROUP_FILE = "topics_per_group.csv"


def _plain_id(value):
    return value.item() if isinstance(value, np.generic) else value


def topics_payload(topics: Topics, texts: Sequence[str], ids: Sequence) -> dict:
    """The topics.json content: a ``topics`` list (id, size, label, keywords, representative_docs, npmi, ...)
    and the ``tree`` of the clusters (``leaves``, ``merges`` and, when topics.n_topics cut it, ``cut``)."""
    coherence = topics.coherence(topics.top_n)
    entries = []
    for topic in topics.topics:
        entry = {
            "id": topic.id,
            "size": topic.size,
            "label": topic.label,
            "keywords": topic.keywords,
            "keyword_scores": [round(score, 6) for score in topic.keyword_scores],
            "representative_docs": [
                {"id": _plain_id(ids[row]), "text": snippet(texts[row], JSON_TEXT_CHARS)}
                for row in topic.representative_docs
            ],
            "clusters": topic.clusters,
        }
        if topic.id in coherence:
            entry["npmi"] = round(coherence[topic.id], 6)
        entries.append(entry)
    return {
        "n_documents": len(topics.labels),
        "n_topics": len(topics),
        "n_clusters_before": topics.n_clusters_before,
        "topics": entries,
        "tree": topics.tree,
    }


def largest_first(entries: list[dict]) -> list[dict]:
    """Topics as a reader wants them: largest first, the outliers last."""
    return sorted(entries, key=lambda entry: (entry["id"] == NOISE, -entry["size"], entry["id"]))


def topics_markdown(payload: dict) -> str:
    lines = [
        "# Topics",
        "",
        f"{payload['n_topics']} topics over {payload['n_documents']} documents"
        + (
            f" (merged from {payload['n_clusters_before']} clusters)"
            if payload["n_clusters_before"] != payload["n_topics"]
            else ""
        )
        + ".",
        "",
    ]
    for entry in largest_first(payload["topics"]):
        name = "Outliers (not in any cluster)" if entry["id"] == NOISE else f"Topic {entry['id']}: {entry['label']}"
        share = entry["size"] / max(payload["n_documents"], 1)
        lines += [
            f"## {name}",
            "",
            f"{entry['size']} documents ({share:.1%})"
            + (f", NPMI {entry['npmi']:.3f}" if "npmi" in entry else "")
            + ".",
            "",
            "Keywords: " + (", ".join(entry["keywords"]) or "(none)"),
            "",
        ]
        if entry["representative_docs"]:
            lines.append("Closest to the centre:")
            lines += [
                f"{rank}. ({doc['id']}) {snippet(doc['text'], MARKDOWN_TEXT_CHARS)}"
                for rank, doc in enumerate(entry["representative_docs"], 1)
            ]
            lines.append("")
    lines += tree_markdown(payload.get("tree") or {}, payload["topics"])
    return "\n".join(lines)


def tree_markdown(tree: dict, entries: list[dict]) -> list[str]:
    """The tree as a nested list from the root: merged nodes with their keywords, leaves as their topic."""
    merges = {merge["id"]: merge for merge in tree.get("merges", [])}
    if not merges:
        return []
    labels = {entry["id"]: entry["label"] for entry in entries}
    leaves = {leaf["id"]: leaf for leaf in tree.get("leaves", [])}
    cut = tree.get("cut")
    lines = [
        "## Topic tree",
        "",
        "Clusters merged by the average cosine distance of their c-TF-IDF vectors, from the root"
        + (f"; cut at distance {cut['distance']:.3f} into {cut['n_topics']} topics (topics.n_topics)" if cut else "")
        + ".",
        "",
    ]
    stack = [(max(merges), 0)]  # the root is the last merge; depth-first, first child on top
    while stack:
        node, depth = stack.pop()
        indent = "  " * depth
        if node in merges:
            merge = merges[node]
            words = ", ".join(merge["keywords"][:TREE_KEYWORDS]) or "(no keywords)"
            details = f"node {node}, distance {merge['distance']:.3f}, {merge['size']} documents"
            lines.append(f"{indent}- {words} ({details})")
            stack += [(child, depth + 1) for child in reversed(merge["children"])]
        elif cut:  # the leaves are clusters, grouped into topics
            leaf = leaves.get(node, {})
            topic = leaf.get("topic")
            lines.append(
                f"{indent}- Cluster {node} ({leaf.get('label', '')}) in Topic {topic}: {labels.get(topic, '')}"
            )
        else:
            lines.append(f"{indent}- Topic {node}: {labels.get(node, '')}")
    return lines + [""]


def write_topics(run_dir: Path, topics: Topics, texts: Sequence[str], ids: Sequence) -> dict:
    payload = topics_payload(topics, texts, ids)
    write_text(Path(run_dir) / "topics.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    write_text(Path(run_dir) / "topics.md", topics_markdown(payload))
    return payload


def topic_tables(topics: Topics | None, dataset: Dataset, time_bins: str | int = "auto") -> dict[str, Any]:
    """``{file name: DataFrame}``: topics over time when the documents have times (data.time_column), per group
    when they have groups (data.group_column); empty without topics. See :mod:`textcluster.topics.over_time`."""
    from textcluster.topics.over_time import topics_over_time, topics_per_group

    if topics is None:
        return {}
    makers = {
        TOPICS_OVER_TIME_FILE: (dataset.times, lambda times: topics_over_time(topics, topics.labels, times, time_bins)),
        TOPICS_PER_GROUP_FILE: (dataset.groups, lambda groups: topics_per_group(topics, topics.labels, groups)),
    }
    tables = {}
    for name, (values, make) in makers.items():
        if values is None:
            continue
        try:
            tables[name] = make(values)
        except UserError as error:  # e.g. no document kept a time: the run's other results stand
            log.warning("no %s: %s", name, error)
    return tables


def write_topic_tables(run_dir: Path, topics: Topics | None, dataset: Dataset, time_bins: str | int = "auto") -> dict:
    """Write :func:`topic_tables` into the run folder as CSV files; returns them."""
    tables = topic_tables(topics, dataset, time_bins)
    for name, table in tables.items():
        write_text(Path(run_dir) / name, table.round({"share": 6}).to_csv(index=False))  # as topics.json rounds
    return tables
