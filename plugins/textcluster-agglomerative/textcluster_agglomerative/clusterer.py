"""The ``agglomerative`` clusterer: scikit-learn's AgglomerativeClustering behind textcluster's contract."""

from __future__ import annotations

import numpy as np

from textcluster.clusterers import Clusterer, NearestCentroidFallback
from textcluster.errors import UserError

LINKAGES = ("ward", "complete", "average", "single")


# NearestCentroidFallback comes first so its predict() and predict_method="nearest_centroid"
# win over Clusterer's defaults: agglomerative clustering has no rule for new points.
class AgglomerativeClusterer(NearestCentroidFallback, Clusterer):
    """Agglomerative clustering; ``n_clusters=None`` means "as many as true classes" (like kmeans).

    Registered under the key ``agglomerative`` by this package's entry point
    (group ``textcluster.clusterers``), not by a decorator.
    """

    def __init__(self, n_clusters: int | None = None, linkage: str = "ward", metric: str = "euclidean"):
        self.n_clusters, self.linkage, self.metric = n_clusters, linkage, metric

    def fit(self, X: np.ndarray, y=None) -> "AgglomerativeClusterer":
        from sklearn.cluster import AgglomerativeClustering

        if self.n_clusters is None:
            raise UserError("agglomerative needs clusterer.n_clusters=<k> (this data has no labels to take k from)")
        if self.linkage not in LINKAGES:
            raise UserError(f"clusterer.linkage must be one of {', '.join(LINKAGES)}, got {self.linkage!r}")
        if self.linkage == "ward" and self.metric != "euclidean":
            raise UserError(f"linkage=ward only works with metric=euclidean, got {self.metric!r}; "
                            "set clusterer.metric=euclidean or pick another clusterer.linkage")
        self.check_n_clusters(X)
        X = np.asarray(X)
        self.model_ = AgglomerativeClustering(n_clusters=self.n_clusters, linkage=self.linkage,
                                              metric=self.metric).fit(X)
        self.labels_ = self.model_.labels_
        self._fit_centroids(X)
        return self
