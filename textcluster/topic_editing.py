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
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textcluster.dataset import Dataset
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
            from textcluster.clusterers.memberships import nearest_part  # in blocks: no (n, parts, d) array

            nearest = nearest_part(np.asarray(embeddings)[members], np.asarray(edit["centres"], dtype=np.float64))
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
        from textcluster.topics.model import TopicModeler

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


# ------------------------------------------------------------------------------------- new documents

NEW_TOPIC_SHARE = 0.25
"""New documents that fit no cluster form a new topic when a dense group of them (HDBSCAN) holds at least this
share of the fit's average cluster (its documents over its clusters), and at least :data:`MIN_SPLIT_MEMBERS`.
About half of the posts of a class the fit never saw fit no cluster
(:data:`~textcluster.clusterers.memberships.FIT_QUANTILE`), so this asks for a batch holding about half an
average topic's worth of the new topic's documents. The fit's average, fixed, and not the smallest topic now:
each small new topic would lower the bar for the next. A smaller group joins the clusters nearest to it, and
an update with more of its documents can still make it a topic."""


class TopicUpdates:
    """``partial_fit``: new documents as they arrive (a mixin of :class:`textcluster.pipeline.Pipeline`)."""

    def partial_fit(self, documents, embeddings=None):
        """Assign new documents to the fitted clusters and move the centres they join; dense groups of the
        ones that fit none become new clusters and topics. The earlier documents keep their topics, and
        predict follows (the new centres are the clusterer's). ``updates_[-1]`` says what changed: new topics,
        grown topics, how far each cluster's centre moved (in units of its radius). Returns self."""
        self._check_updatable()
        dataset = Dataset.from_documents(documents)
        if embeddings is not None:  # your own vectors beside the texts (a fit(texts, embeddings=...) pipeline)
            dataset = dataclasses.replace(dataset, vectors=Dataset.from_documents(embeddings).vectors)
        prediction = self.predict_details(dataset)
        reduced, labels = np.asarray(prediction.reduced, dtype=np.float64), np.array(prediction.labels)
        geometry = self.cluster_geometry_
        rows = np.searchsorted(geometry.ids, prediction.cluster_labels)
        offsets = reduced - geometry.centres[rows]
        fits = np.sqrt(np.einsum("ij,ij->i", offsets, offsets)) <= geometry.radii[rows]
        drift = self._move_centres(prediction, rows, fits)
        groups = _dense_groups(reduced[~fits], self._new_topic_size(), self.seed)
        new_topics = self._add_clusters(prediction, np.flatnonzero(~fits), groups, labels)
        if new_topics:  # every new document as predict now places it: a group's neighbours join its topic too
            clusters = np.asarray(self.clusterer_.predict_scores(reduced)[0])
            labels = self._finalize(clusters, np.asarray(prediction.embeddings))
            new_topics = {topic: int((labels == int(topic)).sum()) for topic in new_topics}
        self.updates_.append(
            {
                "documents": len(labels),
                "fitted": int(fits.sum()),
                "unfit": int((~fits).sum()),
                "new_topics": new_topics,
                "grown": _counts(labels[fits & ~np.isin(labels, [int(topic) for topic in new_topics])]),
                "drift": drift,
            }
        )
        self._extend_corpus(prediction, labels)
        log.info("partial_fit: %d documents, %d fit a cluster, %d new topics", len(labels), fits.sum(), len(new_topics))
        return self

    def _check_updatable(self) -> None:
        self._check_editable()
        if self.refiner_ is not None or getattr(self.guidance_, "names", None):
            raise UserError("partial_fit does not follow a refiner or zero-shot topics (topics.zero_shot) yet; refit")
        if getattr(self, "documents_", None) is None:
            raise UserError(
                "a loaded model holds no documents: call refresh_topics(documents=<the texts of the fit>) first, "
                "then partial_fit"
            )
        if getattr(self, "cluster_geometry_", None) is None:
            raise UserError("this model was saved before partial_fit existed; fit it again")
        _centre_table(self.clusterer_)  # refuses a clusterer without centres

    def _new_topic_size(self) -> int:
        average = self.fit_info_["n_samples"] / max(self.fit_info_["n_clusters"], 1)
        return max(MIN_SPLIT_MEMBERS, int(NEW_TOPIC_SHARE * average))

    def _move_centres(self, prediction, rows: np.ndarray, fits: np.ndarray) -> dict[str, float]:
        """Running means of the clusters the fitting documents join: the clusterer's centres and the geometry's
        (the clustered space), the noise centres (the encoder's). Returns how far each centre moved, in units
        of its radius."""
        geometry, drift = self.cluster_geometry_, {}
        ids, centres = _centre_table(self.clusterer_)
        noise_ids, noise_centres = self.noise_centres_[0], np.array(self.noise_centres_[1], dtype=np.float64)
        reduced, vectors = np.asarray(prediction.reduced), np.asarray(prediction.embeddings, dtype=np.float64)
        for row in np.unique(rows[fits]):
            joined, cluster = fits & (rows == row), geometry.ids[row]
            step = joined.sum() / (geometry.sizes[row] + joined.sum())
            shift = step * (reduced[joined].mean(axis=0) - geometry.centres[row])
            geometry.centres[row] += shift
            centres[ids == cluster] += shift
            at = noise_ids == cluster
            noise_centres[at] += step * (vectors[joined].mean(axis=0) - noise_centres[at])
            geometry.sizes[row] += joined.sum()
            drift[str(int(cluster))] = round(float(np.linalg.norm(shift) / max(geometry.radii[row], 1e-12)), 4)
        _set_centre_table(self.clusterer_, ids, centres)
        self.noise_centres_ = (noise_ids, noise_centres)
        return drift

    def _add_clusters(self, prediction, unfit: np.ndarray, groups: np.ndarray, labels: np.ndarray) -> dict[str, int]:
        """Each dense group of unfit documents becomes a cluster of the clusterer and a topic; returns topic ->
        size. The new centres join the clusterer's, so predict assigns to them like to any other."""
        from textcluster.clusterers.memberships import ClusterGeometry, DistanceRule

        if not (groups >= 0).any():
            return {}
        grouped, members = unfit[groups >= 0], groups[groups >= 0]
        added = ClusterGeometry.fit(np.asarray(prediction.reduced)[grouped], members)
        groups_found = added.ids.copy()
        ids, centres = _centre_table(self.clusterer_)
        new_ids = np.arange(len(added.ids)) + (int(ids.max()) + 1 if len(ids) else 0)
        first = 1 + max([int(topic.id) for topic in self.topics_.topics] + list(self.topic_mapping_.values()))
        topics = np.arange(len(added.ids)) + first
        _set_centre_table(self.clusterer_, np.concatenate([ids, new_ids]), np.vstack([centres, added.centres]))
        geometry = self.cluster_geometry_
        added.ids = new_ids  # the clusterer's ids for the groups
        self.cluster_geometry_ = ClusterGeometry(
            *(np.concatenate([old, new]) for old, new in zip(_fields(geometry), _fields(added)))
        )
        vectors = np.asarray(prediction.embeddings, dtype=np.float64)[grouped]
        noise_ids, noise_centres = self.noise_centres_
        means = np.stack([vectors[members == group].mean(axis=0) for group in groups_found])
        self.noise_centres_ = (np.concatenate([noise_ids, new_ids]), np.vstack([noise_centres, means]))
        sizes = self.cluster_geometry_.sizes.astype(np.float64)
        rule = self.membership_rule_
        self.membership_rule_ = DistanceRule(
            self.cluster_geometry_.ids, self.cluster_geometry_.centres, rule.variance, np.log(sizes / sizes.sum())
        )
        self.topic_mapping_.update({int(c): int(t) for c, t in zip(new_ids, topics)})
        for group, topic in zip(groups_found, topics):
            labels[grouped[members == group]] = topic
        return {str(int(topic)): int(size) for topic, size in zip(topics, added.sizes)}

    def _extend_corpus(self, prediction, labels: np.ndarray) -> None:
        """The fitted documents plus the new ones (topics computed again over both; old labels kept)."""
        texts = list(self.documents_) + list(prediction.dataset.texts)
        embeddings = np.concatenate([np.asarray(self.embeddings_), np.asarray(prediction.embeddings)])
        if getattr(self, "reduced_", None) is not None and len(self.reduced_) == len(self.documents_):
            self.reduced_ = np.concatenate([np.asarray(self.reduced_), np.asarray(prediction.reduced)])
        every = np.concatenate([self.labels_, labels])
        self._refit(Corpus(texts, embeddings, every), every)


def _fields(geometry) -> tuple[np.ndarray, ...]:
    return geometry.ids, geometry.centres, geometry.sizes, geometry.radii


def _centre_table(clusterer) -> tuple[np.ndarray, np.ndarray]:
    """``(cluster ids, centres)`` a clusterer predicts with (copies), for k-means-like and centroid clusterers."""
    if hasattr(clusterer, "cluster_centers_"):
        centres = np.array(clusterer.cluster_centers_, dtype=np.float64)
        return np.arange(len(centres)), centres
    if hasattr(clusterer, "centroids_"):
        return np.asarray(clusterer.centroid_labels_), np.array(clusterer.centroids_, dtype=np.float64)
    raise UserError(
        f"partial_fit moves cluster centres, and clusterer={clusterer.key()} predicts without them; "
        "fit with clusterer=kmeans (the default), minibatch_kmeans, spectral or leiden"
    )


def _set_centre_table(clusterer, ids: np.ndarray, centres: np.ndarray) -> None:
    if hasattr(clusterer, "cluster_centers_"):  # ids are 0..k-1 here, new clusters append
        clusterer.cluster_centers_ = centres.astype(np.asarray(clusterer.cluster_centers_).dtype)
    else:
        clusterer.centroid_labels_, clusterer.centroids_ = ids, centres.astype(np.asarray(clusterer.centroids_).dtype)


def _dense_groups(points: np.ndarray, min_size: int, seed: int) -> np.ndarray:
    """HDBSCAN's groups among new documents (-1: in none); nothing under ``min_size`` documents."""
    if len(points) < min_size:
        return np.full(len(points), NOISE)
    from sklearn.cluster import HDBSCAN

    # one group may be the whole batch (documents of one new topic arriving together)
    return HDBSCAN(min_cluster_size=min_size, allow_single_cluster=True, copy=True).fit_predict(points)


def _counts(labels: np.ndarray) -> dict[str, int]:
    ids, counts = np.unique(labels, return_counts=True)
    return {str(int(i)): int(n) for i, n in zip(ids, counts)}
