"""Clusterer plugins (scikit-learn estimator shape)."""

from textcluster.clusterers.base import NOISE, Clusterer, NearestCentroidFallback, predict_with_scores
from textcluster.clusterers import builtin  # noqa: F401  (registers kmeans, dbscan, hdbscan, gmm)

__all__ = ["Clusterer", "NearestCentroidFallback", "NOISE", "predict_with_scores"]
