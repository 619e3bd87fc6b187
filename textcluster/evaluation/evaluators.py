"""Evaluator plugins: ``evaluator(X, labels_pred, labels_true) -> {name: value}``.

External evaluators compare with true labels; internal ones judge the geometry
of the clustering in the space that was clustered; topic evaluators judge a
text run's topics. An evaluator that cannot run raises :class:`SkipEvaluation`
with the reason, which the run reports.

An evaluator that needs more than the three arrays (the texts, the topics)
sets ``uses_context = True`` and is called with a keyword argument
``context``, an :class:`EvaluationContext`; the others keep the plain
three-argument call, so existing plugins need no change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
from sklearn import metrics as skm

from textcluster.clusterers.base import NOISE
from textcluster.evaluation.metrics import clustering_accuracy, purity
from textcluster.registry import evaluators

if TYPE_CHECKING:
    from textcluster.topics import Topics

EXTERNAL, INTERNAL, TOPIC = "external", "internal", "topic"


class SkipEvaluation(Exception):
    """The evaluator cannot run on this input; the message says why."""


@dataclass(frozen=True)
class EvaluationContext:
    """What the pipeline knows beyond (X, labels_pred, labels_true), for evaluators with ``uses_context``.

    ``modality``: "text" or "image"; ``texts``: the documents (text runs);
    ``topics``: the run's :class:`textcluster.topics.Topics` (text runs with the
    topic stage; None otherwise); ``embeddings``: the encoder's output (X is
    the space that was clustered, after the reducer).
    """

    modality: str
    texts: Sequence[str] | None = None
    topics: "Topics | None" = None
    embeddings: np.ndarray | None = None


class Evaluator:
    kind = INTERNAL
    uses_context = False  # True: called as evaluator(X, labels_pred, labels_true, context=EvaluationContext)

    def __call__(self, X: np.ndarray, labels_pred: np.ndarray, labels_true: np.ndarray | None) -> dict[str, float]:
        raise NotImplementedError


class ExternalMetric(Evaluator):
    """Wraps ``score_fn(labels_true, labels_pred)``; noise counts as one more cluster unless the metric says otherwise."""

    kind = EXTERNAL
    score_fn = staticmethod(lambda labels_true, labels_pred: 0.0)

    def __call__(self, X, labels_pred, labels_true):
        if labels_true is None:
            raise SkipEvaluation("no true labels (set data.label_column / data.labels_path)")
        return {self.registry_key: float(self.score_fn(labels_true, labels_pred))}


EXTERNAL_METRICS = {
    "acc": clustering_accuracy,
    "nmi": skm.normalized_mutual_info_score,
    "ari": skm.adjusted_rand_score,
    "ami": skm.adjusted_mutual_info_score,
    "homogeneity": skm.homogeneity_score,
    "completeness": skm.completeness_score,
    "v_measure": skm.v_measure_score,
    "purity": purity,
}
for _key, _fn in EXTERNAL_METRICS.items():
    evaluators.register(_key)(type(f"{_key.title()}Metric", (ExternalMetric,), {"score_fn": staticmethod(_fn)}))


class InternalMetric(Evaluator):
    """Wraps ``score_fn(X, labels)`` on the clustered (non-noise) points; needs 2 to n-1 clusters."""

    kind = INTERNAL

    def score(self, X, labels) -> float:
        raise NotImplementedError

    def __call__(self, X, labels_pred, labels_true):
        clustered = labels_pred != NOISE
        X, labels = X[clustered], labels_pred[clustered]
        n_clusters = len(np.unique(labels))
        if n_clusters < 2 or n_clusters >= len(labels):
            raise SkipEvaluation(f"needs 2 to n-1 clusters, found {n_clusters} among {len(labels)} clustered points")
        return {self.registry_key: float(self.score(X, labels))}


@evaluators.register("silhouette")
class Silhouette(InternalMetric):
    """Silhouette coefficient; computed on a seeded sample above ``sample_size`` points (it is O(n^2))."""

    def __init__(self, sample_size: int = 5000, random_state: int = 0):
        self.sample_size, self.random_state = sample_size, random_state

    def score(self, X, labels):
        sample = self.sample_size if len(X) > self.sample_size else None
        return skm.silhouette_score(X, labels, sample_size=sample, random_state=self.random_state)


@evaluators.register("calinski_harabasz")
class CalinskiHarabasz(InternalMetric):
    def score(self, X, labels):
        return skm.calinski_harabasz_score(X, labels)


@evaluators.register("davies_bouldin")
class DaviesBouldin(InternalMetric):
    def score(self, X, labels):
        return skm.davies_bouldin_score(X, labels)


@evaluators.register("cluster_counts")
class ClusterCounts(Evaluator):
    """Number of clusters found (noise excluded) and the share of points labelled noise."""

    def __call__(self, X, labels_pred, labels_true):
        noise = labels_pred == NOISE
        return {"n_clusters": float(len(np.unique(labels_pred[~noise]))), "noise_fraction": float(noise.mean())}


def evaluate(evaluator_objects: dict[str, Evaluator], X: np.ndarray, labels_pred: np.ndarray,
             labels_true: np.ndarray | None, context: EvaluationContext | None = None
             ) -> tuple[dict[str, float], dict[str, str]]:
    """Run every evaluator; returns (metrics, skipped) where skipped maps key -> reason.

    ``context`` reaches only the evaluators that declare ``uses_context``.
    """
    results: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for key, evaluator in evaluator_objects.items():
        try:
            if getattr(evaluator, "uses_context", False):
                results.update(evaluator(X, labels_pred, labels_true, context=context))
            else:
                results.update(evaluator(X, labels_pred, labels_true))
        except SkipEvaluation as reason:
            skipped[key] = str(reason)
    return results, skipped
