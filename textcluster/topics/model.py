"""Topic representation of a text clustering: keywords, representative documents, labels, reduction.

``TopicModeler(...).fit(texts, labels, embeddings)`` returns :class:`Topics`:
one topic per cluster (and one for the noise documents, id -1, when there
are some), with c-TF-IDF keywords, the documents closest to the cluster's
centre in embedding space, and a short label from the top keywords. With
``n_topics=K`` the clusters are first merged down to K topics (see
:func:`merge_smallest`); ``Topics.labels`` then holds every document's topic
and ``Topics.mapping`` the clusterer's label -> topic id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from textcluster.contracts import TopicModel
from textcluster.labels import NOISE, cluster_ids
from textcluster.params import NULL, Block, Bool, Choice, Float, Int, ListOf, Str
from textcluster.topics.coherence import topic_diversity, topic_npmi
from textcluster.topics.ctfidf import build_vectorizer, c_tf_idf, class_term_counts, fit_document_terms, top_terms

log = logging.getLogger(__name__)

NOISE_LABEL = "outliers"
VECTORIZER_SETTINGS = Block(
    {
        "stop_words": Choice("english") | NULL | ListOf(Str()),
        "ngram_range": ListOf(Int(min=1), length=2),
        "min_df": Int(min=1) | Float(min=0, max=1),
        "max_df": Int(min=1) | Float(min=0, max=1, min_open=True),
        "max_features": Int(min=1) | NULL,
        "lowercase": Bool(),
        "token_pattern": Str() | NULL,
        "tokenizer": Str() | NULL,
    },
    open=True,
)
"""``topics.vectorizer.*``: any CountVectorizer argument; these are checked before any work."""


@dataclass
class Topic:
    id: int
    size: int
    label: str
    keywords: list[str]
    keyword_scores: list[float]
    representative_docs: list[int]  # row indices into the corpus, closest to the centre first
    clusters: list[int]  # the clusterer's labels merged into this topic

    @property
    def is_noise(self) -> bool:
        return self.id == NOISE


@dataclass
class Topics:
    """The topics of a run plus what topic metrics need (the corpus's document-term counts)."""

    topics: list[Topic]
    labels: np.ndarray  # per document: its topic id (-1 for noise)
    mapping: dict[int, int]  # clusterer label -> topic id
    terms: np.ndarray  # the vectorizer's vocabulary, sorted
    weights: sp.csr_matrix  # c-TF-IDF, one row per entry of ``topics``
    doc_term: sp.csr_matrix = field(repr=False)  # documents x terms counts
    n_clusters_before: int = 0  # clusters (noise excluded) before reduction
    top_n: int = 10  # keywords per topic (the modeler's top_n_words)

    def top_words(self, n: int, include_noise: bool = False) -> list[list[str]]:
        """The ``n`` top c-TF-IDF terms of every topic (noise left out unless asked)."""
        return [
            [term for term, _ in top_terms(self.weights, row, self.terms, n)]
            for row, topic in enumerate(self.topics)
            if include_noise or not topic.is_noise
        ]

    @property
    def vocabulary(self) -> dict[str, int]:
        return {str(term): index for index, term in enumerate(self.terms)}

    def __len__(self) -> int:
        return sum(not topic.is_noise for topic in self.topics)

    def coherence(self, top_n: int) -> dict[int, float]:
        """Each topic's NPMI over its ``top_n`` keywords, by document co-occurrence in the corpus (noise left out).

        Computed once per ``top_n`` (topics.json, the report and the npmi evaluator all read it).
        """
        return self._coherence(int(top_n))

    def diversity(self, top_n: int) -> float:
        return topic_diversity(self.top_words(top_n))

    def __post_init__(self) -> None:
        self._coherence = cache(self._compute_coherence)

    def _compute_coherence(self, top_n: int) -> dict[int, float]:
        real = [topic for topic in self.topics if not topic.is_noise]
        scores = topic_npmi(self.top_words(top_n), self.doc_term, self.vocabulary)
        return {topic.id: score for topic, score in zip(real, scores) if not np.isnan(score)}


def merge_smallest(
    class_counts: sp.csr_matrix, sizes: np.ndarray, n_target: int, noise_row: int | None = None
) -> np.ndarray:
    """Merge classes until ``n_target`` are left; returns, per class row, the row it ended up in.

    Each step takes the smallest class (ties: the later row) and merges it into
    the class whose c-TF-IDF vector is most similar to its own (cosine; ties:
    the earlier row). Term counts and sizes add up and c-TF-IDF is recomputed
    after every merge, so later steps see the merged topics. The noise row, if
    any, takes part in the IDF but is never merged.
    """
    counts = sp.lil_matrix(class_counts, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.int64).copy()
    owner = np.arange(counts.shape[0])
    active = [row for row in range(counts.shape[0]) if row != noise_row]
    while len(active) > n_target:
        smallest = min(active, key=lambda row: (sizes[row], -row))
        unit = normalize(c_tf_idf(counts.tocsr()), norm="l2", axis=1)
        similarity = np.asarray((unit[active] @ unit[smallest].T).toarray()).ravel()
        candidates = [(score, row) for score, row in zip(similarity, active) if row != smallest]
        best = max(candidates, key=lambda pair: (pair[0], -pair[1]))[1]
        counts[best] = counts[best] + counts[smallest]
        counts[smallest] = 0
        sizes[best] += sizes[smallest]
        owner[owner == smallest] = best
        active.remove(smallest)
    return owner


def representative_documents(embeddings: np.ndarray, members: np.ndarray, n: int) -> list[int]:
    """The ``n`` members closest (Euclidean) to the mean of their embeddings, closest first."""
    if len(members) == 0 or n <= 0:
        return []
    points = np.asarray(embeddings[members], dtype=np.float64)
    distances = ((points - points.mean(axis=0)) ** 2).sum(axis=1)
    return [int(members[i]) for i in np.argsort(distances, kind="stable")[:n]]


class TopicModeler(TopicModel):
    """The topic stage (the ``topics`` config group).

    ``top_n_words`` keywords per topic, ``n_representative`` documents per topic,
    ``label_words`` keywords in the label, ``n_topics`` (None: one topic per
    cluster) and ``vectorizer`` (CountVectorizer arguments; ``tokenizer`` may be
    an import path such as ``jieba:lcut``).
    """

    parameters = {
        "top_n_words": Int(min=1),
        "n_representative": Int(min=0),
        "label_words": Int(min=1),
        "n_topics": Int(min=1) | NULL,
        "vectorizer": VECTORIZER_SETTINGS,
    }

    def __init__(
        self,
        top_n_words: int = 10,
        n_representative: int = 5,
        label_words: int = 4,
        n_topics: int | None = None,
        vectorizer: Mapping[str, Any] | None = None,
    ):
        self.top_n_words, self.n_representative, self.label_words = top_n_words, n_representative, label_words
        self.n_topics = n_topics
        self.vectorizer = dict(vectorizer or {"stop_words": "english"})
        build_vectorizer(self.vectorizer)  # bad keys or an unimportable tokenizer fail before any work

    def fit(self, texts: Sequence[str], labels: np.ndarray, embeddings: np.ndarray) -> Topics:
        labels = np.asarray(labels)
        clusters = cluster_ids(labels)
        has_noise = bool((labels == NOISE).any())
        if self.n_topics is not None and self.n_topics > len(clusters):
            log.warning(
                "topics.n_topics=%d is more than the %d clusters found: one topic per cluster",
                self.n_topics,
                len(clusters),
            )

        doc_term, terms = fit_document_terms(build_vectorizer(self.vectorizer), list(texts))
        classes = np.concatenate([[NOISE], clusters]) if has_noise else clusters
        counts = class_term_counts(doc_term, labels, classes)
        sizes = np.array([(labels == c).sum() for c in classes])
        noise_row = 0 if has_noise else None

        mapping = {int(c): int(c) for c in clusters}
        if self.n_topics is not None and self.n_topics < len(clusters):
            owner = merge_smallest(counts, sizes, self.n_topics, noise_row)
            survivors = sorted({int(classes[owner[row]]) for row in range(len(classes)) if row != noise_row})
            new_id = {old: index for index, old in enumerate(survivors)}  # consecutive ids, original order
            mapping = {
                int(classes[row]): new_id[int(classes[owner[row]])] for row in range(len(classes)) if row != noise_row
            }
            log.info("topics: merged %d clusters into %d topics (topics.n_topics)", len(clusters), self.n_topics)
        lookup = np.vectorize(lambda c: mapping.get(int(c), NOISE), otypes=[np.int64])
        topic_labels = lookup(labels) if len(labels) else labels.astype(np.int64)

        topic_ids = np.array(([NOISE] if has_noise else []) + sorted(set(mapping.values())), dtype=np.int64)
        weights = c_tf_idf(class_term_counts(doc_term, topic_labels, topic_ids))
        topics = []
        for row, topic_id in enumerate(topic_ids):
            members = np.flatnonzero(topic_labels == topic_id)
            keywords = top_terms(weights, row, terms, self.top_n_words)
            words = [word for word, _ in keywords]
            label = NOISE_LABEL if topic_id == NOISE else (", ".join(words[: self.label_words]) or f"topic {topic_id}")
            topics.append(
                Topic(
                    id=int(topic_id),
                    size=len(members),
                    label=label,
                    keywords=words,
                    keyword_scores=[score for _, score in keywords],
                    representative_docs=representative_documents(embeddings, members, self.n_representative),
                    clusters=sorted(c for c, t in mapping.items() if t == topic_id) if topic_id != NOISE else [NOISE],
                )
            )
        return Topics(
            topics=topics,
            labels=topic_labels,
            mapping=mapping,
            terms=terms,
            weights=weights,
            doc_term=doc_term,
            n_clusters_before=len(clusters),
            top_n=self.top_n_words,
        )
