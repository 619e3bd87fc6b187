"""Stage orchestration: dataset -> encoder -> reducer -> clusterer -> evaluators. No Hydra here."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from textcluster.data import Dataset
from textcluster.encoders.base import Encoder, TrainingContext
from textcluster.evaluation import Evaluator, evaluate
from textcluster.reducers import IdentityReducer

log = logging.getLogger(__name__)


@dataclass
class PipelineResult:
    dataset: Dataset
    embeddings: np.ndarray
    reduced: np.ndarray
    labels: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """Chains plugin objects; each stage can be swapped by any object with the same small interface."""

    def __init__(self, encoder: Encoder, clusterer, reducer=None, evaluators: dict[str, Evaluator] | None = None,
                 seed: int = 0, training: TrainingContext | None = None):
        self.encoder, self.clusterer = encoder, clusterer
        self.reducer = reducer if reducer is not None else IdentityReducer()
        self.evaluators = evaluators or {}
        self.seed = seed
        self.training = training or TrainingContext(seed=seed)

    def _resolve_n_clusters(self, dataset: Dataset) -> None:
        # k-means-like clusterers with n_clusters=None take k from the true labels when there are some.
        if getattr(self.clusterer, "n_clusters", 0) is None and dataset.has_labels:
            self.clusterer.n_clusters = dataset.n_classes
            log.info("clusterer.n_clusters not set: using the %d true classes", dataset.n_classes)

    def run(self, dataset: Dataset) -> PipelineResult:
        from lightning_fabric.utilities.seed import seed_everything

        seed_everything(self.seed, workers=True, verbose=False)
        self._resolve_n_clusters(dataset)
        timings = {}

        start = time.perf_counter()
        embeddings = self.encoder.fit_transform(dataset, self.training)
        timings["encode_s"] = time.perf_counter() - start

        start = time.perf_counter()
        reduced = self.reducer.fit_transform(embeddings)
        timings["reduce_s"] = time.perf_counter() - start

        start = time.perf_counter()
        labels = np.asarray(self.clusterer.fit(reduced).labels_)
        timings["cluster_s"] = time.perf_counter() - start

        metrics, skipped = evaluate(self.evaluators, reduced, labels, dataset.labels)
        for key, reason in skipped.items():
            log.info("evaluator %s skipped: %s", key, reason)
        return PipelineResult(dataset, embeddings, reduced, labels, metrics, skipped, timings)
