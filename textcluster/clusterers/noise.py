"""What happens to the points a clusterer labels noise (-1): the ``noise`` policy.

* ``keep``: they stay -1 (an "outliers" group in topics, an error for ``acc``).
* ``nearest``: each goes to the cluster whose centre (the mean of its members'
  embeddings, encoder output) is nearest in Euclidean distance; on the
  L2-normalised embeddings of the pretrained encoder that is the cosine rule.
* ``soft``: each goes to the cluster with its highest membership probability,
  where the clusterer gives them (``soft_membership()``; HDBSCAN's
  ``all_points_membership_vectors``); a clusterer without them falls back to
  ``nearest``, with a logged note.

Clustered points never change. When the clusterer found no cluster at all,
there is nothing to assign to and the noise stays (a logged warning).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import pairwise_distances_argmin

from textcluster.clusterers.base import NOISE
from textcluster.errors import UserError

log = logging.getLogger(__name__)

NOISE_POLICIES = ("keep", "nearest", "soft")


@dataclass
class NoiseReport:
    policy: str  # the policy asked for
    applied: str  # what ran: keep, nearest, soft, or "nearest (soft unavailable)"
    fraction_before: float
    fraction_after: float


def check_noise_policy(policy: str) -> str:
    if policy not in NOISE_POLICIES:
        raise UserError(f"unknown noise policy {policy!r}; set noise= one of {', '.join(NOISE_POLICIES)}")
    return policy


def nearest_centre(labels: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Noise points take the label of the nearest cluster centre (mean of the members in ``X``)."""
    labels = np.asarray(labels).copy()
    noise = labels == NOISE
    clusters = np.unique(labels[~noise])
    if not noise.any() or len(clusters) == 0:
        return labels
    X = np.asarray(X, dtype=np.float64)
    centres = np.stack([X[labels == c].mean(axis=0) for c in clusters])
    labels[noise] = clusters[pairwise_distances_argmin(X[noise], centres)]
    return labels


def most_probable(labels: np.ndarray, clusters: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Noise points take the cluster of their highest membership probability (columns = ``clusters``)."""
    labels = np.asarray(labels).copy()
    noise = labels == NOISE
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(len(labels), -1)
    if noise.any() and probabilities.shape[1] == len(clusters) and len(clusters):
        labels[noise] = np.asarray(clusters)[probabilities[noise].argmax(axis=1)]
    return labels


def apply_noise_policy(policy: str, labels: np.ndarray, embeddings: np.ndarray, clusterer=None
                       ) -> tuple[np.ndarray, NoiseReport]:
    """``(labels after the policy, report)``; the labels given are not modified."""
    check_noise_policy(policy)
    labels = np.asarray(labels)
    before = float(np.mean(labels == NOISE)) if len(labels) else 0.0
    applied, result = policy, labels
    if policy != "keep" and before > 0:
        if not (labels != NOISE).any():
            log.warning("noise=%s: the clusterer found no cluster, so the %d noise points stay noise",
                        policy, len(labels))
        elif policy == "soft":
            soft = getattr(clusterer, "soft_membership", None)
            membership = soft() if callable(soft) else None
            if membership is None:
                applied = "nearest (soft unavailable)"
                log.info("noise=soft: clusterer %s gives no membership probabilities; assigning noise points "
                         "to the nearest cluster centre instead", type(clusterer).__name__)
                result = nearest_centre(labels, embeddings)
            else:
                result = most_probable(labels, *membership)
        else:
            result = nearest_centre(labels, embeddings)
    after = float(np.mean(result == NOISE)) if len(result) else 0.0
    if policy != "keep":
        log.info("noise=%s: noise fraction %.4f -> %.4f", applied, before, after)
    return result, NoiseReport(policy, applied, before, after)
