"""Local plugin example: the ``cluster_balance`` evaluator.

Used with ``plugins_dir=plugins/local_example``: textcluster imports every ``*.py`` in that
folder (so the decorator below registers the key) and adds the folder to Hydra's config
search path (so ``evaluation=with_balance`` finds ``evaluation/with_balance.yaml``).
"""

from __future__ import annotations

import numpy as np

from textcluster.contracts import Evaluator, SkipEvaluation
from textcluster.labels import NOISE
from textcluster.registry import evaluators
from textcluster.results import EvaluationInput


def normalized_entropy(labels: np.ndarray) -> float:
    """Entropy of the cluster-size distribution divided by log(number of clusters): 1.0 = all equal."""
    _, sizes = np.unique(labels, return_counts=True)
    if len(sizes) < 2:
        raise ValueError("normalized entropy needs at least 2 clusters")
    p = sizes / sizes.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(sizes)))


@evaluators.register("cluster_balance")
class ClusterBalance(Evaluator):
    """How evenly points spread over clusters (noise excluded): 1.0 = perfectly balanced, near 0 = one giant cluster."""

    parameters = {}  # it takes no settings

    def evaluate(self, run: EvaluationInput) -> dict[str, float]:
        labels = np.asarray(run.labels)
        labels = labels[labels != NOISE]
        n_clusters = len(np.unique(labels))
        if n_clusters < 2:
            raise SkipEvaluation(f"needs at least 2 clusters, found {n_clusters}")
        return {"cluster_balance": normalized_entropy(labels)}
