"""hdbscan's prediction data with its neighbour searches done by faiss, for points of many dimensions.

hdbscan's ``PredictionData`` asks a scikit-learn KDTree for each point's core distance (its ``min_samples``
nearest), and ``approximate_predict`` asks it for each new point's ``2 x min_samples`` nearest. Above a few
tens of dimensions a KDTree prunes almost nothing and measures nearly every pair on one core, for minutes
at 10,000 sentence embeddings. faiss' exact search answers the same questions on every core. Imported when
an HDBSCAN model is built: it imports hdbscan.
"""

from __future__ import annotations

import numpy as np
from hdbscan.prediction import PredictionData

from textcluster.neighbours import ExactNeighbours, nearest_in


class ExactSearchTree:
    """The one method hdbscan's prediction code calls on its tree, ``query(X, k)`` -> ``(distances, indices)``,
    answered by faiss' exact euclidean search over ``data``."""

    def __init__(self, data: np.ndarray, metric: str = "euclidean", **_metric_kwargs):
        self.index = ExactNeighbours(data, metric)

    def query(self, X: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        indices, distances = nearest_in(self.index, X, k)
        return distances.astype(np.float64), indices.astype(np.intp)


class ExactSearchPredictionData(PredictionData):
    """hdbscan's prediction data (exemplars, cluster tree, core distances) with an :class:`ExactSearchTree`."""

    _tree_type_map = {"kdtree": ExactSearchTree, "balltree": ExactSearchTree}


def exact_search_prediction_data(model) -> PredictionData:
    """What ``model.generate_prediction_data()`` makes for a euclidean ``hdbscan.HDBSCAN``, searched by faiss."""
    min_samples = model.min_samples or model.min_cluster_size
    return ExactSearchPredictionData(model._raw_data, model.condensed_tree_, min_samples, metric="euclidean")
