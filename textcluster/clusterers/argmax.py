"""``clusterer=argmax``: each item joins the cluster of its largest coordinate (one cluster per topic).

Made for embeddings that are mixtures, such as the document-topic rows of
``encoder=lda`` / ``encoder=nmf``: the label of a row is the index of its
largest value, so there are at most as many clusters as columns, and a topic
that is no document's largest simply gives no cluster. Ties go to the lowest
index (numpy's argmax). A new point is labelled by the same rule (native
predict), its score the largest value (the topic's share of the document:
a probability for a mixture). There is nothing to fit and no parameter.
"""

from __future__ import annotations

import numpy as np

from textcluster.contracts import Clusterer
from textcluster.errors import UserError
from textcluster.registry import clusterers


@clusterers.register("argmax")
class ArgmaxClusterer(Clusterer):
    """Label = the index of each row's largest value; score = that value."""

    score_name = "probability"
    parameters = {}

    def fit(self, X: np.ndarray) -> ArgmaxClusterer:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] == 0:
            raise UserError(f"clusterer=argmax needs rows with at least one column, got an array of shape {X.shape}")
        self.n_features_in_ = int(X.shape[1])
        self.labels_ = self.predict_scores(X)[0]
        return self

    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The index of each row's largest value, and that value."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise UserError(
                f"clusterer=argmax was fitted on {self.n_features_in_} columns but got an array of shape {X.shape}"
            )
        labels = np.argmax(X, axis=1).astype(np.int64)
        return labels, X[np.arange(len(X)), labels]

    def predict_membership(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(column indices, rows scaled to sum 1)``: a mixture row is its own topic distribution (an LDA row
        already sums to 1; NMF's weights become shares). Negative values count as 0; an all-zero row is uniform."""
        X = np.maximum(np.asarray(X, dtype=np.float64), 0.0)
        totals = X.sum(axis=1, keepdims=True)
        shares = np.divide(X, totals, out=np.full_like(X, 1.0 / X.shape[1]), where=totals > 0)
        return np.arange(X.shape[1]), shares
