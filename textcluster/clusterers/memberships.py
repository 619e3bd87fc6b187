"""Soft memberships: each document's probability of belonging to each cluster, and from there to each topic.

Two sources, in this order:

* the clusterer's (or refiner's) own probabilities, where its model has them:
  a stage with ``predict_membership(X) -> (cluster ids, probabilities)``
  (GMM's posterior, HDBSCAN's membership vectors, argmax's normalised rows),
  or a refiner with ``predict_proba`` over its ``cluster_ids_`` (DEC's
  Student's t assignment);
* else :class:`DistanceRule`: the posterior of an isotropic Gaussian mixture
  with the clusters' means as centres, one shared variance and the clusters'
  shares of the training documents as priors, in the space the clusterer saw.

Why that rule: it is the probabilistic reading of k-means itself (k-means is
the hard-assignment limit of this mixture as the variance goes to zero), so its
most probable cluster is the nearest centre up to the priors' pull, and it
needs only numbers the fit already has. Which variance: see
:func:`directional_variance` (the textbook one, the mean squared distance to
the own centre per coordinate, makes every posterior 0 or 1 on real
embeddings, whose spread lies in far fewer directions than they have
coordinates). Measured: benchmarks/results/soft-memberships.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from textcluster.labels import CENTRE_BLOCK, NOISE, cluster_centres

NEIGHBOURS = 5  # directions per centre in directional_variance: towards its nearest other centres
VARIANCE_SAMPLE = 5_000  # clustered points directional_variance projects (its cost stays flat at scale)
BLOCK = CENTRE_BLOCK  # rows per block of distances: a (block x k) float64 array at a time, never (n x k) twice


def squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``||x - c||^2`` for every row and centre (float64; the expansion, clipped at 0 against rounding)."""
    points = np.asarray(points, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    # in place on the one (rows x k) array: each temporary of that size cost as much as the product itself
    squared = points @ centres.T
    squared *= -2.0
    squared += np.einsum("ij,ij->i", points, points)[:, None]
    squared += np.einsum("ij,ij->i", centres, centres)
    return np.maximum(squared, 0.0, out=squared)


def directional_variance(
    points: np.ndarray, labels: np.ndarray, ids: np.ndarray, centres: np.ndarray, seed: int = 0
) -> float:
    """The within-cluster variance along the lines joining each centre to its nearest other centres.

    The posterior odds of two clusters depend on a point only through its
    position along the line between their centres (``||x - a||² - ||x - b||²``
    is linear in ``x · (b - a)``; every other direction cancels), so the
    spread that sets how sharp they are is the spread along those lines: the
    two-class linear-discriminant posterior, where the rule's one variance is
    ``u' Σ u`` for the pooled within-cluster covariance Σ and the unit vector u
    between centres. Averaged over each centre's :data:`NEIGHBOURS` nearest
    others (the clusters a document is ever torn between), measured on a
    seeded sample of :data:`VARIANCE_SAMPLE` clustered points.
    """
    labels = np.asarray(labels)
    clustered = np.flatnonzero(labels != NOISE)
    if len(ids) < 2 or len(clustered) < 2:
        return 1.0
    between = squared_distances(centres, centres)
    np.fill_diagonal(between, np.inf)
    nearest = np.argsort(between, axis=1)[:, : min(NEIGHBOURS, len(ids) - 1)]
    pairs = np.unique(np.sort(np.stack([np.repeat(np.arange(len(ids)), nearest.shape[1]), nearest.ravel()], 1)), axis=0)
    directions = centres[pairs[:, 1]] - centres[pairs[:, 0]]
    lengths = np.linalg.norm(directions, axis=1)
    directions = directions[lengths > 0] / lengths[lengths > 0, None]
    rows = np.sort(np.random.default_rng(seed).choice(clustered, min(VARIANCE_SAMPLE, len(clustered)), replace=False))
    residuals = np.asarray(points[rows], dtype=np.float64) - centres[np.searchsorted(ids, labels[rows])]
    variance = float(np.mean((residuals @ directions.T) ** 2)) if len(directions) else 0.0
    return variance if variance > 0 else 1.0


@dataclass(frozen=True)
class DistanceRule:
    """The posterior of an isotropic Gaussian mixture: ``p(k | x) ∝ prior_k · exp(-||x - c_k||² / (2·variance))``.

    Fitted state (plain arrays and a number): ``ids`` (the clusters, the
    columns), ``centres``, ``variance``, ``log_priors``.
    """

    ids: np.ndarray
    centres: np.ndarray
    variance: float
    log_priors: np.ndarray

    @classmethod
    def fit(cls, points: np.ndarray, labels: np.ndarray) -> DistanceRule:
        """From the training points in the clustered space and their cluster labels (noise takes no part)."""
        labels = np.asarray(labels)
        ids, centres = cluster_centres(points, labels)
        sizes = np.bincount(np.searchsorted(ids, labels[labels != NOISE]), minlength=len(ids))
        variance = directional_variance(points, labels, ids, centres)
        log_priors = np.log(np.maximum(sizes, 1) / max(sizes.sum(), 1))
        return cls(ids, centres, variance, log_priors)

    def predict_proba(self, points: np.ndarray) -> np.ndarray:
        """``(n, k)`` probabilities, columns in ``ids`` order; rows sum to 1 (float64)."""
        n = len(points)
        out = np.empty((n, len(self.ids)), dtype=np.float64)
        for start in range(0, n, BLOCK):
            block = np.asarray(points[start : start + BLOCK])
            logits = squared_distances(block, self.centres)
            logits /= -2.0 * self.variance
            logits += self.log_priors
            out[start : start + len(block)] = softmax_in_place(logits)
        return out

    def get_state(self) -> dict[str, Any]:
        return {
            "ids": np.asarray(self.ids, dtype=np.int64),
            "centres": np.asarray(self.centres, dtype=np.float64),
            "variance": float(self.variance),
            "log_priors": np.asarray(self.log_priors, dtype=np.float64),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> DistanceRule | None:
        """The rule :meth:`get_state` kept; None for None (a model saved before soft memberships)."""
        if state is None:
            return None
        return cls(
            np.asarray(state["ids"], dtype=np.int64),
            np.asarray(state["centres"], dtype=np.float64),
            float(state["variance"]),
            np.asarray(state["log_priors"], dtype=np.float64),
        )


def softmax_in_place(logits: np.ndarray) -> np.ndarray:
    """The rows' softmax, written over ``logits`` (float) and returned."""
    logits -= logits.max(axis=1, keepdims=True)  # exp of the largest is 1: no overflow
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def own_membership(stage: Any, points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(cluster ids, probabilities)`` from the stage's own model, or None where it has none."""
    hook = getattr(stage, "predict_membership", None)
    if callable(hook):
        return hook(points)
    if callable(getattr(stage, "predict_proba", None)) and hasattr(stage, "cluster_ids_"):  # DEC, IDEC, contrastive
        return np.asarray(stage.cluster_ids_), np.asarray(stage.predict_proba(points))
    return None


def to_topics(
    cluster_ids: np.ndarray, probabilities: np.ndarray, mapping: Mapping[int, int] | None, topic_ids: np.ndarray
) -> np.ndarray:
    """Cluster probabilities as topic probabilities (columns ``topic_ids``): a topic's probability is the sum of
    its clusters' (merged topics); a cluster that is no topic (a mixture component no document fell in) drops
    out and the rest is renormalised. A row left with nothing (no usable value) gets the uniform distribution."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    probabilities = probabilities.reshape(len(probabilities), -1)
    unusable = np.isnan(probabilities)
    if unusable.any():  # a copy only where needed: nan_to_num copies and checks every value for infinities too
        probabilities = np.where(unusable, 0.0, probabilities)
    sources, targets = _topic_columns(cluster_ids, mapping, topic_ids)
    if np.array_equal(np.sort(targets), np.arange(len(topic_ids))):  # each topic one cluster's (renumbered) column
        out = np.take(probabilities, sources[np.argsort(targets)], axis=1)  # a gather: far cheaper than the sum
    else:  # merged topics: a topic's column is the sum of its clusters'
        out = _sum_into_topics(sources, targets, probabilities, len(topic_ids))
    totals = out.sum(axis=1, keepdims=True)
    empty = totals[:, 0] <= 0
    out[empty] = 1.0 / max(len(topic_ids), 1)
    totals[empty] = 1.0
    out /= totals
    return out


def _topic_columns(
    cluster_ids: np.ndarray, mapping: Mapping[int, int] | None, topic_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(sources, targets)``: the column of each cluster that is a topic and the column of its topic."""
    column = {int(topic): index for index, topic in enumerate(topic_ids)}
    clusters = np.asarray(cluster_ids).tolist()
    topics = [cluster if mapping is None else mapping.get(int(cluster), NOISE) for cluster in clusters]
    sources = [source for source, topic in enumerate(topics) if topic in column]
    return np.array(sources, dtype=np.int64), np.array([column[topics[s]] for s in sources], dtype=np.int64)


def _sum_into_topics(sources: np.ndarray, targets: np.ndarray, probabilities: np.ndarray, n_topics: int) -> np.ndarray:
    """Each topic's column: the sum of its clusters' columns, as one sparse product (adding column by column
    strides over every row once per cluster: seconds for a million rows by hundreds of topics)."""
    from scipy.sparse import csr_matrix

    into = csr_matrix((np.ones(len(sources)), (sources, targets)), shape=(probabilities.shape[1], n_topics))
    return np.asarray(probabilities @ into, dtype=np.float64)


def follow_edits(
    probabilities: np.ndarray, topic_ids: np.ndarray, embeddings: np.ndarray, edits: list[Mapping[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """``(probabilities, topic ids)`` after the topic edits made since the fit (``Pipeline.topic_edits_``, in
    order; columns end up in ascending id order).

    A merge sums the merged topics' columns into the kept id. A split hands its
    topic's probability to the part whose centre is nearest in embedding
    space: the rule that routes the labels (``textcluster.topic_editing``), so
    a document's label and its most probable topic still agree. Renames and
    updates move no document; reducing outliers moves noise, which is no column.
    """
    topic_ids = np.asarray(topic_ids, dtype=np.int64)
    if not edits and np.all(np.diff(topic_ids) > 0):  # nothing to follow, columns already in id order
        return probabilities, topic_ids
    columns = {int(topic): probabilities[:, index] for index, topic in enumerate(topic_ids.tolist())}
    for edit in edits:
        if edit.get("edit") == "merge":
            keep, *gone = (int(topic) for topic in edit["topics"])
            merged = [columns.pop(topic) for topic in [keep, *gone] if topic in columns]
            if merged:
                columns[keep] = np.sum(merged, axis=0)
        elif edit.get("edit") == "split" and int(edit["topic"]) in columns:
            parts = np.asarray(edit["ids"]).astype(np.int64).tolist()
            nearest = nearest_part(embeddings, np.asarray(edit["centres"], dtype=np.float64))
            whole = columns.pop(int(edit["topic"]))
            for index, part in enumerate(parts):
                columns[part] = np.where(nearest == index, whole, 0.0)
    ids = np.array(sorted(columns), dtype=np.int64)
    if not len(ids):
        return np.zeros((len(probabilities), 0)), ids
    return np.stack([columns[int(topic)] for topic in ids], axis=1), ids


def nearest_part(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The index of each point's nearest centre (squared Euclidean), in blocks."""
    out = np.empty(len(points), dtype=np.int64)
    if not len(points):  # no rows (topic_ids_ replays the edits on none): no width to check either
        return out
    for start in range(0, len(points), BLOCK):
        out[start : start + BLOCK] = squared_distances(points[start : start + BLOCK], centres).argmin(axis=1)
    return out


FIT_QUANTILE = 0.95
"""A new document fits a cluster when it is no farther from the centre (in the clustered space) than this
share of the cluster's own documents are (:class:`ClusterGeometry`): 1 in 20 of the fit's own documents would
not. Measured (benchmarks/results/partial-fit.md): where the clustered space is the encoder's (a named
encoder without a reducer), 7-9% of new posts of the fitted classes fall outside against about half of an
unseen class's; in the default recipe's UMAP space the two are alike (18% against 22% on 20 Newsgroups),
because UMAP's transform places a new document among its nearest training neighbours."""


@dataclass
class ClusterGeometry:
    """Each cluster's centre, size and radius (the :data:`FIT_QUANTILE` of its members' distances to the
    centre) in the clustered space: what ``Pipeline.partial_fit`` reads to tell a new document that fits a
    cluster from one that fits none, and moves as documents arrive. The clustered space, because the new
    clusters join the clusterer's and predict assigns there (see :data:`FIT_QUANTILE` for what that costs
    behind a UMAP)."""

    ids: np.ndarray
    centres: np.ndarray
    sizes: np.ndarray
    radii: np.ndarray

    @classmethod
    def fit(cls, points: np.ndarray, labels: np.ndarray) -> ClusterGeometry:
        labels = np.asarray(labels)
        ids, centres = cluster_centres(points, labels)
        members = np.flatnonzero(labels != NOISE)
        rows = np.searchsorted(ids, labels[members])
        distances = np.empty(len(members), dtype=np.float64)
        for start in range(0, len(members), BLOCK):
            block = slice(start, start + BLOCK)
            offsets = np.asarray(points[members[block]], dtype=np.float64) - centres[rows[block]]
            distances[block] = np.sqrt(np.einsum("ij,ij->i", offsets, offsets))
        sizes = np.bincount(rows, minlength=len(ids))
        per_cluster = np.split(distances[np.argsort(rows, kind="stable")], np.cumsum(sizes)[:-1])
        radii = np.array([np.quantile(d, FIT_QUANTILE) if len(d) else 0.0 for d in per_cluster])
        return cls(ids, np.asarray(centres, dtype=np.float64), sizes, radii)

    def get_state(self) -> dict[str, Any]:
        return {name: np.asarray(getattr(self, name)) for name in ("ids", "centres", "sizes", "radii")}

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> ClusterGeometry | None:
        if state is None:
            return None
        return cls(*(np.array(state[name]) for name in ("ids", "centres", "sizes", "radii")))  # writable copies
