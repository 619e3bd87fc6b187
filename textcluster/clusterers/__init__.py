"""Clusterer plugins (``clusterer=<key>``): ``fit(X)`` sets ``labels_``; new points through ``predict_scores``."""

from textcluster.clusterers import argmax, builtin, graph, scalable  # noqa: F401  (register kmeans, spectral, leiden, ...)
from textcluster.clusterers.base import N_CLUSTERS, NearestCentroidFallback
from textcluster.contracts import Clusterer

__all__ = ["Clusterer", "N_CLUSTERS", "NearestCentroidFallback"]
