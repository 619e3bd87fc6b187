"""Iterative classification (Rakib et al. 2020): a classifier retrained on the clusters' cores, round after round.

Each round:

1. every cluster drops its ``outlier_share`` of members farthest from its
   mean (noise points count as outliers from the start);
2. from each cluster's remaining core, at most ``train_share * n / k`` members
   are drawn at random (``train_share`` is drawn per round from its range):
   large clusters are subsampled, so the classifier does not just learn the
   cluster sizes;
3. a multinomial logistic regression trained on those members relabels every
   item outside the training set.

The rounds stop after ``rounds`` or once fewer than ``tol`` of the labels
changed. The encoder is not touched (``trains_encoder`` False): the
classifier reads its embeddings as they are, so the embedding cache still
serves, and the final classifier is what assigns new documents.
"""

from __future__ import annotations

import logging

import numpy as np

from textcluster.contracts import Encoder, Refiner, TrainingContext
from textcluster.dataset import Dataset
from textcluster.labels import NOISE
from textcluster.params import Float, Int, ListOf
from textcluster.progress import track
from textcluster.refiners.base import initial_centers
from textcluster.registry import refiners
from textcluster.results import Refinement

log = logging.getLogger(__name__)

SHARE = Float(min=0, max=1, min_open=True)


@refiners.register("iterative")
class IterativeClassificationRefiner(Refiner):
    """``refiner=iterative``: logistic regression on each cluster's core relabels the rest, for several rounds."""

    trains_encoder = False
    parameters = {
        "rounds": Int(min=1),
        "outlier_share": Float(min=0, max=0.9),
        "train_share": ListOf(SHARE, length=2, ascending=True),
        "C": Float(min=0, min_open=True),
        "max_iter": Int(min=1),
        "tol": Float(min=0, max=1),
        "random_state": Int(min=0),
    }

    def __init__(
        self,
        rounds: int = 20,
        outlier_share: float = 0.1,
        train_share: tuple[float, float] = (0.6, 0.9),
        C: float = 1.0,
        max_iter: int = 300,
        tol: float = 0.001,
        random_state: int = 0,
    ):
        self.rounds, self.outlier_share, self.train_share = rounds, outlier_share, train_share
        self.C, self.max_iter, self.tol, self.random_state = C, max_iter, tol, random_state

    def refine(
        self, encoder: Encoder, dataset: Dataset, embeddings: np.ndarray, labels: np.ndarray, context: TrainingContext
    ) -> Refinement:
        codes = np.asarray(embeddings, dtype=np.float32)
        initial_centers(codes, labels)  # refuses fewer than two clusters with the usual message
        rng = np.random.default_rng(self.random_state)
        current = np.asarray(labels).copy()
        self.changed_ = []
        with track(self.rounds, "iterative classification", unit="rounds") as progress:
            for _ in range(self.rounds):
                classifier, current = self.run_round(codes, current, rng)
                progress.update(1)
                if self.changed_[-1] < self.tol:
                    break
        self.coef_ = classifier.coef_.astype(np.float32)
        self.intercept_ = classifier.intercept_.astype(np.float32)
        self.cluster_ids_ = classifier.classes_.astype(np.int64)
        # The last classifier labels every item, its training rows too: the run's labels are then
        # exactly what the saved model predicts for the same documents.
        current = self.predict_scores(codes)[0]
        log.info(
            "refiner iterative: %d rounds, %d of %d labels differ from the clusterer's",
            len(self.changed_),
            int((current != labels).sum()),
            len(labels),
        )
        return Refinement(codes, current)

    def run_round(self, codes: np.ndarray, labels: np.ndarray, rng: np.random.Generator):
        """One round: train on the cores, relabel the rest; ``(classifier, new labels)``."""
        training = self.training_rows(codes, labels, rng)
        classifier = self.fit_classifier(codes[training], labels[training])
        rest = np.ones(len(codes), dtype=bool)
        rest[training] = False
        relabelled = labels.copy()
        relabelled[rest] = classifier.predict(codes[rest])
        self.changed_.append(float(np.mean(relabelled != labels)))
        return classifier, relabelled

    def training_rows(self, codes: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each cluster's core (its outliers left out), subsampled to at most ``train_share * n / k`` rows."""
        clusters = np.unique(labels[labels != NOISE])
        cap = max(1, int(rng.uniform(*self.train_share) * len(codes) / len(clusters)))
        rows = []
        for cluster in clusters:
            members = np.flatnonzero(labels == cluster)
            core = self.core(codes[members], members)
            rows.append(core if len(core) <= cap else rng.choice(core, cap, replace=False))
        return np.sort(np.concatenate(rows))

    def core(self, member_codes: np.ndarray, members: np.ndarray) -> np.ndarray:
        """The members nearer their mean than the cluster's ``1 - outlier_share`` quantile of distances."""
        distances = np.sum((member_codes - member_codes.mean(axis=0)) ** 2, axis=1)
        return members[distances <= np.quantile(distances, 1.0 - self.outlier_share)]

    def fit_classifier(self, codes: np.ndarray, labels: np.ndarray):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=float(self.C), max_iter=int(self.max_iter)).fit(codes, labels)

    def transform(self, encoder: Encoder, dataset: Dataset) -> np.ndarray:
        """The encoder's embeddings: the classifier reads them unchanged."""
        return np.asarray(encoder.transform(dataset), dtype=np.float32)

    def predict_scores(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The final classifier's most probable cluster and its probability (softmax of the logits)."""
        logits = np.asarray(codes, dtype=np.float32) @ self.coef_.T + self.intercept_
        if logits.shape[1] == 1:  # two classes: scikit-learn keeps one logit for the second class
            logits = np.hstack([np.zeros_like(logits), logits])
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return self.cluster_ids_[probabilities.argmax(axis=1)], probabilities.max(axis=1)
