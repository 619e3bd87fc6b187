"""Metric functions that scikit-learn does not provide (scikit-learn and scipy imported when they score)."""

from __future__ import annotations

import numpy as np

from textcluster.labels import NOISE


def clustering_accuracy(labels_true, labels_pred) -> float:
    """Unsupervised clustering accuracy: the best one-to-one cluster->class map (Hungarian method).

    Noise points (label -1) are never matched, so they count as errors.
    """
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics.cluster import contingency_matrix

    labels_true, labels_pred = np.asarray(labels_true), np.asarray(labels_pred)
    clustered = labels_pred != NOISE
    if not clustered.any():
        return 0.0
    table = contingency_matrix(labels_true[clustered], labels_pred[clustered])
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(labels_true))


def purity(labels_true, labels_pred) -> float:
    """Share of points whose cluster's majority class is their own class (noise counts as one cluster)."""
    from sklearn.metrics.cluster import contingency_matrix

    table = contingency_matrix(np.asarray(labels_true), np.asarray(labels_pred))
    return float(table.max(axis=0).sum() / table.sum())
