"""Guided and zero-shot topics: the topics a user expects, given as seed words or as names (issue 25, item 4).

BERTopic's ``seed_topic_list`` and ``zeroshot_topic_list``, as settings of the topics group:

* ``topics.seed_topics: [[space, nasa, orbit], [hockey, nhl]]``: a document that contains a word (or
  phrase) of a seed list has its embedding pulled toward that list's embedding (the encoder's embedding of
  the words joined), ``(1 - seed_weight) * document + seed_weight * seed`` (BERTopic's 3:1 average is
  ``seed_weight=0.25``), before the reducer and the clusterer, so documents about the seed topic draw
  together and form their own cluster where they would otherwise merge into a neighbour. A document with
  words of several lists is pulled toward the one its embedding is most similar to. The topic that most
  of a list's documents land in, when they make up at least half of it, gets the seed words first in its
  label. ``predict`` pulls new documents by the same rule.
* ``topics.zero_shot: [space exploration, ice hockey]``: each name is embedded by the fitted encoder; a
  document whose embedding has cosine similarity ``>= topics.zero_shot_min_similarity`` with a name takes
  the name of highest similarity as its topic, and the remaining documents go through the reducer and the
  clusterer as usual. Zero-shot topic ``j`` has id ``j`` (the order of the list); the clusterer's clusters
  follow, shifted by the number of names, so ids never collide. The topic is labelled by its name.
  ``predict`` applies the same rule with the stored name embeddings.

The fitted state (:class:`GuidedFit`) is data: names, seed lists, their embeddings, the threshold, and how
many documents each name and each list took (kept in the model folder; topics.json holds each topic's label
and size).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from textcluster.contracts import Plugin
from textcluster.dataset import TEXT, Dataset
from textcluster.errors import UserError
from textcluster.labels import NOISE
from textcluster.topics.settings import GUIDANCE_SETTINGS

log = logging.getLogger(__name__)

SEED_WEIGHT = 0.5  # BERTopic averages 3:1 (0.25), too weak to part merged classes here: see the results
ZERO_SHOT_MIN_SIMILARITY = 0.4  # see benchmarks/results/guided-topics.md
BROAD_SHARE = 0.5  # zero-shot names that take more than this share of the corpus get a warning
SEEDED_SHARE = 0.5  # a topic carries a seed list's words when at least this share of its documents is seeded


def guidance_problems(settings: Mapping[str, Any], modality: str | None, refiner: str | None) -> list[str]:
    """What is wrong with the guidance settings of a config (values already have their declared shape)."""
    problems = []
    names = [str(name).strip().lower() for name in settings.get("zero_shot") or ()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"topics.zero_shot names {', '.join(repeated)} more than once; give each topic once")
    wanted = [key for key in ("seed_topics", "zero_shot") if settings.get(key)]
    if wanted and modality is not None and modality != TEXT:
        problems.append(
            f"topics.{wanted[0]} needs text documents (their words and an encoder that embeds text), and the "
            f"data gives {modality} items; remove topics.{wanted[0]}"
        )
    if wanted and refiner is not None:
        problems.append(
            f"topics.{wanted[0]} shapes the clusters before the clusterer, and refiner={refiner} redraws them; "
            f"use refiner=none or remove topics.{wanted[0]}"
        )
    return problems


class Guidance(Plugin):
    """The guidance settings of the topics group (see the module docstring); ``fit`` gives a :class:`GuidedFit`."""

    parameters = GUIDANCE_SETTINGS
    group = "topics"

    def __init__(
        self,
        seed_topics: Sequence[Sequence[str]] = (),
        seed_weight: float = SEED_WEIGHT,
        zero_shot: Sequence[str] = (),
        zero_shot_min_similarity: float = ZERO_SHOT_MIN_SIMILARITY,
    ):
        self.seed_topics = [list(words) for words in seed_topics]
        self.seed_weight = seed_weight
        self.zero_shot = list(zero_shot)
        self.zero_shot_min_similarity = zero_shot_min_similarity

    @property
    def active(self) -> bool:
        return bool(self.seed_topics or self.zero_shot)

    def problems(self, modality: str | None, refiner: Plugin | None, own_vectors: bool = False) -> list[str]:
        """The problems :func:`guidance_problems` finds, and documents that come with their own vectors
        (``own_vectors``: the encoder then only passes them on, it cannot embed a name or a seed list)."""
        self.check_params()
        problems = guidance_problems(self.get_params(), modality, None if refiner is None else refiner.key())
        if self.active and own_vectors:
            problems.append(
                "topics.seed_topics and topics.zero_shot need an encoder that embeds text, and these documents "
                "come with their own embeddings; fit on the texts alone or remove them"
            )
        return problems

    def fit(self, encoder: Any, dataset: Dataset, embeddings: np.ndarray) -> GuidedFit:
        """Embed the names and the seed lists with the fitted ``encoder``; find the documents each one takes."""
        if not self.active:
            return GuidedFit()
        fitted = GuidedFit(
            names=self.zero_shot,
            name_vectors=embed(encoder, self.zero_shot),
            min_similarity=float(self.zero_shot_min_similarity),
            seed_topics=self.seed_topics,
            seed_vectors=embed(encoder, [" ".join(words) for words in self.seed_topics]),
            seed_weight=float(self.seed_weight),
        )
        fitted.taken_ = fitted.zero_shot_matches(embeddings)
        fitted.seeded_ = fitted.seed_matches(dataset.texts, embeddings)
        fitted.zero_shot_sizes = [int((fitted.taken_ == j).sum()) for j in range(len(fitted.names))]
        fitted.seeded_sizes = [int((fitted.seeded_ == i).sum()) for i in range(len(fitted.seed_topics))]
        fitted.log_fit(len(dataset))
        return fitted


def embed(encoder: Any, texts: list[str]) -> np.ndarray:
    """The fitted encoder's embeddings of short texts (names, seed words joined); (0, 0) for none."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.asarray(encoder.transform(Dataset.from_documents(texts)), dtype=np.float32)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def seed_pattern(words: Sequence[str]) -> re.Pattern:
    """Any of the words or phrases as a whole word, case-insensitive ("nhl" does not match "nhls")."""
    alternatives = "|".join(re.escape(word.strip().lower()) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


class GuidedFit:
    """What guidance fitted: apply it to documents (fit or predict) and name the topics it made.

    Without guidance every method is the identity, so the pipeline calls them unconditionally.
    ``taken_`` / ``seeded_`` (per training document: the name / seed list index, -1 for none) exist after a
    fit only; the rest is the saved state (:meth:`get_state`).
    """

    def __init__(
        self,
        names: Sequence[str] = (),
        name_vectors: np.ndarray | None = None,
        min_similarity: float = ZERO_SHOT_MIN_SIMILARITY,
        seed_topics: Sequence[Sequence[str]] = (),
        seed_vectors: np.ndarray | None = None,
        seed_weight: float = SEED_WEIGHT,
        zero_shot_sizes: Sequence[int] = (),
        seeded_sizes: Sequence[int] = (),
        seed_topic_ids: Sequence[int | None] = (),
    ):
        self.names, self.min_similarity = list(names), float(min_similarity)
        self.name_vectors = np.zeros((0, 0), np.float32) if name_vectors is None else np.asarray(name_vectors)
        self.seed_topics, self.seed_weight = [list(words) for words in seed_topics], float(seed_weight)
        self.seed_vectors = np.zeros((0, 0), np.float32) if seed_vectors is None else np.asarray(seed_vectors)
        self.zero_shot_sizes, self.seeded_sizes = list(zero_shot_sizes), list(seeded_sizes)
        self.seed_topic_ids = list(seed_topic_ids)
        self.taken_: np.ndarray | None = None
        self.seeded_: np.ndarray | None = None

    @property
    def offset(self) -> int:
        """Zero-shot topics take ids 0 .. len(names) - 1; the clusterer's clusters come after them."""
        return len(self.names)

    # ------------------------------------------------------------------ documents

    def zero_shot_matches(self, embeddings: np.ndarray) -> np.ndarray:
        """Per document: the index of the most similar name when the cosine similarity reaches the threshold,
        else -1. Computed in blocks so a memory-mapped corpus is read once and never held twice."""
        matches = np.full(len(embeddings), -1, dtype=np.int64)
        if not self.names:
            return matches
        names = unit_rows(self.name_vectors)
        for start in range(0, len(embeddings), 65_536):
            similarity = unit_rows(embeddings[start : start + 65_536]) @ names.T
            best = similarity.argmax(axis=1)
            took = similarity[np.arange(len(best)), best] >= self.min_similarity
            matches[start : start + len(best)] = np.where(took, best, -1)
        return matches

    def seed_matches(self, texts: Sequence[str] | None, embeddings: np.ndarray) -> np.ndarray:
        """Per document: the seed list it is pulled toward (-1: it contains no seed word). Among several lists
        it contains words of, the one whose embedding is most similar to the document's."""
        matches = np.full(len(embeddings), -1, dtype=np.int64)
        if not self.seed_topics or texts is None:
            return matches
        patterns = [seed_pattern(words) for words in self.seed_topics]
        contains = np.array([[bool(p.search(str(text).lower())) for p in patterns] for text in texts], dtype=bool)
        rows = np.flatnonzero(contains.any(axis=1))
        if len(rows):
            similarity = unit_rows(embeddings[rows]) @ unit_rows(self.seed_vectors).T
            matches[rows] = np.where(contains[rows], similarity, -np.inf).argmax(axis=1)
        return matches

    def steer(self, texts: Sequence[str] | None, embeddings: np.ndarray, seeded: np.ndarray | None = None) -> Any:
        """The embeddings the reducer sees: seeded documents pulled toward their seed list's embedding."""
        if not self.seed_topics:
            return embeddings
        seeded = self.seed_matches(texts, embeddings) if seeded is None else seeded
        rows = np.flatnonzero(seeded >= 0)
        steered = np.array(embeddings, dtype=np.float32)  # a copy: the encoder's output stays as it was
        steered[rows] = (1 - self.seed_weight) * steered[rows] + self.seed_weight * self.seed_vectors[seeded[rows]]
        return steered

    def steer_fitted(self, texts: Sequence[str] | None, embeddings: np.ndarray) -> Any:
        """:meth:`steer` for the training documents, with the seed matches the fit found."""
        return self.steer(texts, embeddings, self.seeded_)

    def rest(self, reduced: np.ndarray, clusterer: Any) -> np.ndarray:
        """The training documents no zero-shot topic took: what the clusterer fits on."""
        if self.taken_ is None or not (self.taken_ >= 0).any():
            return reduced
        left = int((self.taken_ < 0).sum())
        if left == 0:
            raise UserError(
                f"topics.zero_shot took every document (similarity >= {self.min_similarity}), leaving none to "
                "cluster; raise topics.zero_shot_min_similarity"
            )
        clusterer.check_input(left)
        return reduced[self.taken_ < 0]

    def merge(self, cluster_labels: np.ndarray) -> np.ndarray:
        """All training documents' labels: the zero-shot topics, then the clusterer's labels shifted after them."""
        if self.taken_ is None or not self.names:
            return cluster_labels
        labels = self.taken_.copy()
        rest = np.asarray(cluster_labels)
        labels[self.taken_ < 0] = np.where(rest == NOISE, NOISE, rest + self.offset)
        return labels

    def assign(
        self, embeddings: np.ndarray, cluster_labels: np.ndarray, scores: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """New documents: the clusterer's labels shifted, and the zero-shot rule over them (their score NaN:
        a distance or probability of the clusterer says nothing about a name's match)."""
        cluster_labels = np.asarray(cluster_labels)
        if not self.names:
            return cluster_labels, scores
        taken = self.zero_shot_matches(embeddings)
        labels = np.where(cluster_labels == NOISE, NOISE, cluster_labels + self.offset)
        labels = np.where(taken >= 0, taken, labels)
        if scores is not None:
            scores = np.where(taken >= 0, np.nan, np.asarray(scores, dtype=float))
        return labels, scores

    def membership_view(self, clusterer: Any) -> Any:
        """The clusterer as the noise policy and the training probabilities see it: its membership probabilities
        over every training document, in the pipeline's ids, a zero-shot document wholly in its topic."""
        if self.taken_ is None or not self.names:
            return clusterer
        return _ShiftedMembership(clusterer, self)

    def shift(self, ids: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The clusterer's own membership ``(ids, probabilities)`` in the pipeline's ids (after the names)."""
        return np.asarray(ids) + self.offset, probabilities

    def zero_shot_memberships(
        self, ids: np.ndarray, probabilities: np.ndarray, embeddings: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Memberships (pipeline ids) with the zero-shot rule over them: a document a name takes belongs to
        that topic with probability 1, as ``predict`` assigns it."""
        if not self.names:
            return ids, probabilities
        return self.with_names(ids, probabilities, self.zero_shot_matches(embeddings))

    def with_names(self, ids: np.ndarray, probabilities: np.ndarray, taken: np.ndarray) -> tuple[np.ndarray, Any]:
        """Every name's id among the columns (ascending), and the rows a name took one-hot on it."""
        ids = np.asarray(ids, dtype=np.int64)
        probabilities = np.asarray(probabilities, dtype=np.float64).reshape(len(taken), -1)
        missing = np.setdiff1d(np.arange(self.offset), ids)
        ids = np.concatenate([missing, ids])
        probabilities = np.hstack([np.zeros((len(taken), len(missing))), probabilities])
        order = np.argsort(ids, kind="stable")
        ids, probabilities = ids[order], probabilities[:, order]
        rows = np.flatnonzero(taken >= 0)
        probabilities[rows] = 0.0
        probabilities[rows, np.searchsorted(ids, taken[rows])] = 1.0
        return ids, probabilities

    # ------------------------------------------------------------------ topics

    def name_topics(self, topics: Any) -> Any:
        """Label each zero-shot topic by its name and each guided topic by its seed words (``topics``: the
        :class:`~textcluster.topics.model.Topics` of the fit, or None); records which topic each list made."""
        if topics is None:
            return None
        leaves = {leaf["id"]: leaf for leaf in topics.tree.get("leaves", [])}
        for topic in topics.topics:
            if len(topic.clusters) == 1 and 0 <= topic.clusters[0] < self.offset:
                self._relabel(topic, self.names[topic.clusters[0]], leaves)
        self.seed_topic_ids = [self._seeded_topic(topics, i) for i in range(len(self.seed_topics))]
        for words, topic_id in zip(self.seed_topics, self.seed_topic_ids):
            topic = next((topic for topic in topics.topics if topic.id == topic_id), None)
            if topic is not None and topic.label not in self.names:
                size = max(len(topic.label.split(", ")), 1)
                words = list(dict.fromkeys(words + [word for word in topic.keywords if word not in words]))
                self._relabel(topic, ", ".join(words[:size]), leaves)
        return topics

    @staticmethod
    def _relabel(topic: Any, label: str, leaves: dict[int, dict]) -> None:
        topic.label = label
        if len(topic.clusters) == 1 and topic.clusters[0] in leaves:  # the tree's leaf is this topic
            leaves[topic.clusters[0]]["label"] = label

    def _seeded_topic(self, topics: Any, index: int) -> int | None:
        """The topic holding most of seed list ``index``'s documents, when they are at least SEEDED_SHARE of it."""
        if self.seeded_ is None or topics.labels is None or not (self.seeded_ == index).any():
            return None
        ids, counts = np.unique(topics.labels[self.seeded_ == index], return_counts=True)
        best = int(ids[counts.argmax()])
        share = counts.max() / max(int((topics.labels == best).sum()), 1)
        return best if best != NOISE and share >= SEEDED_SHARE else None

    # ------------------------------------------------------------------ state

    def log_fit(self, n_documents: int) -> None:
        for name, size in zip(self.names, self.zero_shot_sizes):
            log.info("topics.zero_shot: %r took %d of %d documents", name, size, n_documents)
        if sum(self.zero_shot_sizes) > BROAD_SHARE * n_documents:  # names of one domain match nearly everything
            log.warning(
                "topics.zero_shot took %d of %d documents: the names match broadly (in a corpus of one domain "
                "everything is similar to every name); raise topics.zero_shot_min_similarity (now %s)",
                sum(self.zero_shot_sizes),
                n_documents,
                self.min_similarity,
            )
        for words, size in zip(self.seed_topics, self.seeded_sizes):
            log.info("topics.seed_topics: %d documents contain a word of [%s]", size, ", ".join(words))

    def get_state(self) -> dict[str, Any] | None:
        """JSON and arrays (see :mod:`textcluster.state`); None without guidance."""
        if not self.names and not self.seed_topics:
            return None
        return {
            "zero_shot": {
                "names": self.names,
                "embeddings": self.name_vectors,
                "min_similarity": self.min_similarity,
                "documents": self.zero_shot_sizes,
            },
            "seed_topics": {
                "words": self.seed_topics,
                "embeddings": self.seed_vectors,
                "weight": self.seed_weight,
                "documents": self.seeded_sizes,
                "topics": self.seed_topic_ids,
            },
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> GuidedFit:
        """What :meth:`get_state` gave (None, or a model saved before guidance existed: no guidance)."""
        if not state:
            return cls()
        zero_shot, seeds = state["zero_shot"], state["seed_topics"]
        return cls(
            names=[str(name) for name in zero_shot["names"]],
            name_vectors=np.asarray(zero_shot["embeddings"]),
            min_similarity=float(zero_shot["min_similarity"]),
            seed_topics=[[str(word) for word in words] for words in seeds["words"]],
            seed_vectors=np.asarray(seeds["embeddings"]),
            seed_weight=float(seeds["weight"]),
            zero_shot_sizes=[int(size) for size in zero_shot["documents"]],
            seeded_sizes=[int(size) for size in seeds["documents"]],
            seed_topic_ids=[None if topic is None else int(topic) for topic in seeds["topics"]],
        )


class _ShiftedMembership:
    """A clusterer fitted on the documents no zero-shot topic took, seen over all training documents."""

    def __init__(self, clusterer: Any, guided: GuidedFit):
        self.clusterer, self.guided = clusterer, guided

    def soft_membership(self) -> tuple[np.ndarray, np.ndarray] | None:
        membership = self.clusterer.soft_membership()
        if membership is None:
            return None
        clusters, probabilities = membership
        taken = self.guided.taken_
        probabilities = np.asarray(probabilities, dtype=np.float64).reshape(int((taken < 0).sum()), -1)
        full = np.zeros((len(taken), probabilities.shape[1]))
        full[taken < 0] = probabilities
        return self.guided.with_names(*self.guided.shift(clusters, full), taken)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.clusterer, name)
