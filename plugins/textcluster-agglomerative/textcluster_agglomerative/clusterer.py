"""The ``agglomerative`` clusterer: scikit-learn's AgglomerativeClustering behind textcluster's contract."""

from __future__ import annotations

import numpy as np

from textcluster.clusterers import N_CLUSTERS, Clusterer, NearestCentroidFallback
from textcluster.errors import UserError
from textcluster.params import Choice, Str

LINKAGES = ("ward", "complete", "average", "single")


# NearestCentroidFallback comes first so its predict_scores() and predict_method="nearest_centroid"
# win over Clusterer's: agglomerative clustering has no rule for new points.
class AgglomerativeClusterer(NearestCentroidFallback, Clusterer):
    """Agglomerative clustering; ``n_clusters`` takes a number, ``auto`` or ``labels``, as for kmeans.

    Registered under the key ``agglomerative`` by this package's entry point
    (group ``textcluster.clusterers``), not by a decorator. Its fitted state
    (the cluster means new points are assigned to) is arrays, so runs with it
    save a model like the built-ins.
    """

    parameters = {"n_clusters": N_CLUSTERS, "linkage": Choice(*LINKAGES), "metric": Str()}

    def __init__(self, n_clusters: int | str = "auto", linkage: str = "ward", metric: str = "euclidean"):
        self.n_clusters, self.linkage, self.metric = n_clusters, linkage, metric

    def fit(self, X: np.ndarray) -> AgglomerativeClusterer:
        from sklearn.cluster import AgglomerativeClustering

        if not isinstance(self.n_clusters, int):
            raise UserError(
                f"agglomerative was fitted with clusterer.n_clusters={self.n_clusters!r}; the pipeline settles auto "
                "and labels into a number: fit it through a Pipeline, or give clusterer.n_clusters=<k>"
            )
        if self.linkage == "ward" and self.metric != "euclidean":
            raise UserError(
                f"linkage=ward only works with metric=euclidean, got {self.metric!r}; "
                "set clusterer.metric=euclidean or pick another clusterer.linkage"
            )
        X = np.asarray(X)
        self.labels_ = (
            AgglomerativeClustering(n_clusters=self.n_clusters, linkage=self.linkage, metric=self.metric).fit(X).labels_
        )
        self.fit_centroids(X)
        return self
