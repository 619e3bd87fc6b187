"""What becomes of the points a clusterer labels noise (-1): the ``noise`` policies.

* ``keep``: they stay -1 (an "outliers" group in topics, an error for ``acc``).
* ``nearest``: each goes to the cluster whose centre (the mean of its members'
  embeddings, encoder output) is nearest in Euclidean distance; on the
  L2-normalised embeddings of the pretrained encoder that is the cosine rule.
* ``soft``: each goes to the cluster with its highest membership probability,
  where the clusterer gives them (``soft_membership()``; HDBSCAN's
  ``all_points_membership_vectors``); a clusterer without them falls back to
  ``nearest``, with a logged note.

Clustered points never change. When the clusterer found no cluster at all,
there is nothing to assign to and the noise stays (a logged warning). At
predict time both ``nearest`` and ``soft`` send new noise points to the
nearest training cluster centre.
"""

from __future__ import annotations

import logging

import numpy as np

from textcluster.clusterers.base import nearest
from textcluster.contracts import Clusterer, NoisePolicy
from textcluster.labels import NOISE, cluster_centres, noise_fraction
from textcluster.registry import noise_policies
from textcluster.results import NoiseReport

log = logging.getLogger(__name__)


def to_nearest_centre(labels: np.ndarray, embeddings: np.ndarray, ids: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``labels`` with every noise point given the label of the nearest of ``centres`` (``ids`` in order)."""
    labels = np.asarray(labels).copy()
    noise = labels == NOISE
    if noise.any() and len(ids):
        labels[noise] = nearest(np.asarray(embeddings, dtype=np.float64)[noise], ids, centres)[0]
    return labels


def most_probable(labels: np.ndarray, clusters: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Noise points take the cluster of their highest membership probability (columns = ``clusters``)."""
    labels = np.asarray(labels).copy()
    noise = labels == NOISE
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(len(labels), -1)
    if noise.any() and probabilities.shape[1] == len(clusters) and len(clusters):
        labels[noise] = np.asarray(clusters)[probabilities[noise].argmax(axis=1)]
    return labels


class _ReassigningPolicy(NoisePolicy):
    parameters = {}

    def reassign(self, labels: np.ndarray, embeddings: np.ndarray, clusterer: Clusterer | None) -> np.ndarray:
        raise NotImplementedError

    def apply(
        self, labels: np.ndarray, embeddings: np.ndarray, clusterer: Clusterer | None
    ) -> tuple[np.ndarray, NoiseReport]:
        labels = np.asarray(labels)
        before, result = noise_fraction(labels), labels
        if before > 0 and not (labels != NOISE).any():
            log.warning(
                "noise=%s: the clusterer found no cluster, so the %d noise points stay noise", self.key(), len(labels)
            )
        elif before > 0:
            result = self.reassign(labels, embeddings, clusterer)
        report = NoiseReport(self.key(), before, noise_fraction(result))
        log.info("noise=%s: noise fraction %.4f -> %.4f", self.key(), report.fraction_before, report.fraction_after)
        return result, report


@noise_policies.register("keep")
class KeepNoise(NoisePolicy):
    """Noise stays noise."""

    reassigns = False
    parameters = {}

    def apply(self, labels, embeddings, clusterer) -> tuple[np.ndarray, NoiseReport]:
        fraction = noise_fraction(labels)
        return np.asarray(labels), NoiseReport(self.key(), fraction, fraction)


@noise_policies.register("nearest")
class NearestCentre(_ReassigningPolicy):
    """Noise points join the cluster with the nearest centre (mean embedding)."""

    def reassign(self, labels, embeddings, clusterer) -> np.ndarray:
        return to_nearest_centre(labels, embeddings, *cluster_centres(np.asarray(embeddings, np.float64), labels))


@noise_policies.register("soft")
class MostProbable(_ReassigningPolicy):
    """Noise points join their most probable cluster where the clusterer gives memberships, else the nearest."""

    def reassign(self, labels, embeddings, clusterer) -> np.ndarray:
        membership = clusterer.soft_membership() if clusterer is not None else None
        if membership is None:
            log.info(
                "noise=soft: clusterer %s gives no membership probabilities; assigning noise points "
                "to the nearest cluster centre instead",
                type(clusterer).__name__,
            )
            return NearestCentre().reassign(labels, embeddings, clusterer)
        return most_probable(labels, *membership)
