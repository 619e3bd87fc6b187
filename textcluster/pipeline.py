"""Stage orchestration: dataset -> encoder -> reducer -> clusterer -> evaluators. No Hydra here."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from textcluster.cache import EmbeddingCache, describe_encoder, embedding_key_parts, hash_parts
from textcluster.data import Dataset
from textcluster.encoders.base import Encoder, TrainingContext
from textcluster.evaluation import Evaluator, evaluate
from textcluster.reducers import IdentityReducer
from textcluster.clusterers.noise import NoiseReport, apply_noise_policy, check_noise_policy
from textcluster.data.base import TEXT
from textcluster.errors import UserError
from textcluster.evaluation import EvaluationContext
from textcluster.topics import Topics

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
    cache_hit: bool | None = None  # None: no cache; True: the embeddings came from it and the encoder did not run
    cache_path: Path | None = None
    topics: Topics | None = None  # text runs: the topics; ``labels`` already holds topic ids (see topics.mapping)
    noise: NoiseReport | None = None  # the noise policy applied, noise fraction before and after
    cluster_labels: np.ndarray | None = None  # the clusterer's (or refiner's) labels, before noise policy and merging


class Pipeline:
    """Chains plugin objects; each stage can be swapped by any object with the same small interface.

    ``cache`` (optional) is an :class:`EmbeddingCache`: embeddings are looked up
    there before the encoder runs and stored after. ``encoder_config`` is what
    the key records for the encoder (the experiment passes its config); without
    it, the encoder's class and public settings are used.
    """

    def __init__(self, encoder: Encoder, clusterer, reducer=None, evaluators: dict[str, Evaluator] | None = None,
                 seed: int = 0, training: TrainingContext | None = None, cache: EmbeddingCache | None = None,
                 encoder_config: Mapping[str, Any] | None = None,
                 noise: str = "keep", topic_model=None):
        self.encoder, self.clusterer = encoder, clusterer
        self.reducer = reducer if reducer is not None else IdentityReducer()
        self.evaluators = evaluators or {}
        self.seed = seed
        self.training = training or TrainingContext(seed=seed)
        self.cache = cache
        self.encoder_config = encoder_config
        self.noise = check_noise_policy(noise)  # what becomes of noise points (-1); textcluster/clusterers/noise.py
        self.topic_model = topic_model  # a textcluster.topics.TopicModeler, or None: no topics

    def _resolve_n_clusters(self, dataset: Dataset) -> None:
        # k-means-like clusterers with n_clusters=None take k from the true labels when there are some.
        if getattr(self.clusterer, "n_clusters", 0) is None and dataset.has_labels:
            self.clusterer.n_clusters = dataset.n_classes
            log.info("clusterer.n_clusters not set: using the %d true classes", dataset.n_classes)

    def embed(self, dataset: Dataset) -> tuple[np.ndarray, bool | None, Path | None]:
        """``(embeddings, cache_hit, cache_path)``: from the cache when it holds them, else fit the encoder."""
        if self.cache is None:
            return self.encoder.fit_transform(dataset, self.training), None, None
        check = getattr(self.encoder, "check_modality", None)
        if callable(check):
            check(dataset)  # a wrong modality fails the same with or without a cache
        encoder_config = self.encoder_config if self.encoder_config is not None else describe_encoder(self.encoder)
        parts = embedding_key_parts(dataset, encoder_config, self.training.trainer, self.seed, self.encoder)
        key = hash_parts(parts)
        cached = self.cache.load(key, n_rows=len(dataset))
        if cached is not None:
            path = self.cache.paths(key)[0]
            log.info("embedding cache hit: %s (skipping encoder)", path)
            return cached, True, path
        embeddings = self.encoder.fit_transform(dataset, self.training)
        try:
            path = self.cache.store(key, embeddings, parts)
        except OSError as error:  # a full disk or a read-only cache folder must not fail the run
            log.warning("embedding cache miss; could not store the embeddings in %s (%s)", self.cache.root, error)
            return embeddings, False, None
        log.info("embedding cache miss (key %s): encoded, stored at %s", key[:12], path)
        return embeddings, False, path

    def run(self, dataset: Dataset) -> PipelineResult:
        from lightning_fabric.utilities.seed import seed_everything

        seed_everything(self.seed, workers=True, verbose=False)
        self._resolve_n_clusters(dataset)
        self._check_topics(dataset)
        timings = {}

        start = time.perf_counter()
        embeddings, cache_hit, cache_path = self.embed(dataset)
        timings["encode_s"] = time.perf_counter() - start

        start = time.perf_counter()
        reduced = self.reducer.fit_transform(embeddings)
        timings["reduce_s"] = time.perf_counter() - start

        start = time.perf_counter()
        labels = np.asarray(self.clusterer.fit(reduced).labels_)
        timings["cluster_s"] = time.perf_counter() - start

        cluster_labels = labels
        start = time.perf_counter()
        labels, noise, topics = self.describe(dataset, labels, embeddings)
        timings["topics_s"] = time.perf_counter() - start

        context = EvaluationContext(dataset.modality, dataset.texts, topics, embeddings)
        metrics, skipped = evaluate(self.evaluators, reduced, labels, dataset.labels, context)
        metrics.update(noise_fraction_before=noise.fraction_before, noise_fraction_after=noise.fraction_after)
        for key, reason in skipped.items():
            log.info("evaluator %s skipped: %s", key, reason)
        return PipelineResult(dataset, embeddings, reduced, labels, metrics, skipped, timings, cache_hit, cache_path,
                              topics=topics, noise=noise, cluster_labels=cluster_labels)

    def _check_topics(self, dataset: Dataset) -> None:
        n_topics = getattr(self.topic_model, "n_topics", None)
        if n_topics is not None and dataset.modality != TEXT:
            raise UserError(f"topics.n_topics={n_topics} needs text data; {dataset.name} holds "
                            f"{dataset.modality} items. Set topics.n_topics=null")

    def describe(self, dataset: Dataset, labels: np.ndarray, embeddings: np.ndarray
                 ) -> tuple[np.ndarray, NoiseReport, Topics | None]:
        """The noise policy, then (text runs) the topics: ``(final labels, noise report, topics)``."""
        # after a refiner the clusterer's membership probabilities describe labels that are gone
        clusterer = self.clusterer if getattr(self, "refiner", None) is None else None
        labels, noise = apply_noise_policy(self.noise, labels, embeddings, clusterer)
        topics = None
        if self.topic_model is not None and dataset.modality == TEXT:
            topics = self.topic_model.fit(dataset.texts, labels, embeddings)
            labels = topics.labels
        return labels, noise, topics
