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


def core_distances(distances: np.ndarray, dim: int) -> np.ndarray:
    """DBCV's all-points core distance of each point of one cluster, from the cluster's distance matrix.

    ``core_i = (mean over j != i of (1 / d_ij) ** dim) ** (-1 / dim)``, zero distances (the point itself, a
    duplicate) left out of the sum but not of the count, as hdbscan's ``all_points_core_distance`` does. hdbscan
    raises ``1 / d`` to the power ``dim`` as it is, which overflows to inf (distances below 1) or underflows to
    0 (above 1) from a few dozen dimensions on: the core distance then comes out 0 or inf and the index loses its
    meaning, with numpy's overflow warnings. Here each row is divided by its nearest positive distance first:
    every term is at most 1 and the nearest one is exactly 1, so nothing overflows and the sum never vanishes
    (the same value, algebraically: ``core_i = nearest_i * (mean of (nearest_i / d_ij) ** dim) ** (-1 / dim)``).
    """
    n = len(distances)
    scaled = np.where(np.asarray(distances) > 0, distances, np.inf).astype(np.float64, copy=False)
    nearest = scaled.min(axis=1)
    if not np.isfinite(nearest).any():  # every point the same: hdbscan's zeros (the index is then undefined)
        return np.zeros(n)
    # a point at distance 0 from every other makes them all equal (handled above), so every nearest is finite
    # here; the zero distances (inf in ``scaled``) become terms of 0. In place: one n x n buffer, not three
    np.divide(nearest[:, None], scaled, out=scaled)
    np.power(scaled, dim, out=scaled)
    mean = scaled.sum(axis=1) / (n - 1)
    return nearest * mean ** (-1.0 / dim)


def density_based_validity(X: np.ndarray, labels: np.ndarray) -> float:
    """DBCV (Moulavi et al. 2014), the index of ``hdbscan.validity.validity_index`` for euclidean distances,
    with core distances that stay finite in many dimensions (:func:`core_distances`); nan where it is
    undefined (a cluster of identical points beside another at distance 0). Noise points (-1) weigh in the
    average as zeros; each cluster needs at least two points."""
    from hdbscan.validity import internal_minimum_spanning_tree
    from scipy.spatial.distance import cdist

    X, labels = np.asarray(X, dtype=np.float64), np.asarray(labels)
    ids = [cluster for cluster in np.unique(labels) if cluster != NOISE]
    members = {cluster: X[labels == cluster] for cluster in ids}
    core, inner, sparseness = {}, {}, {}
    for cluster, points in members.items():
        distances = cdist(points, points)
        core[cluster] = core_distances(distances, X.shape[1])
        # mutual reachability: the larger of the distance and the two core distances (in place)
        reach = np.maximum(distances, np.maximum.outer(core[cluster], core[cluster]), out=distances)
        nodes, edges = internal_minimum_spanning_tree(reach)
        inner[cluster] = np.asarray(nodes, dtype=np.intp)
        sparseness[cluster] = float(edges[:, 2].max())  # the widest inner edge of the cluster's MST
    separation = dict.fromkeys(ids, np.inf)
    for index, first in enumerate(ids):
        for second in ids[index + 1 :]:
            a, b = inner[first], inner[second]
            reach = np.maximum(
                cdist(members[first][a], members[second][b]), np.maximum.outer(core[first][a], core[second][b])
            )
            closest = float(reach.min())
            separation[first] = min(separation[first], closest)
            separation[second] = min(separation[second], closest)
    total = 0.0
    for cluster in ids:
        widest = max(separation[cluster], sparseness[cluster])
        if widest == 0:
            return float("nan")
        total += len(members[cluster]) / len(labels) * (separation[cluster] - sparseness[cluster]) / widest
    return total
