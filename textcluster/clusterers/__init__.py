"""Clusterer plugins (``clusterer=<key>``): ``fit(X)`` sets ``labels_``; new points through ``predict_scores``.

Each key's module is imported when the key is first asked for (see :mod:`textcluster.registry`), not here:
the plugin modules import :mod:`textcluster.clusterers.base` through this package, so importing them from
this ``__init__`` would make an import cycle.
"""

from textcluster.clusterers.base import N_CLUSTERS, NearestCentroidFallback
from textcluster.contracts import Clusterer

__all__ = ["Clusterer", "N_CLUSTERS", "NearestCentroidFallback"]

# key -> the module whose decorator registers it (tests/test_registry.py checks the two agree)
PLUGIN_MODULES = {
    "argmax": "argmax",
    "dbscan": "builtin",
    "faiss_kmeans": "scalable",
    "gmm": "builtin",
    "hdbscan": "builtin",
    "kmeans": "builtin",
    "leiden": "graph",
    "minibatch_kmeans": "scalable",
    "spectral": "graph",
}
