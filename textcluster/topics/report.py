"""``topics.json`` and ``topics.md``: the topics of a text run, for programs and for readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from textcluster.topics.model import Topics

JSON_TEXT_CHARS = 500  # representative documents are cut to this many characters in topics.json
MARKDOWN_TEXT_CHARS = 200


def _plain_id(value):
    return value.item() if isinstance(value, np.generic) else value


def _snippet(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def topics_payload(topics: Topics, texts: Sequence[str], ids: Sequence, coherence: dict[int, float] | None = None) -> dict:
    """The topics.json content: a ``topics`` list (id, size, label, keywords, representative_docs, ...)."""
    if coherence is None:  # each topic's NPMI over its own keywords, on the corpus (see evaluation/topic_metrics.py)
        from textcluster.evaluation.topic_metrics import topic_npmi

        real = [topic for topic in topics.topics if not topic.is_noise]
        scores = topic_npmi([topic.keywords for topic in real], topics.doc_term, topics.vocabulary)
        coherence = {topic.id: score for topic, score in zip(real, scores) if not np.isnan(score)}
    entries = []
    for topic in topics.topics:
        entry = {
            "id": topic.id, "size": topic.size, "label": topic.label, "keywords": topic.keywords,
            "keyword_scores": [round(score, 6) for score in topic.keyword_scores],
            "representative_docs": [{"id": _plain_id(ids[row]), "text": _snippet(texts[row], JSON_TEXT_CHARS)}
                                    for row in topic.representative_docs],
            "clusters": topic.clusters,
        }
        if coherence and topic.id in coherence:
            entry["npmi"] = round(coherence[topic.id], 6)
        entries.append(entry)
    return {"n_documents": len(topics.labels), "n_topics": len(topics), "n_clusters_before": topics.n_clusters_before,
            "topics": entries}


def topics_markdown(payload: dict) -> str:
    lines = ["# Topics", "",
             f"{payload['n_topics']} topics over {payload['n_documents']} documents"
             + (f" (merged from {payload['n_clusters_before']} clusters)"
                if payload["n_clusters_before"] != payload["n_topics"] else "") + ".", ""]
    for entry in sorted(payload["topics"], key=lambda e: (e["id"] == -1, -e["size"], e["id"])):
        name = "Outliers (not in any cluster)" if entry["id"] == -1 else f"Topic {entry['id']}: {entry['label']}"
        share = entry["size"] / max(payload["n_documents"], 1)
        lines += [f"## {name}", "", f"{entry['size']} documents ({share:.1%})"
                  + (f", NPMI {entry['npmi']:.3f}" if "npmi" in entry else "") + ".", "",
                  "Keywords: " + (", ".join(entry["keywords"]) or "(none)"), ""]
        if entry["representative_docs"]:
            lines.append("Closest to the centre:")
            lines += [f"{rank}. ({doc['id']}) {_snippet(doc['text'], MARKDOWN_TEXT_CHARS)}"
                      for rank, doc in enumerate(entry["representative_docs"], 1)]
            lines.append("")
    return "\n".join(lines)


def write_topics(run_dir: Path, topics: Topics, texts: Sequence[str], ids: Sequence,
                 coherence: dict[int, float] | None = None) -> dict:
    payload = topics_payload(topics, texts, ids, coherence)
    (Path(run_dir) / "topics.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    (Path(run_dir) / "topics.md").write_text(topics_markdown(payload))
    return payload
