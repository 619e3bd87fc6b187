"""Cluster labels: the noise label and the few computations every stage does on labels."""

from __future__ import annotations

import numpy as np

NOISE = -1
"""The label of a point that belongs to no cluster (DBSCAN, HDBSCAN)."""
CENTRE_BLOCK = 65_536  # rows per block when summing cluster members (bounded float64 copies)


def cluster_ids(labels: np.ndarray) -> np.ndarray:
    """The distinct cluster labels, sorted, noise left out."""
    labels = np.asarray(labels)
    return np.unique(labels[labels != NOISE])


def cluster_centres(points: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cluster ids, centres)``: the mean of each cluster's points (noise left out), in id order.

    With no cluster at all the centres are an empty ``(0, d)`` array.
    """
    import scipy.sparse as sp

    labels = np.asarray(labels)
    ids = cluster_ids(labels)
    if len(ids) == 0:
        return ids, np.zeros((0, points.shape[1]), dtype=np.float64)
    # One pass over the points in blocks (a sparse cluster-membership matrix times each block): no
    # per-cluster copies, so a memory-mapped million-row array is read once and never held twice.
    rows = np.searchsorted(ids, labels)
    sums = np.zeros((len(ids), points.shape[1]), dtype=np.float64)
    for start in range(0, len(labels), CENTRE_BLOCK):
        block = slice(start, start + CENTRE_BLOCK)
        block_labels = labels[block]
        member = np.flatnonzero(block_labels != NOISE)
        shape = (len(ids), len(block_labels))
        indicator = sp.csr_matrix((np.ones(len(member)), (rows[block][member], member)), shape=shape)
        sums += indicator @ np.asarray(points[block], dtype=np.float64)
    counts = np.bincount(rows[labels != NOISE], minlength=len(ids))
    return ids, sums / counts[:, None]


def noise_fraction(labels: np.ndarray) -> float:
    labels = np.asarray(labels)
    return float(np.mean(labels == NOISE)) if len(labels) else 0.0
