"""Evaluator plugins: ``evaluate(run) -> {name: value}``, one signature for all.

External evaluators compare with true labels; internal ones judge the
geometry of the clustering in the space that was clustered; topic evaluators
read a text run's topics. An evaluator that cannot run raises
:class:`~textcluster.contracts.SkipEvaluation` with the reason, which the run reports.
"""

from __future__ import annotations

import numpy as np

from textcluster.contracts import Evaluator, SkipEvaluation
from textcluster.dataset import IMAGE
from textcluster.evaluation.metrics import clustering_accuracy, density_based_validity, purity
from textcluster.evaluation.scoring import NO_TRUE_LABELS
from textcluster.labels import NOISE, cluster_ids, noise_fraction
from textcluster.params import Int
from textcluster.registry import evaluators
from textcluster.results import EvaluationInput


class ExternalMetric(Evaluator):
    """Wraps ``score_fn(labels_true, labels_pred)``; noise is one more cluster unless the metric says otherwise."""

    parameters = {}
    score_fn = staticmethod(lambda labels_true, labels_pred: 0.0)

    def evaluate(self, run: EvaluationInput) -> dict[str, float]:
        if run.true_labels is None:
            raise SkipEvaluation(NO_TRUE_LABELS)
        return {self.key(): float(self.score_fn(run.true_labels, run.labels))}


def sklearn_metric(name: str):
    """``sklearn.metrics.<name>``, imported when it scores (checking a config imports no scikit-learn)."""

    def score(labels_true, labels_pred) -> float:
        from sklearn import metrics

        return getattr(metrics, name)(labels_true, labels_pred)

    score.__name__ = name
    return score


EXTERNAL_METRICS = {
    "acc": clustering_accuracy,
    "nmi": sklearn_metric("normalized_mutual_info_score"),
    "ari": sklearn_metric("adjusted_rand_score"),
    "ami": sklearn_metric("adjusted_mutual_info_score"),
    "homogeneity": sklearn_metric("homogeneity_score"),
    "completeness": sklearn_metric("completeness_score"),
    "v_measure": sklearn_metric("v_measure_score"),
    "purity": purity,
}
for _key, _fn in EXTERNAL_METRICS.items():
    # __module__ named here: type() through ABCMeta would record "abc", which names no module of ours
    _body = {"score_fn": staticmethod(_fn), "__module__": __name__}
    evaluators.register(_key)(type(f"{_key.title()}Metric", (ExternalMetric,), _body))


class InternalMetric(Evaluator):
    """Wraps ``score(X, labels)`` on the clustered (non-noise) points; needs 2 to n-1 clusters.

    Above ``sample_size`` clustered points it scores a seeded sample of them (drawn as scikit-learn's
    ``silhouette_score(sample_size=...)`` draws it), so its cost and memory stop growing with the corpus;
    the rows are gathered once, never the whole space copied.
    """

    parameters = {"sample_size": Int(min=2), "random_state": Int(min=0)}
    default_sample_size = 100_000

    def __init__(self, sample_size: int | None = None, random_state: int = 0):
        self.sample_size = self.default_sample_size if sample_size is None else sample_size
        self.random_state = random_state

    def score(self, X: np.ndarray, labels: np.ndarray) -> float:
        raise NotImplementedError

    def rows(self, labels: np.ndarray) -> np.ndarray | slice:
        """The rows scored: every clustered one, or a seeded sample of ``sample_size`` of them."""
        clustered = labels != NOISE
        if clustered.all() and len(labels) <= self.sample_size:
            return slice(None)  # the space as it is: no copy
        rows = np.flatnonzero(clustered)
        if len(rows) > self.sample_size:
            from sklearn.utils import check_random_state

            rows = np.sort(rows[check_random_state(self.random_state).permutation(len(rows))[: self.sample_size]])
        return rows

    def evaluate(self, run: EvaluationInput) -> dict[str, float]:
        rows = self.rows(np.asarray(run.labels))
        labels = np.asarray(run.labels)[rows]
        n_clusters = len(np.unique(labels))
        if n_clusters < 2 or n_clusters >= len(labels):
            raise SkipEvaluation(f"needs 2 to n-1 clusters, found {n_clusters} among {len(labels)} clustered points")
        return {self.key(): float(self.score(np.asarray(run.space[rows]), labels))}


@evaluators.register("silhouette")
class Silhouette(InternalMetric):
    """Silhouette coefficient (O(n^2), hence the small default sample)."""

    default_sample_size = 5000

    def score(self, X, labels):
        from sklearn.metrics import silhouette_score

        return silhouette_score(X, labels)


@evaluators.register("calinski_harabasz")
class CalinskiHarabasz(InternalMetric):
    def score(self, X, labels):
        from sklearn.metrics import calinski_harabasz_score

        return calinski_harabasz_score(X, labels)


@evaluators.register("davies_bouldin")
class DaviesBouldin(InternalMetric):
    def score(self, X, labels):
        from sklearn.metrics import davies_bouldin_score

        return davies_bouldin_score(X, labels)


@evaluators.register("dbcv")
class DensityBasedValidity(InternalMetric):
    """DBCV, density-based clustering validation (Moulavi et al. 2014; ``hdbscan.validity.validity_index``'s
    index, computed by :func:`~textcluster.evaluation.metrics.density_based_validity`):
    from -1 to 1, high when clusters are dense inside and separated by sparse regions. Unlike silhouette it
    does not favour round clusters, so it is the criterion for density clusterers. O(n^2) per cluster."""

    default_sample_size = 5000

    def score(self, X, labels):
        labels = np.asarray(labels).copy()
        ids, sizes = np.unique(labels, return_counts=True)
        labels[np.isin(labels, ids[sizes < 2])] = NOISE  # one point has no density to judge: noise, as hdbscan's
        if len(cluster_ids(labels)) < 2:
            raise SkipEvaluation("DBCV needs 2 clusters of at least 2 points")
        # hdbscan's validity_index, with core distances that do not overflow in many dimensions
        value = density_based_validity(X, labels)
        if not np.isfinite(value):
            raise SkipEvaluation("DBCV is undefined here (a cluster of identical points)")
        return value


@evaluators.register("cluster_counts")
class ClusterCounts(Evaluator):
    """Number of clusters found (noise excluded) and the share of points labelled noise."""

    parameters = {}

    def evaluate(self, run: EvaluationInput) -> dict[str, float]:
        return {"n_clusters": float(len(cluster_ids(run.labels))), "noise_fraction": noise_fraction(run.labels)}


class TopicMetric(Evaluator):
    """Base of the topic metrics: needs a text run's topics, skips otherwise."""

    parameters = {"top_n": Int(min=1)}

    def __init__(self, top_n: int = 10):
        self.top_n = top_n

    def topics(self, run: EvaluationInput):
        if run.texts is None or run.modality == IMAGE:
            raise SkipEvaluation(f"topic metrics need text data (this run has {run.modality} data without texts)")
        if run.topics is None:
            raise SkipEvaluation("no topics were computed for this run")
        if not any(run.topics.top_words(self.top_n)):
            raise SkipEvaluation("no topic has keywords (every document is noise, or the vocabulary is empty)")
        return run.topics


@evaluators.register("npmi")
class NPMICoherence(TopicMetric):
    """Mean NPMI coherence of the topics' top-N keywords (see :mod:`textcluster.topics.coherence`)."""

    def evaluate(self, run: EvaluationInput) -> dict[str, float]:
        scores = list(self.topics(run).coherence(self.top_n).values())
        if not scores:
            raise SkipEvaluation("every topic has fewer than two keywords")
        return {"npmi": float(np.mean(scores))}


@evaluators.register("topic_diversity")
class TopicDiversity(TopicMetric):
    """Share of distinct words among all topics' top-N keywords."""

    def evaluate(self, run: EvaluationInput) -> dict[str, float]:
        topics = self.topics(run)
        n_topics = sum(1 for words in topics.top_words(self.top_n) if words)
        if n_topics < 2:
            raise SkipEvaluation(f"needs at least 2 topics, found {n_topics}")
        return {"topic_diversity": float(topics.diversity(self.top_n))}
