"""Cluster labels: the noise label and the few computations every stage does on labels."""

from __future__ import annotations

import numpy as np

NOISE = -1
"""The label of a point that belongs to no cluster (DBSCAN, HDBSCAN)."""


def cluster_ids(labels: np.ndarray) -> np.ndarray:
    """The distinct cluster labels, sorted, noise left out."""
    labels = np.asarray(labels)
    return np.unique(labels[labels != NOISE])


def cluster_centres(points: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cluster ids, centres)``: the mean of each cluster's points (noise left out), in id order.

    With no cluster at all the centres are an empty ``(0, d)`` array.
    """
    points, labels = np.asarray(points), np.asarray(labels)
    ids = cluster_ids(labels)
    if len(ids) == 0:
        return ids, np.zeros((0, points.shape[1]), dtype=np.float64)
    return ids, np.stack([points[labels == cluster].mean(axis=0) for cluster in ids])


def noise_fraction(labels: np.ndarray) -> float:
    labels = np.asarray(labels)
    return float(np.mean(labels == NOISE)) if len(labels) else 0.0
