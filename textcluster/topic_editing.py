"""Edits of a fitted pipeline's topics without re-encoding: merge, rename, update, reduce outliers, split.

An edit reads the documents the pipeline was fitted on (:class:`Corpus`: their texts, their encoder
embeddings and each one's current topic) and refits the topic stage alone (c-TF-IDF keywords,
representative documents, the tree: seconds, where a new run encodes everything again). Each edit is
kept as data in the pipeline's ``topic_edits_``, in order; :func:`route` replays the ones that move
documents (merge, split, reduce outliers) on the labels of new documents, so ``predict`` follows the
edited topics, and a saved model carries them. Edits never touch the clusterer: its clusters stay
what the fit found, and the topics are a view over them that the edits reshape.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textcluster.errors import UserError
from textcluster.labels import NOISE, cluster_centres, cluster_ids
from textcluster.noise import to_nearest_centre

log = logging.getLogger(__name__)

MIN_SPLIT_MEMBERS = 10  # per sub-topic: fewer documents than this do not make a topic worth naming


@dataclass
class Corpus:
    """The fitted documents as an edit needs them (rows in the same order)."""

    texts: Sequence[str]
    embeddings: np.ndarray
    labels: np.ndarray  # each document's current topic id (-1: outlier)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if not (len(self.texts) == len(self.embeddings) == len(self.labels)):
            raise UserError(
                f"{len(self.texts)} texts, {len(self.embeddings)} embeddings and {len(self.labels)} labels: "
                "an edit needs the documents the pipeline was fitted on, in the same order"
            )


# ------------------------------------------------------------------------------------- the edits


def merge(corpus: Corpus, topics: Sequence[int]) -> tuple[np.ndarray, dict[str, Any]]:
    """``(labels, edit)``: the topics joined into the smallest id of them."""
    ids = sorted({int(topic) for topic in topics})
    if len(ids) < 2:
        raise UserError(f"merge needs two or more topic ids, got {list(topics)}")
    _check_topics(corpus, ids, "merge")
    edit = {"edit": "merge", "topics": ids}
    return move_labels(corpus.labels, corpus.embeddings, edit), edit


def reduce_outliers(corpus: Corpus) -> tuple[np.ndarray, dict[str, Any]]:
    """``(labels, edit)``: every outlier (-1) to the topic whose centre (mean embedding) is nearest."""
    if not (corpus.labels == NOISE).any():
        raise UserError("reduce-outliers: there are no outliers (no document has topic -1)")
    ids, centres = cluster_centres(np.asarray(corpus.embeddings), corpus.labels)
    if len(ids) == 0:
        raise UserError("reduce-outliers: there is no topic to assign the outliers to")
    edit = {"edit": "reduce_outliers", "ids": ids, "centres": centres}
    return move_labels(corpus.labels, corpus.embeddings, edit), edit


def split(corpus: Corpus, topic: int, n: int = 2, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """``(labels, edit)``: topic ``topic`` split into ``n`` sub-topics by k-means on its documents' embeddings;
    the largest part keeps the id, the others get new ones. ``n`` is the user's (2 by default): on a few hundred
    documents no silhouette rule we tried told the number of parts apart (it rose with n on TF-IDF vectors),
    and a split the user can repeat on a part is predictable."""
    from sklearn.cluster import KMeans

    topic = int(topic)
    _check_topics(corpus, [topic], "split")
    members = np.flatnonzero(corpus.labels == topic)
    points = np.asarray(corpus.embeddings, dtype=np.float64)[members]
    largest = len(members) // MIN_SPLIT_MEMBERS
    if not 2 <= int(n) <= max(largest, 1):
        raise UserError(
            f"split {topic} into {n}: give n from 2 to {largest} (topic {topic} has {len(members)} documents, "
            f"at least {MIN_SPLIT_MEMBERS} per sub-topic)"
        )
    if largest < 2:
        raise UserError(
            f"split {topic}: {len(members)} documents are too few to split (under {MIN_SPLIT_MEMBERS} each)"
        )
    n = int(n)
    sub = KMeans(n_clusters=n, n_init=10, random_state=seed).fit(points)
    order = np.argsort(-np.bincount(sub.labels_, minlength=n), kind="stable")  # the largest part keeps the id
    new_ids = [topic] + list(range(_next_id(corpus.labels), _next_id(corpus.labels) + n - 1))
    edit = {"edit": "split", "topic": topic, "ids": np.asarray(new_ids), "centres": sub.cluster_centers_[order]}
    return move_labels(corpus.labels, corpus.embeddings, edit), edit


def _next_id(labels: np.ndarray) -> int:
    return int(labels.max()) + 1 if len(labels) else 0


def _check_topics(corpus: Corpus, ids: Sequence[int], what: str) -> None:
    present = set(cluster_ids(corpus.labels).tolist())
    missing = [topic for topic in ids if topic not in present]
    if missing:
        raise UserError(
            f"{what}: no topic {', '.join(map(str, missing))}; the topics are {', '.join(map(str, sorted(present)))}"
        )


# ------------------------------------------------------------------------------------- replay


def move_labels(labels: np.ndarray, embeddings: np.ndarray, edit: Mapping[str, Any]) -> np.ndarray:
    """The labels after one edit that moves documents (others leave them as they are)."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    kind = edit["edit"]
    if kind == "merge":
        keep, *gone = edit["topics"]
        labels[np.isin(labels, gone)] = keep
    elif kind == "reduce_outliers":
        labels = to_nearest_centre(labels, embeddings, np.asarray(edit["ids"]), np.asarray(edit["centres"]))
    elif kind == "split":
        members = labels == edit["topic"]
        if members.any():
            points = np.asarray(embeddings, dtype=np.float64)[members]
            centres = np.asarray(edit["centres"], dtype=np.float64)
            nearest = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
            labels[members] = np.asarray(edit["ids"])[nearest]
    return labels


def route(labels: np.ndarray, embeddings: np.ndarray, edits: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """New documents' topics after the edits, in the order they were made."""
    for edit in edits:
        labels = move_labels(labels, embeddings, edit)
    return labels


def names(edits: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Topic id -> the label a rename gave it (the last rename wins; a merged-away topic's name is dropped)."""
    named: dict[int, str] = {}
    for edit in edits:
        if edit["edit"] == "rename":
            named[int(edit["topic"])] = str(edit["label"])
        elif edit["edit"] == "merge":
            for gone in edit["topics"][1:]:
                named.pop(int(gone), None)
    return named


def updated_settings(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The topic stage's settings with ``changes`` (``vectorizer.max_df`` or ``{"vectorizer": {...}}``) applied."""
    settings = copy.deepcopy(dict(current))
    for key, value in changes.items():
        group, _, leaf = str(key).partition(".")
        if group not in settings:
            raise UserError(f"update: '{key}' is no topics setting; the settings are {', '.join(sorted(settings))}")
        if leaf:
            if not isinstance(settings[group], dict):
                raise UserError(f"update: topics.{group} takes no sub-keys ('{key}')")
            settings[group] = {**settings[group], leaf: value}
        elif isinstance(settings[group], dict) and isinstance(value, Mapping):
            settings[group] = {**settings[group], **value}
        else:
            settings[group] = value
    return settings


# ------------------------------------------------------------------------------------- on a pipeline


class TopicEditing:
    """The edit methods of :class:`textcluster.pipeline.Pipeline` (a mixin: it reads and sets the pipeline's
    fitted attributes ``topics_``, ``labels_``, ``embeddings_``, ``documents_`` and ``topic_edits_``).

    Each method takes the fitted documents: by default the ones ``fit`` was given (kept in memory); for a
    loaded model pass ``documents=`` (the texts, in the order of the fit) and, to skip encoding them again,
    ``embeddings=`` (e.g. the run folder's ``embeddings.npy``) and ``labels=`` (its assignments' clusters).
    """

    def merge_topics(self, topics: Sequence[int], documents=None, embeddings=None, labels=None):
        """Join ``topics`` into the smallest of their ids (BERTopic's ``merge_topics``); returns self."""
        corpus = self._edited_corpus(documents, embeddings, labels)
        return self._record(corpus, *merge(corpus, topics))

    def split_topic(self, topic: int, n: int = 2, documents=None, embeddings=None, labels=None):
        """Split ``topic`` into ``n`` sub-topics by k-means on its documents' embeddings; predict follows."""
        corpus = self._edited_corpus(documents, embeddings, labels)
        return self._record(corpus, *split(corpus, topic, n, seed=self.seed))

    def reduce_outliers(self, documents=None, embeddings=None, labels=None):
        """Every outlier (-1) to the nearest topic centre (BERTopic's ``reduce_outliers``); predict follows."""
        corpus = self._edited_corpus(documents, embeddings, labels)
        return self._record(corpus, *reduce_outliers(corpus))

    def update_topics(self, documents=None, embeddings=None, labels=None, **settings):
        """New topic settings without re-encoding (``update_topics(**{"vectorizer.max_df": 0.15})``,
        ``top_n_words=5``, ``label_words=3``, ...): the keywords, labels and tree are computed again."""
        from textcluster.topics import TopicModeler

        if not settings:
            raise UserError(
                "update_topics: give a setting to change, e.g. update_topics(**{'vectorizer.max_df': 0.15})"
            )
        if "n_topics" in settings:
            raise UserError("update_topics cannot change n_topics; merge topics instead (merge_topics([a, b]))")
        corpus = self._edited_corpus(documents, embeddings, labels)
        modeler = TopicModeler(**updated_settings(self.topics.get_params(), settings))
        modeler.check_params()
        self.topics = modeler
        return self._record(corpus, corpus.labels, {"edit": "update", "settings": dict(settings)})

    def refresh_topics(self, documents=None, embeddings=None, labels=None):
        """The topics computed again on the documents as they stand (no edit): a loaded model's topics gain
        what needs the corpus (coherence, the per-document labels) for writing its files."""
        corpus = self._edited_corpus(documents, embeddings, labels)
        self._refit(corpus, corpus.labels)
        return self

    def rename_topic(self, topic: int, label: str):
        """Give ``topic`` a label of your own; it stays through later edits (until the topic is merged away)."""
        self._check_editable()
        if int(topic) not in {t.id for t in self.topics_.topics}:
            raise UserError(f"rename: no topic {topic}; topic_info() lists the topics")
        self.topic_edits_.append({"edit": "rename", "topic": int(topic), "label": str(label)})
        self._apply_names()
        return self

    # --------------------------------------------------------------------------------- shared steps

    def _check_editable(self) -> None:
        if not getattr(self, "is_fitted", False):
            raise UserError("this pipeline is not fitted; call fit() first (or load a saved one)")
        if getattr(self, "topics_", None) is None or self.topics is None:
            raise UserError("this pipeline has no topics to edit: topics need text documents and topics=default")

    def _edited_corpus(self, documents, embeddings, labels) -> Corpus:
        """The fitted documents: the fit's own, or the ones given (assigned and embedded as predict would,
        for what is not given)."""
        self._check_editable()
        if documents is None:
            if getattr(self, "documents_", None) is None:
                raise UserError(
                    "this edit needs the documents the pipeline was fitted on: pass documents=<their texts, in the "
                    "order of the fit> (a loaded model does not hold them)"
                )
            return Corpus(self.documents_, self.embeddings_, self.labels_)
        texts = list(documents)
        if embeddings is None or labels is None:
            log.info(
                "topic edit: assigning %d documents as predict does (pass embeddings= and labels= to skip)", len(texts)
            )
            prediction = self.predict_details(texts)
            embeddings = prediction.embeddings if embeddings is None else embeddings
            labels = prediction.labels if labels is None else labels
        return Corpus(texts, np.asarray(embeddings), labels)

    def _record(self, corpus: Corpus, labels: np.ndarray, edit: dict[str, Any]):
        """Keep the edit, refit the topic stage on the edited labels, and keep the documents for the next edit."""
        self.topic_edits_.append(edit)
        self._refit(corpus, labels)
        log.info("topics: %s -> %d topics", edit["edit"], len(self.topics_))
        return self

    def _refit(self, corpus: Corpus, labels: np.ndarray) -> None:
        modeler = self.topics.clone(n_topics=None)  # the labels are topics now: no second cut of the tree
        self.topics_ = modeler.fit(corpus.texts, labels, corpus.embeddings)
        self._apply_names()
        self.documents_, self.embeddings_, self.labels_ = corpus.texts, corpus.embeddings, self.topics_.labels

    def _apply_names(self) -> None:
        for topic in self.topics_.topics:
            topic.label = names(self.topic_edits_).get(topic.id, topic.label)
