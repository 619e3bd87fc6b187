"""Topic representation of a text clustering: keywords, representative documents, labels, reduction.

``TopicModeler(...).fit(texts, labels, embeddings)`` returns :class:`Topics`:
one topic per cluster (and one for the noise documents, id -1, when there
are some), with c-TF-IDF keywords, the documents closest to the cluster's
centre in embedding space, and a short label from the top keywords.

``Topics.tree`` is the hierarchy of the clusters (BERTopic's
``hierarchical_topics``): an agglomerative tree over their c-TF-IDF vectors,
see :func:`topic_tree`. With ``n_topics=K`` that tree is cut into K groups
(:func:`cut_tree`) and each group becomes one topic; ``Topics.labels`` then
holds every document's topic, ``Topics.mapping`` the clusterer's label ->
topic id, and ``Topics.tree["cut"]`` where the tree was cut.

With ``shared_words="drop"`` (the default) a word the clusters share (see
:func:`textcluster.topics.ctfidf.shared_terms`) is no keyword of any topic or
tree node; ``Topics.shared_words`` lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from textcluster.contracts import TopicModel
from textcluster.dataset import keyword_text
from textcluster.labels import CENTRE_BLOCK, NOISE, cluster_ids
from textcluster.params import settings_block
from textcluster.text import snippet
from textcluster.topics.settings import TOPIC_SETTINGS, VECTORIZER_DEFAULTS

# c-TF-IDF and coherence (scipy, scikit-learn) are imported in the methods that use them: composing a config
# (`textcluster --help`, a config error) reads TopicModeler's defaults and should not pay for them.
if TYPE_CHECKING:
    import scipy.sparse as sp

log = logging.getLogger(__name__)

NOISE_LABEL = "outliers"
REPRESENTATIVE_CHARS = 500  # a representative text kept in the model is cut to this many characters
TABLE_ROWS = 20  # topics shown when Topics is printed


@dataclass
class Topic:
    id: int
    size: int
    label: str
    keywords: list[str]
    keyword_scores: list[float]
    representative_docs: list[int]  # row indices into the corpus, closest to the centre first
    clusters: list[int]  # the clusterer's labels merged into this topic
    representative_texts: list[str] = field(default_factory=list)  # those documents' texts (REPRESENTATIVE_CHARS)

    @property
    def is_noise(self) -> bool:
        return self.id == NOISE


SUMMARY_FIELDS = ("n_clusters_before", "top_n", "tree", "shared_words")
"""What a saved model keeps of :class:`Topics` besides the topics and the mapping (see :meth:`Topics.summary`)."""


@dataclass(repr=False)
class Topics:
    """The topics of a run plus what topic metrics need (the corpus's document-term counts).

    A model loaded from a folder holds the topics, the mapping and the tree but not the corpus: ``labels``,
    ``terms``, ``weights`` and ``doc_term`` are None there (keywords come from each topic's list, and
    coherence, which needs the corpus, is empty).
    """

    topics: list[Topic]
    labels: np.ndarray | None  # per document: its topic id (-1 for noise)
    mapping: dict[int, int]  # clusterer label -> topic id
    terms: np.ndarray | None  # the vectorizer's vocabulary, sorted
    weights: sp.csr_matrix | None  # c-TF-IDF, one row per entry of ``topics``
    doc_term: sp.csr_matrix | None = None  # documents x terms counts
    n_clusters_before: int = 0  # clusters (noise excluded) before reduction
    top_n: int = 10  # keywords per topic (the modeler's top_n_words)
    tree: dict = field(default_factory=lambda: {"leaves": [], "merges": []})  # see topic_tree (JSON-ready)
    shared_words: list[str] = field(default_factory=list)  # dropped from every keyword list (topics.shared_words)

    def top_words(self, n: int, include_noise: bool = False) -> list[list[str]]:
        """The ``n`` top c-TF-IDF terms of every topic (noise left out unless asked)."""
        from textcluster.topics.ctfidf import top_terms

        if self.weights is None:  # a loaded model: the keyword lists it kept
            return [topic.keywords[:n] for topic in self.topics if include_noise or not topic.is_noise]
        return [
            [term for term, _ in top_terms(self.weights, row, self.terms, n)]
            for row, topic in enumerate(self.topics)
            if include_noise or not topic.is_noise
        ]

    def label_of(self, topic_ids: Sequence[int]) -> list[str]:
        """The label of each topic id (``outliers`` for -1; an id no topic has, e.g. a cluster left empty: "")."""
        labels = {topic.id: topic.label for topic in self.topics} | {NOISE: NOISE_LABEL}
        return [labels.get(int(topic_id), "") for topic_id in topic_ids]

    def info(self):
        """One row per topic, largest first, outliers last (pandas DataFrame): ``topic``, ``label``, ``size``,
        ``share``, ``keywords``, ``representative_texts`` (BERTopic's ``get_topic_info``)."""
        import pandas as pd

        total = max(sum(topic.size for topic in self.topics), 1)
        ordered = sorted(self.topics, key=lambda topic: (topic.is_noise, -topic.size, topic.id))
        return pd.DataFrame(
            {
                "topic": [topic.id for topic in ordered],
                "label": [topic.label for topic in ordered],
                "size": [topic.size for topic in ordered],
                "share": [round(topic.size / total, 4) for topic in ordered],
                "keywords": [list(topic.keywords) for topic in ordered],
                "representative_texts": [list(topic.representative_texts) for topic in ordered],
            }
        )

    def summary(self) -> dict[str, Any]:
        """What a saved model keeps (JSON-ready): the topics with their texts, the mapping, the tree."""
        return {
            "topics": [
                {
                    "id": topic.id,
                    "size": topic.size,
                    "label": topic.label,
                    "keywords": list(topic.keywords),
                    "keyword_scores": [float(score) for score in topic.keyword_scores],
                    "representative_docs": [int(row) for row in topic.representative_docs],
                    "representative_texts": list(topic.representative_texts),
                    "clusters": [int(cluster) for cluster in topic.clusters],
                }
                for topic in self.topics
            ],
            "mapping": {str(cluster): int(topic) for cluster, topic in self.mapping.items()},
            **{name: getattr(self, name) for name in SUMMARY_FIELDS},
        }

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> Topics:
        """The topics :meth:`summary` kept (without the corpus: see the class docstring)."""
        return cls(
            topics=[Topic(**entry) for entry in summary["topics"]],
            labels=None,
            mapping={int(cluster): int(topic) for cluster, topic in summary["mapping"].items()},
            terms=None,
            weights=None,
            **{name: summary[name] for name in SUMMARY_FIELDS},
        )

    def __repr__(self) -> str:
        real = [topic for topic in self.topics if not topic.is_noise]
        noise = sum(topic.size for topic in self.topics if topic.is_noise)
        head = f"Topics: {len(real)} topics over {sum(topic.size for topic in self.topics):,} documents"
        lines = [head + (f" ({noise:,} outliers)" if noise else "")]
        width = max((len(str(topic.id)) for topic in real), default=1)
        for topic in sorted(real, key=lambda topic: (-topic.size, topic.id))[:TABLE_ROWS]:
            lines.append(f"  {topic.id:>{width}}  {topic.size:>7,}  {topic.label}")
        if len(real) > TABLE_ROWS:
            lines.append(f"  ... {len(real) - TABLE_ROWS} more (topic_info() lists them all)")
        return "\n".join(lines)

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
        from textcluster.topics.coherence import topic_diversity

        return topic_diversity(self.top_words(top_n))

    def __post_init__(self) -> None:
        self._coherence = cache(self._compute_coherence)

    def _compute_coherence(self, top_n: int) -> dict[int, float]:
        from textcluster.topics.coherence import topic_npmi

        if self.doc_term is None:  # a loaded model holds no corpus to count co-occurrences in
            return {}
        real = [topic for topic in self.topics if not topic.is_noise]
        scores = topic_npmi(self.top_words(top_n), self.doc_term, self.vocabulary)
        return {topic.id: score for topic, score in zip(real, scores) if not np.isnan(score)}


def topic_tree(
    counts: sp.csr_matrix,
    ids: Sequence[int],
    sizes: Sequence[int],
    idf: np.ndarray,
    terms: np.ndarray,
    top_n: int = 10,
    label_words: int = 4,
) -> dict:
    """The agglomerative tree over classes (one row of ``counts`` per class, noise left out), JSON-ready.

    ``{"leaves": [{"id", "size", "label", "keywords"}], "merges": [{"id", "children": [a, b], "distance",
    "leaves": [leaf ids under it], "size", "keywords"}]}``, merges in order (closest first); the root is the
    last merge; merge ids continue after the largest leaf id. The distance is the average cosine
    distance between the L2-normalised c-TF-IDF rows (``idf``: fitted on every class, noise included;
    the fit gives shared words 0, so they neither label a node nor make clusters look alike):
    cosine is how c-TF-IDF vectors are compared (as BERTopic does), and average linkage is monotone
    (no inversions, so a cut at a distance is well defined) with heights that stay cosine distances
    in [0, 1]; ward's heights are growths of within-group variance, not distances a reader can take
    for a similarity. A merged node's keywords are the c-TF-IDF of its members' summed term counts, with the same IDF
    (as BERTopic's ``hierarchical_topics``). Under two classes: no merges. :meth:`TopicModeler.fit`
    adds each leaf's ``topic`` and, when topics.n_topics cut the tree, ``"cut": {"n_topics", "distance"}``.
    """
    import scipy.sparse as sp  # on use: composing a config (textcluster --help) reads this module's defaults

    from textcluster.topics.ctfidf import c_tf_idf, top_terms

    counts = sp.csr_matrix(counts, dtype=np.float64)
    ids = [int(i) for i in ids]

    def keywords(row_counts: sp.csr_matrix) -> list[str]:
        from textcluster.topics.ctfidf import c_tf_idf

        return [word for word, _ in top_terms(c_tf_idf(row_counts, idf), 0, terms, top_n)]

    leaves = []
    for row, (leaf, size) in enumerate(zip(ids, sizes)):
        words = keywords(counts[row])
        label = ", ".join(words[:label_words]) or f"cluster {leaf}"
        leaves.append({"id": leaf, "size": int(size), "label": label, "keywords": words})
    if len(ids) < 2:
        return {"leaves": leaves, "merges": []}
    from scipy.cluster.hierarchy import linkage  # these three on use: composing a config reads this module
    from scipy.spatial.distance import squareform
    from sklearn.preprocessing import normalize

    unit = normalize(c_tf_idf(counts, idf), norm="l2", axis=1)
    distance = np.clip(1.0 - (unit @ unit.T).toarray(), 0.0, 1.0)  # a row without terms is 1 from everything
    np.fill_diagonal(distance, 0.0)
    Z = linkage(squareform(distance, checks=False), method="average")
    node_ids, node_counts = list(ids), [counts[row] for row in range(len(ids))]
    node_leaves, node_sizes = [[leaf] for leaf in ids], [int(size) for size in sizes]
    merges = []
    for step, (a, b, height, _) in enumerate(Z):
        a, b = int(a), int(b)
        node_ids.append(max(ids) + 1 + step)
        node_counts.append(node_counts[a] + node_counts[b])
        node_leaves.append(sorted(node_leaves[a] + node_leaves[b]))
        node_sizes.append(node_sizes[a] + node_sizes[b])
        merges.append(
            {
                "id": node_ids[-1],
                "children": [node_ids[a], node_ids[b]],
                "distance": round(float(height), 6),
                "leaves": node_leaves[-1],
                "size": node_sizes[-1],
                "keywords": keywords(node_counts[-1]),
            }
        )
    return {"leaves": leaves, "merges": merges}


def cut_tree(tree: dict, n_groups: int) -> tuple[dict[int, int], float]:
    """``(leaf id -> group, cut distance)``: the first ``leaves - n_groups`` merges kept, the rest skipped.

    Exactly ``n_groups`` groups (fcluster's maxclust can give fewer on tied distances), numbered
    0, 1, ... in the order of their smallest leaf id. The cut distance lies halfway between the last
    merge kept and the first one skipped (with one group: the root's distance).
    """
    leaves, merges = [leaf["id"] for leaf in tree["leaves"]], tree["merges"]
    kept = merges[: max(len(leaves) - n_groups, 0)]
    first = {leaf: leaf for leaf in leaves}
    for merge in kept:  # a later merge holds the earlier ones: the last one over a leaf names its group
        for leaf in merge["leaves"]:
            first[leaf] = merge["leaves"][0]
    number = {root: index for index, root in enumerate(sorted(set(first.values())))}
    if not kept:
        distance = 0.0
    elif len(kept) == len(merges):
        distance = kept[-1]["distance"]
    else:
        distance = round((kept[-1]["distance"] + merges[len(kept)]["distance"]) / 2, 6)
    return {leaf: number[first[leaf]] for leaf in leaves}, distance


def representative_documents(embeddings: np.ndarray, members: np.ndarray, n: int) -> list[int]:
    """The ``n`` members closest (Euclidean) to the mean of their embeddings, closest first.

    Read in blocks of CENTRE_BLOCK members: a cluster of half a million documents copied whole in float64 (and
    its differences from the mean, and their squares) took 5 GB at once."""
    if len(members) == 0 or n <= 0:
        return []
    blocks = [members[start : start + CENTRE_BLOCK] for start in range(0, len(members), CENTRE_BLOCK)]
    points = lambda block: np.asarray(embeddings[block], dtype=np.float64)
    centre = np.sum([points(block).sum(axis=0) for block in blocks], axis=0) / len(members)
    distances = np.concatenate([((points(block) - centre) ** 2).sum(axis=1) for block in blocks])
    return [int(members[i]) for i in np.argsort(distances, kind="stable")[:n]]


class TopicModeler(TopicModel):
    """The topic stage (the ``topics`` config group).

    ``top_n_words`` keywords per topic, ``n_representative`` documents per topic,
    ``label_words`` keywords in the label, ``n_topics`` (None: one topic per
    cluster; K: the topic tree over the clusters cut into K topics),
    ``shared_words`` (``"drop"``: words the clusters share are no keywords;
    ``"keep"``: plain c-TF-IDF) and ``vectorizer`` (CountVectorizer arguments;
    ``tokenizer`` may be an import path such as ``jieba:lcut``).
    """

    parameters = TOPIC_SETTINGS

    def __init__(
        self,
        top_n_words: int = 10,
        n_representative: int = 5,
        label_words: int = 4,
        n_topics: int | None = None,
        shared_words: str = "drop",
        vectorizer: Mapping[str, Any] | None = None,
    ):
        from textcluster.topics.ctfidf import build_vectorizer

        self.top_n_words, self.n_representative, self.label_words = top_n_words, n_representative, label_words
        self.n_topics, self.shared_words = n_topics, shared_words
        self.vectorizer = settings_block(VECTORIZER_DEFAULTS, vectorizer)
        build_vectorizer(self.vectorizer)  # bad keys or an unimportable tokenizer fail before any work

    def fit(self, texts: Sequence[str], labels: np.ndarray, embeddings: np.ndarray) -> Topics:
        from textcluster.topics.ctfidf import (
            build_vectorizer,
            c_tf_idf,
            class_idf,
            class_term_counts,
            evenly_spread_terms,
            fit_document_terms,
        )

        labels = np.asarray(labels)
        clusters = cluster_ids(labels)
        has_noise = bool((labels == NOISE).any())
        if self.n_topics is not None and self.n_topics > len(clusters):
            log.warning(
                "topics.n_topics=%d is more than the %d clusters found: one topic per cluster",
                self.n_topics,
                len(clusters),
            )

        documents = [keyword_text(text) for text in texts]  # one huge document would hold all its words at once
        doc_term, terms = fit_document_terms(build_vectorizer(self.vectorizer), documents)
        classes = np.concatenate([[NOISE], clusters]) if has_noise else clusters
        counts = class_term_counts(doc_term, labels, classes)
        sizes = np.array([(labels == c).sum() for c in classes])
        rows = slice(1, None) if has_noise else slice(None)  # the noise row takes part in the IDF only
        evenly_spread = evenly_spread_terms(doc_term, labels, clusters) if self.drops_shared_words else None
        idf = class_idf(counts)
        dropped = self.shared(counts[rows], idf, evenly_spread)
        tree = topic_tree(
            counts[rows], clusters, sizes[rows], np.where(dropped, 0.0, idf), terms, self.top_n_words, self.label_words
        )

        mapping = self.merge_clusters(tree, clusters)
        lookup = np.vectorize(lambda c: mapping.get(int(c), NOISE), otypes=[np.int64])
        topic_labels = lookup(labels) if len(labels) else labels.astype(np.int64)
        topic_ids = np.array(([NOISE] if has_noise else []) + sorted(set(mapping.values())), dtype=np.int64)
        topic_counts = class_term_counts(doc_term, topic_labels, topic_ids)
        topic_idf = np.where(dropped, 0.0, class_idf(topic_counts))
        # merged topics are new topics: a word they share is dropped too (for the clusters this finds nothing new)
        dropped |= self.shared(topic_counts[rows], topic_idf, evenly_spread)
        self.log_shared(terms[dropped])
        weights = c_tf_idf(topic_counts, np.where(dropped, 0.0, topic_idf))
        topics = [
            self.topic(topic_id, row, weights, terms, topic_labels, mapping, embeddings, texts)
            for row, topic_id in enumerate(topic_ids)
        ]
        return Topics(
            topics=topics,
            labels=topic_labels,
            mapping=mapping,
            terms=terms,
            weights=weights,
            doc_term=doc_term,
            n_clusters_before=len(clusters),
            top_n=self.top_n_words,
            tree=tree,
            shared_words=[str(term) for term in terms[dropped]],
        )

    def merge_clusters(self, tree: dict, clusters: np.ndarray) -> dict[int, int]:
        """Cluster -> topic: itself, or with topics.n_topics=K its group in the tree cut into K (recorded in
        ``tree["cut"]``); every leaf of the tree gets its ``topic``."""
        mapping = {int(c): int(c) for c in clusters}
        if self.n_topics is not None and self.n_topics < len(clusters):
            mapping, distance = cut_tree(tree, self.n_topics)  # consecutive ids, in cluster order
            tree["cut"] = {"n_topics": self.n_topics, "distance": distance}
            log.info(
                "topics: merged %d clusters into %d topics, the topic tree cut at distance %.3f (topics.n_topics)",
                len(clusters),
                self.n_topics,
                distance,
            )
        for leaf in tree["leaves"]:
            leaf["topic"] = mapping[leaf["id"]]
        return mapping

    def topic(
        self,
        topic_id: int,
        row: int,
        weights: sp.csr_matrix,
        terms: np.ndarray,
        topic_labels: np.ndarray,
        mapping: dict[int, int],
        embeddings: np.ndarray,
        texts: Sequence[str],
    ) -> Topic:
        """One topic from its row of c-TF-IDF weights."""
        from textcluster.topics.ctfidf import top_terms

        members = np.flatnonzero(topic_labels == topic_id)
        keywords = top_terms(weights, row, terms, self.top_n_words)
        words = [word for word, _ in keywords]
        label = NOISE_LABEL if topic_id == NOISE else (", ".join(words[: self.label_words]) or f"topic {topic_id}")
        representatives = representative_documents(embeddings, members, self.n_representative)
        return Topic(
            id=int(topic_id),
            size=len(members),
            label=label,
            keywords=words,
            keyword_scores=[score for _, score in keywords],
            representative_docs=representatives,
            clusters=sorted(c for c, t in mapping.items() if t == topic_id) if topic_id != NOISE else [NOISE],
            representative_texts=[snippet(texts[row], REPRESENTATIVE_CHARS) for row in representatives],
        )

    @property
    def drops_shared_words(self) -> bool:
        return self.shared_words == "drop"

    def shared(self, counts: sp.csr_matrix, idf: np.ndarray, evenly_spread: np.ndarray | None) -> np.ndarray:
        """Per term: True when the topics of ``counts`` share it (all False with shared_words=keep)."""
        from textcluster.topics.ctfidf import shared_terms

        if not self.drops_shared_words:
            return np.zeros(len(idf), dtype=bool)
        return shared_terms(counts, idf, self.top_n_words, evenly_spread)

    @staticmethod
    def log_shared(words: np.ndarray) -> None:
        if len(words):
            shown = ", ".join(str(word) for word in words[:20]) + (", ..." if len(words) > 20 else "")
            log.info(
                "topics: %d words the clusters share are no keywords: %s (topics.shared_words=keep keeps them)",
                len(words),
                shown,
            )
