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
                 noise: str = "keep", topic_model=None, refiner=None):
        self.encoder, self.clusterer = encoder, clusterer
        # A refiner (DEC, IDEC, contrastive) trains the encoder further from the clusterer's assignment.
        self.refiner = None if refiner is None or getattr(refiner, "is_identity", False) else refiner
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
        if self.refiner is not None:  # the refiner needs the fitted network, which a cache hit would not give
            log.info("embedding cache not used: the refiner trains the encoder's network further")
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

        if self.refiner is not None:
            # The refined codes replace both the embeddings and the clustered space: the refiner's
            # clusters live in the encoder's (new) code space, not in the reducer's.
            start = time.perf_counter()
            refinement = self.refiner.refine(self.encoder, dataset, embeddings, labels, self.training)
            embeddings = reduced = refinement.embeddings
            labels = refinement.labels
            timings["refine_s"] = time.perf_counter() - start

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

    # ------------------------------------------------------------------ Python API: fit, predict, save, load
    # predict = encoder.transform -> reducer.transform -> assign (clusterer, or refiner) -> finalize (noise, topics)

    @classmethod
    def from_config(cls, config=None, overrides=()) -> "Pipeline":
        """Build from a dict (``{"encoder": "pretrained", "clusterer.n_clusters": 8}``), Hydra override
        strings or a composed config; see :mod:`textcluster.api`. No Hydra app is started."""
        from textcluster.api import build_from_config

        return build_from_config(config, overrides)

    def fit(self, docs=None, labels=None) -> "Pipeline":
        """Fit every stage on ``docs`` (list of str, image array (n, h, w) or Dataset; None: the config's data)."""
        from textcluster.api import as_dataset, dataset_from_config

        dataset = dataset_from_config(self) if docs is None else as_dataset(docs, labels)
        return self.remember_fit(self.run(dataset))

    def remember_fit(self, result: PipelineResult) -> "Pipeline":
        """Keep what predict needs from a finished run (the experiment calls this after ``run``)."""
        dataset = result.dataset
        cluster_labels = getattr(result, "cluster_labels", None)  # before noise policy and topic merging
        cluster_labels = np.asarray(result.labels if cluster_labels is None else cluster_labels)
        clusters = np.unique(cluster_labels[cluster_labels != -1])
        self.result_ = result
        self.fit_info_ = {
            "modality": dataset.modality, "n_samples": len(dataset), "n_clusters": int(len(np.unique(
                result.labels[result.labels != -1]))),
            "image_shape": list(dataset.images.shape[1:]) if dataset.images is not None else None,
            # a cache hit skipped the encoder: a trainable one is then not fitted and cannot embed new data
            "encoder_fitted": not (result.cache_hit and getattr(self.encoder, "needs_fit", True)),
        }
        # new noise points get the same treatment as the training ones: the nearest training cluster centre
        self.noise_centres_ = (clusters, np.stack([result.embeddings[cluster_labels == c].mean(axis=0)
                                                   for c in clusters])) if len(clusters) else None
        self.topic_mapping_ = dict(result.topics.mapping) if getattr(result, "topics", None) is not None else None
        if getattr(self, "refiner", None) is not None:
            self.encoder.refined_ = True  # its weights changed: a pretrained encoder must pickle them, not its name
        return self

    @property
    def labels_(self) -> np.ndarray:
        return self._fitted_result().labels

    @property
    def topics_(self):
        """The fitted topics (text runs with a topic stage), else None."""
        return getattr(self._fitted_result(), "topics", None)

    def _fitted_result(self) -> PipelineResult:
        result = getattr(self, "result_", None)
        if result is None:
            raise AttributeError("this pipeline holds no fit result (not fitted, or loaded from disk); call fit() first")
        return result

    def check_compatible(self, dataset: Dataset) -> None:
        info = getattr(self, "fit_info_", None)
        if info is None:
            raise UserError("the pipeline is not fitted; call fit() first (or load a saved one)")
        key = getattr(self.encoder, "registry_key", type(self.encoder).__name__)
        if dataset.modality != info["modality"]:
            raise UserError(f"the model was fitted on {info['modality']} data (encoder={key}) but {dataset.name} "
                            f"holds {dataset.modality} data; predict with data of the kind the run used")
        shape = info.get("image_shape")
        if shape is not None and list(dataset.images.shape[1:]) != list(shape):
            raise UserError(f"the model was fitted on {shape[0]}x{shape[1]} images but {dataset.name} holds "
                            f"{dataset.images.shape[1]}x{dataset.images.shape[2]} images; resize them or use a "
                            "run fitted on this size")
        if not info.get("encoder_fitted", True):
            raise UserError(f"encoder '{key}' was not trained in this run (its embeddings came from the embedding "
                            "cache), so it cannot embed new data; fit again with cache=false")

    def transform(self, docs) -> tuple[np.ndarray, np.ndarray]:
        """``(embeddings, reduced)`` of new documents with the fitted encoder and reducer (nothing is refitted)."""
        from textcluster.api import as_dataset

        dataset = as_dataset(docs)
        self.check_compatible(dataset)
        if getattr(self, "refiner", None) is not None:  # the refined codes, in the space of the refined centres
            embeddings = np.asarray(self.refiner.transform(self.encoder, dataset))
            return embeddings, embeddings
        embeddings = np.asarray(self.encoder.transform(dataset))
        return embeddings, np.asarray(self.reducer.transform(embeddings))

    def assign(self, embeddings: np.ndarray, reduced: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, str | None]:
        """The clusterer's (or refiner's) ``(labels, scores, score_name)`` for new points: the one stage hook."""
        from textcluster.clusterers import predict_with_scores

        if getattr(self, "refiner", None) is not None:  # the refiner's clusters live in the (refined) code space
            labels = np.asarray(self.refiner.predict(embeddings))
            proba = getattr(self.refiner, "predict_proba", None)
            return (labels, np.asarray(proba(embeddings)).max(axis=1), "probability") if callable(proba) \
                else (labels, None, None)
        return predict_with_scores(self.clusterer, reduced)

    def finalize(self, labels: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """Noise policy and topic merging, as ``run`` applied them to the training documents."""
        from sklearn.metrics import pairwise_distances_argmin

        labels = np.asarray(labels).copy()
        noise = labels == -1
        if getattr(self, "noise", "keep") != "keep" and noise.any() and getattr(self, "noise_centres_", None):
            clusters, centres = self.noise_centres_
            labels[noise] = clusters[pairwise_distances_argmin(np.asarray(embeddings[noise], np.float64), centres)]
        mapping = getattr(self, "topic_mapping_", None)
        if mapping is not None:
            labels = np.array([mapping.get(int(c), -1) for c in labels], dtype=np.int64)
        return labels

    def predict_details(self, docs):
        """A :class:`textcluster.api.Prediction`: labels, distance/probability, embeddings, for new documents."""
        from textcluster.api import Prediction, as_dataset

        dataset = as_dataset(docs)
        embeddings, reduced = self.transform(dataset)
        cluster_labels, scores, score_name = self.assign(embeddings, reduced)
        return Prediction(dataset, self.finalize(cluster_labels, embeddings), scores, score_name, embeddings, reduced,
                          np.asarray(cluster_labels))

    def predict(self, docs) -> np.ndarray:
        """The cluster (topic) id of each new document, as assignments.csv would give it; -1 is noise."""
        return self.predict_details(docs).labels

    def save(self, path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write the fitted pipeline to the folder ``path`` (``pipeline.pt`` + ``manifest.json``)."""
        from textcluster.persistence import ModelNotSaved, save_pipeline

        if not (getattr(self, "fit_info_", None) or {}).get("encoder_fitted", True):
            raise ModelNotSaved("the encoder was not trained in this run (its embeddings came from the embedding "
                                "cache); run with cache=false to save a model that can predict")
        return save_pipeline(self, path, dict(extra or {}))

    @classmethod
    def load(cls, path) -> "Pipeline":
        """A pipeline saved by :meth:`save`: a run folder, its ``model/`` folder or ``pipeline.pt``."""
        from textcluster.persistence import load_state

        state, manifest, _ = load_state(path)
        pipeline = cls.__new__(cls)
        pipeline.__dict__.update(state)
        pipeline.cache, pipeline.evaluators, pipeline.manifest_ = None, {}, manifest
        if getattr(pipeline, "training", None) is not None:
            pipeline.training.run_dir = None  # a refit must not write into the saved run's folder
        return pipeline
