"""The pipeline: a scikit-learn-shaped estimator over the stages. Orchestration only: no Hydra, no files.

``Pipeline(encoder, clusterer, reducer=..., ...)`` stores its stages;
``fit(documents)`` runs them in order and sets the fitted attributes (ending
in ``_``); ``predict``/``transform`` send new documents through the fitted
stages. It never changes a stage's parameters: where a clusterer's k is
searched (``auto``) or comes from the labels, the fitted clusterer is a clone
with that k.

    documents -> encoder -> reducer -> clusterer -> [refiner] -> noise policy -> [topics] -> evaluators
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.cache import EmbeddingCache
from textcluster.clusterers.k_selection import AUTO, KSearch
from textcluster.clusterers.memberships import BLOCK as MEMBERSHIP_BLOCK
from textcluster.clusterers.memberships import (
    ClusterGeometry,
    DistanceRule,
    follow_edits,
    own_membership,
    to_topics,
)
from textcluster.contracts import (
    Clusterer,
    Encoder,
    Evaluator,
    NoisePolicy,
    Reducer,
    Refiner,
    TopicModel,
    TrainingContext,
)
from textcluster.dataset import IMAGE, Dataset
from textcluster.errors import UserError, WorkerFinished
from textcluster.evaluation import evaluate, log_skipped
from textcluster.labels import NOISE, cluster_centres, cluster_ids
from textcluster.noise import to_nearest_centre
from textcluster.progress import timed
from textcluster.recipe import Auto, Recipe, as_auto, choose
from textcluster.reducers.builtin import IdentityReducer
from textcluster.results import EvaluationInput, Prediction
from textcluster.seeding import seed_everything
from textcluster.topic_editing import TopicEditing, TopicUpdates, route
from textcluster.topics.guided import Guidance, GuidedFit

log = logging.getLogger(__name__)

RecipeStages = Callable[[str, str, Mapping[str, Any]], Any]
"""``(group, option, settings) -> stage``: a recipe's config option built with the user's settings over its own."""

NOT_FITTED = "this pipeline is not fitted; call fit() first (or load a saved one)"
SEARCH_UMAP = {"n_components": 10, "n_neighbors": 30, "min_dist": 0.0, "metric": "cosine"}
"""The k search's UMAP for vectors without a reducer: the text recipe's reducer (conf/reducer/umap_text.yaml)."""


def _row_blocks(n_rows: int) -> Iterator[slice]:
    """Consecutive slices of MEMBERSHIP_BLOCK rows: the probabilities are computed and written a block at a time."""
    for start in range(0, n_rows, MEMBERSHIP_BLOCK):
        yield slice(start, start + MEMBERSHIP_BLOCK)


def takes_k(clusterer: Clusterer) -> bool:
    return "n_clusters" in (clusterer.parameter_names() or ())


def settle_n_clusters(clusterer: Clusterer, dataset: Dataset) -> Clusterer:
    """The clusterer to fit: itself, or a clone with k = the number of true classes for ``n_clusters=labels``.

    ``auto`` stays as it is here: k is searched once the data is encoded (:meth:`Pipeline._choose_k`).
    """
    if not takes_k(clusterer) or clusterer.n_clusters != "labels":
        return clusterer
    if not dataset.has_labels:
        raise UserError(
            f"clusterer.n_clusters=labels takes k from the true classes, and {dataset.name} has no labels; "
            "use clusterer.n_clusters=auto (search k) or a number"
        )
    log.info("clusterer.n_clusters=labels: using the %d true classes", dataset.n_classes)
    return clusterer.clone(n_clusters=dataset.n_classes)


def resolve_noise_policy(noise: NoisePolicy | str) -> NoisePolicy:
    if isinstance(noise, NoisePolicy):
        return noise
    from textcluster import registry

    return registry.noise_policies.build({"name": noise}, where="noise")


class Pipeline(TopicEditing, TopicUpdates):
    """Chains stage plugins; each can be swapped by any object that keeps its contract (:mod:`textcluster.contracts`).

    Stages: ``encoder``, ``clusterer``, ``reducer`` (None: none), ``refiner``
    (None: none), ``noise`` (a policy or its key), ``topics`` (a topic model,
    or None: no topics), ``evaluators`` ({key: evaluator}). ``training`` is
    what trainable stages get (Lightning settings, seed, log folder);
    ``cache`` an :class:`~textcluster.cache.EmbeddingCache` or None.
    ``encoder`` and ``reducer`` may be ``'auto'`` (or :class:`~textcluster.recipe.Auto` with settings): ``fit``
    takes the recipe for the documents' modality (:mod:`textcluster.recipe`), built by ``recipe_stages``
    (the builder gives one that reads the options' configs), and records it in ``recipe_``.

    Fitted attributes: ``embeddings_`` (encoder output, refined codes after a
    refiner), ``reduced_`` (the clustered space), ``cluster_labels_`` (the
    clusterer's or refiner's labels), ``labels_`` (after the noise policy and
    topic merging), ``topics_``, ``noise_report_``, ``metrics_``,
    ``skipped_metrics_``, ``timings_``, ``cache_hit_``, ``recipe_`` (what ``auto``
    became, else None), ``k_selection_`` (the curve and the pick of
    ``n_clusters=auto``, else None) and the fitted stages
    ``encoder_``, ``reducer_``, ``clusterer_``, ``refiner_``, ``noise_policy_``.

    After the fit: ``documents_`` holds the texts fitted on (None for images and
    for a loaded model) for the topic edits (:class:`~textcluster.topic_editing.TopicEditing`:
    merge, split, rename, update, reduce outliers), which ``topic_edits_`` lists
    in order, and for ``partial_fit`` (:class:`~textcluster.topic_editing.TopicUpdates`),
    which ``updates_`` reports and ``cluster_geometry_`` (centres, sizes, radii)
    serves. ``membership_rule_`` gives ``predict_proba`` where the clusterer has no
    probabilities of its own, in the columns ``topic_ids_``; ``guidance_`` holds the
    seed and zero-shot topics (``topics.seed_topics``, ``topics.zero_shot``).
    """

    def __init__(
        self,
        encoder: Encoder | Auto | str,
        clusterer: Clusterer,
        reducer: Reducer | Auto | str | None = None,
        refiner: Refiner | None = None,
        noise: NoisePolicy | str = "keep",
        topics: TopicModel | None = None,
        evaluators: Mapping[str, Evaluator] | None = None,
        training: TrainingContext | None = None,
        cache: EmbeddingCache | None = None,
        seed: int = 0,
        k_search: KSearch | None = None,
        guidance: Guidance | None = None,
        recipe_stages: RecipeStages | None = None,
    ):
        self.encoder, self.clusterer, self.reducer, self.refiner = encoder, clusterer, reducer, refiner
        self.noise, self.topics, self.evaluators = noise, topics, evaluators
        self.training, self.cache, self.seed = training, cache, seed
        self.k_search = k_search
        self.guidance = guidance  # topics.seed_topics / topics.zero_shot (textcluster.topics.guided)
        self.recipe_stages = recipe_stages

    def __repr__(self) -> str:
        """The stages with their non-default parameters, and what the fit found (notebooks print this)."""
        stages = {"encoder": self.encoder, "reducer": self.reducer, "clusterer": self.clusterer}
        stages |= {"refiner": self.refiner, "topics": self.topics}
        lines = [f"    {name}={stage!r}," for name, stage in stages.items() if stage is not None]
        if not isinstance(self.noise, str) or self.noise != "keep":
            lines.append(f"    noise={self.noise!r},")
        if self.seed:
            lines.append(f"    seed={self.seed},")
        text = f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"
        if self.is_fitted:
            info = self.fit_info_
            found = f"fitted on {info['n_samples']:,} items ({info['modality']}): {info['n_clusters']} clusters"
            if getattr(self, "k_selection_", None) is not None:
                found += " (k searched)"
            if getattr(self, "topics_", None) is not None:
                found += "; topic_info() lists the topics"
            text += f"\n# {found}"
        return text

    # ------------------------------------------------------------------------------------- fit

    def fit(self, documents: Any, labels: Any = None) -> Pipeline:
        """Fit every stage on ``documents`` (a list of str, an image array (n, h, w) or a Dataset)."""
        dataset = Dataset.from_documents(documents, labels)
        self._prepare(dataset)
        self.documents_, self.topic_edits_, self.updates_ = dataset.texts, [], []
        seed_everything(self.seed, torch=self.uses_torch)
        timings: dict[str, float] = {}
        with timed(timings, "encode_s"):
            embeddings, self.cache_hit_ = self._encode(dataset)
        # guided topics pull seeded documents toward their seed words; zero-shot topics keep theirs from the clusterer
        self.guidance_ = (self.guidance or Guidance()).fit(self.encoder_, dataset, embeddings)
        with timed(timings, "reduce_s"):
            reduced = self.reducer_.fit_transform(self.guidance_.steer_fitted(dataset.texts, embeddings))
        clustered = self.guidance_.rest(reduced, self.clusterer_)
        self.k_selection_ = None
        if takes_k(self.clusterer_) and self.clusterer_.n_clusters == AUTO:
            with timed(timings, "choose_k_s"):
                self._choose_k(clustered)
        with timed(timings, "cluster_s"):
            labels = self.guidance_.merge(np.asarray(self.clusterer_.fit(clustered).labels_))
        if self.refiner_ is not None:
            # The refined codes replace both the embeddings and the clustered space: the refiner's
            # clusters live in the encoder's (new) code space, not in the reducer's.
            with timed(timings, "refine_s"):
                refinement = self.refiner_.refine(self.encoder_, dataset, embeddings, labels, self._training())
            embeddings = reduced = refinement.embeddings
            labels = refinement.labels
        self.embeddings_, self.reduced_, self.cluster_labels_ = embeddings, reduced, labels
        self.membership_rule_ = DistanceRule.fit(reduced, labels)  # predict_proba where the stage has no own
        self.cluster_geometry_ = ClusterGeometry.fit(reduced, labels)  # partial_fit: which new documents fit
        with timed(timings, "topics_s"):
            self.labels_ = self._describe(dataset)
        with timed(timings, "evaluate_s"):
            self.metrics_, self.skipped_metrics_ = self._evaluate(dataset)
        self.timings_ = timings
        self.fit_info_ = {
            "modality": dataset.modality,
            "image_shape": dataset.image_shape,
            "n_samples": len(dataset),
            "n_clusters": len(cluster_ids(self.labels_)),
            "encoder_settled": self.encoder_.settled(),  # what its auto settings became on this data and machine
            "recipe": None if self.recipe_ is None else self.recipe_.describe(),
        }
        return self

    def _choose_k(self, reduced: np.ndarray) -> None:
        """``n_clusters=auto``: search k (:class:`KSearch`) and fit a clone with the chosen k."""
        search = self.k_search or KSearch()
        project = None
        if isinstance(self.reducer_, IdentityReducer) and reduced.shape[1] > SEARCH_UMAP["n_components"]:
            project = self._search_umap
        self.k_selection_ = search.select(self.clusterer_, reduced, self.seed, project=project)
        if project is not None:
            self.k_selection_.note = (
                f"k searched in a UMAP of the sample ({SEARCH_UMAP['n_components']} dimensions): the clustered "
                f"space has {reduced.shape[1]} dimensions and no reducer"
            )
        self.clusterer_ = self.clusterer_.clone(n_clusters=self.k_selection_.chosen)

    def _search_umap(self, sample: np.ndarray) -> np.ndarray:
        """The k search's own space for raw vectors: UMAP fitted on the sample alone (its cost does not grow
        with the corpus), since silhouettes of raw sentence embeddings barely tell k apart."""
        from textcluster.reducers.builtin import UMAPReducer

        n_neighbors = min(SEARCH_UMAP["n_neighbors"], len(sample) - 1)
        settings = {**SEARCH_UMAP, "n_neighbors": n_neighbors}
        log.info("clusterer.n_clusters=auto: searching k in a UMAP of %d documents", len(sample))
        return UMAPReducer(**settings, random_state=self.seed).fit_transform(sample)

    @property
    def uses_torch(self) -> bool:
        """Whether a stage draws from torch's random generators (so the run seeds and records torch); an encoder
        left to the recipe counts as one (the text and image recipes' encoders do)."""
        encoder = getattr(self, "encoder_", None) or self.encoder
        return as_auto(encoder) is not None or any(
            stage is not None and stage.uses_torch for stage in (encoder, self.refiner)
        )

    def settle_recipe(self, modality: str) -> tuple[Recipe | None, Encoder, Reducer]:
        """``(recipe, encoder, reducer)`` for data of ``modality``: the stages as given, or where one is ``auto``,
        the recipe's options built with the user's settings (None: nothing was auto). Changes nothing."""
        stages = {"encoder": self.encoder, "reducer": self.reducer}
        auto = {group: as_auto(stage) for group, stage in stages.items() if as_auto(stage) is not None}
        if not auto:
            return None, self.encoder, self.reducer or IdentityReducer()
        recipe_stages = self.recipe_stages or self._default_recipe_stages()
        if recipe_stages is None:
            raise UserError(
                f"{'/'.join(auto)}='auto' takes a recipe of config options; use textcluster.Pipeline (it reads "
                "them), or name the stage (e.g. encoder=HybridEncoder())"
            )
        recipe = choose(modality, auto, builds_graph=self.clusterer.builds_graph)
        for group, option in recipe.options.items():
            try:
                stages[group] = recipe_stages(group, option, auto[group].settings)
            except UserError as error:  # a setting given with encoder=auto that the recipe's encoder lacks
                raise UserError(f"{group}=auto is {group}={option} here ({recipe.describe()}): {error}") from None
        return recipe, stages["encoder"], stages["reducer"] or IdentityReducer()

    def _default_recipe_stages(self) -> RecipeStages | None:
        """How a pipeline built in Python without ``recipe_stages`` builds the recipe's options (none here: the
        options are configs; :class:`textcluster.api.Pipeline` reads them)."""
        return None

    def check(
        self, modality: str | None, source: str = "the data", dataset: Dataset | None = None, encoder: Any = None
    ) -> None:
        """Raise one UserError naming every pair of stages that cannot work together, or cannot read data of
        ``modality`` (None: not known yet; those rules wait for ``fit``). The builder calls it before any
        data loads (``source``: how the config names the data), ``fit`` again with the documents and the
        ``encoder`` it settled (None: the recipe's for ``modality``, where the encoder is auto)."""
        if encoder is None:
            encoder = self.settle_recipe(modality)[1] if modality is not None else self.encoder
        problems = self.problems(encoder, modality, source, dataset)
        if problems:
            raise UserError("; ".join(problems))

    def problems(
        self, encoder: Any, modality: str | None, source: str = "the data", dataset: Dataset | None = None
    ) -> list[str]:
        """The compatibility rules of :meth:`check`, one sentence each, read from the stage objects themselves."""
        refiner = self.refiner
        problems = []
        if modality is not None:
            problem = encoder.modality_problem(modality, source) if as_auto(encoder) is None else None
            problems += [problem] if problem else []
            if refiner is not None and modality not in refiner.modalities:
                problems.append(
                    f"refiner={refiner.key()} handles {' and '.join(refiner.modalities)} data, but {source} gives "
                    f"{modality} data; use another refiner or refiner=none"
                )
        known_encoder = as_auto(encoder) is None
        if refiner is not None and known_encoder and refiner.trains_encoder:
            problem = encoder.refinement_problem(refiner.key())
            problems += [problem] if problem else []
        has_texts = dataset.has_texts if dataset is not None else modality != IMAGE
        if self.topics is not None and self.topics.n_topics is not None and modality is not None and not has_texts:
            problems.append(
                f"topics.n_topics={self.topics.n_topics} needs text data; {source} gives {modality} data. "
                "Set topics.n_topics=null"
            )
        own_vectors = dataset is not None and dataset.vectors is not None
        return problems + (self.guidance or Guidance()).problems(modality, refiner, own_vectors)

    def _prepare(self, dataset: Dataset) -> None:
        """Every check that can fail before any stage runs; sets the stages the fit will use (the recipe's
        where a stage is ``auto``)."""
        self.recipe_, self.encoder_, self.reducer_ = self.settle_recipe(dataset.modality)
        if self.recipe_ is not None:
            unnamed = "no encoder named" if as_auto(self.encoder) is not None else "no reducer named"
            log.info("%s: %s (name encoder=... and reducer=... to choose)", unnamed, self.recipe_.describe())
        self.refiner_, self.noise_policy_ = self.refiner, resolve_noise_policy(self.noise)
        for stage in (self.encoder_, self.reducer_, self.clusterer, self.refiner, self.topics, self.noise_policy_):
            if stage is not None:
                stage.check_params()
        self.check(dataset.modality, dataset=dataset, encoder=self.encoder_)
        self.clusterer_ = settle_n_clusters(self.clusterer, dataset)
        for stage in (self.encoder_, self.reducer_, self.clusterer_, self.refiner):
            if stage is not None:
                stage.check_input(len(dataset))

    def _training(self) -> TrainingContext:
        return self.training if self.training is not None else TrainingContext(seed=self.seed)

    def _encode(self, dataset: Dataset) -> tuple[np.ndarray, bool | None]:
        """``(embeddings, cache hit)``; hit is None without a cache."""
        from textcluster.training.strategies import is_distributed

        if is_distributed(self._training().trainer) and not self.encoder_.copies_input:
            return self._encode_distributed(dataset), None
        if self.cache is None or self.encoder_.copies_input:
            return self.encoder_.fit_transform(dataset, self._training()), None
        if self.refiner_ is not None and self.refiner_.trains_encoder:  # it trains the freshly trained network
            log.info("embedding cache not used: the refiner trains the encoder's network further")
            return self.encoder_.fit_transform(dataset, self._training()), None
        return self.cache.encode(self.encoder_, dataset, self._training())

    def _encode_distributed(self, dataset: Dataset) -> np.ndarray:
        """``trainer=ddp``: fit here (a trainable encoder trains with the trainer's strategy), then embed the data
        across the processes (:func:`~textcluster.training.distributed.distributed_transform`). The embedding
        cache is not used. A process Lightning launched for another device stops once its share is written."""
        from textcluster.training.distributed import distributed_transform, is_worker_process

        training = self._training()
        if self.cache is not None:
            log.info(
                "embedding cache not used: trainer.strategy=%s encodes across processes", training.trainer["strategy"]
            )
        self.encoder_.fit(dataset, training)
        shard_dir = None if training.log_dir is None else Path(training.log_dir) / "encoding-shards"
        embeddings = distributed_transform(self.encoder_, dataset, training.trainer, shard_dir)
        if is_worker_process():
            raise WorkerFinished()
        return embeddings

    def _describe(self, dataset: Dataset) -> np.ndarray:
        """The noise policy, then (text runs) the topics; returns the final labels."""
        # after a refiner the clusterer's membership probabilities describe labels that are gone
        clusterer = self.guidance_.membership_view(self.clusterer_) if self.refiner_ is None else None
        labels, self.noise_report_ = self.noise_policy_.apply(self.cluster_labels_, self.embeddings_, clusterer)
        self.noise_centres_ = cluster_centres(self.embeddings_, self.cluster_labels_)  # for new noise points
        self.topics_ = self.guidance_.name_topics(self._fit_topics(dataset, labels))  # zero-shot names, seed words
        self.topic_mapping_ = None if self.topics_ is None else dict(self.topics_.mapping)
        return labels if self.topics_ is None else self.topics_.labels

    def _fit_topics(self, dataset: Dataset, labels: np.ndarray):
        """The topics of a text run; an optional stage, so a failure is a warning and the clustering stands."""
        if self.topics is None or not dataset.has_texts:
            return None
        try:
            return self.topics.fit(dataset.texts, labels, self.embeddings_)
        except UserError as error:
            log.warning("topics skipped: %s", error)
            return None

    def _evaluate(self, dataset: Dataset) -> tuple[dict[str, float], dict[str, str]]:
        run = EvaluationInput(
            space=self.reduced_,
            labels=self.labels_,
            true_labels=dataset.labels,
            embeddings=self.embeddings_,
            modality=dataset.modality,
            texts=dataset.texts,
            topics=self.topics_,
        )
        metrics, skipped = evaluate(self.evaluators or {}, run)
        metrics.update(
            noise_fraction_before=self.noise_report_.fraction_before,
            noise_fraction_after=self.noise_report_.fraction_after,
        )
        log_skipped(skipped, log)  # one line per reason, not one per metric
        return metrics, skipped

    # ------------------------------------------------------------------------------------- predict

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "fit_info_")

    def check_compatible(self, dataset: Dataset) -> None:
        """Refuse data the fitted stages cannot read (another modality, another image size)."""
        if not self.is_fitted:
            raise UserError(NOT_FITTED)
        info = self.fit_info_
        if dataset.modality != info["modality"]:
            raise UserError(
                f"the model was fitted on {info['modality']} data (encoder={self.encoder_.key()}) but "
                f"{dataset.name} holds {dataset.modality} data; predict with data of the kind the run used"
            )
        shape = info.get("image_shape")
        if shape is not None and tuple(dataset.image_shape) != tuple(shape):
            raise UserError(
                f"the model was fitted on {shape[0]}x{shape[1]} images but {dataset.name} holds "
                f"{dataset.image_shape[0]}x{dataset.image_shape[1]} images; resize them or use a "
                "run fitted on this size"
            )

    def embed(self, documents: Any) -> np.ndarray:
        """The encoder's output for new documents (the refined codes after a refiner); nothing is refitted."""
        dataset = Dataset.from_documents(documents)
        self.check_compatible(dataset)
        if self.refiner_ is not None:
            return np.asarray(self.refiner_.transform(self.encoder_, dataset))
        return np.asarray(self.encoder_.transform(dataset))

    def transform(self, documents: Any) -> np.ndarray:
        """New documents in the space the clusterer saw (after the reducer)."""
        dataset = Dataset.from_documents(documents)
        embeddings = self.embed(dataset)
        steered = self.guidance_.steer(dataset.texts, embeddings)  # seeded documents pulled as in fit
        return embeddings if self.refiner_ is not None else np.asarray(self.reducer_.transform(steered))

    def predict_details(self, documents: Any) -> Prediction:
        """Labels (as assignments.csv would give them), distance or probability, embeddings, for new documents."""
        dataset = Dataset.from_documents(documents)
        embeddings = self.embed(dataset)
        if self.refiner_ is not None:  # the refiner's clusters live in the (refined) code space
            reduced = embeddings
            cluster_labels, scores = self.refiner_.predict_scores(embeddings)
            score_name = "probability"
        else:
            reduced = np.asarray(self.reducer_.transform(self.guidance_.steer(dataset.texts, embeddings)))
            cluster_labels, scores = self.clusterer_.predict_scores(reduced)
            score_name = self.clusterer_.score_name or "score"
        cluster_labels, scores = self.guidance_.assign(embeddings, np.asarray(cluster_labels), scores)  # zero-shot
        labels = self._finalize(cluster_labels, embeddings)
        return Prediction(
            dataset,
            labels,
            None if scores is None else np.asarray(scores, dtype=float),
            None if scores is None else score_name,
            embeddings,
            reduced,
            cluster_labels,
            topic_labels=None if self.topics_ is None else self.topics_.label_of(labels),
        )

    def predict(self, documents: Any) -> np.ndarray:
        """The cluster (topic) id of each new document, as assignments.csv would give it; -1 is noise.
        ``predict_details(documents).frame()`` gives the topic labels beside the ids."""
        return self.predict_details(documents).labels

    def fit_predict(self, documents: Any, labels: Any = None) -> np.ndarray:
        """Fit on ``documents`` and return their cluster (topic) ids (``labels_``)."""
        return self.fit(documents, labels).labels_

    def topic_info(self):
        """The topics as a pandas DataFrame, largest first: ``topic`` (id), ``label``, ``size``, ``share``,
        ``keywords``, ``representative_texts`` (BERTopic's ``get_topic_info``)."""
        if not self.is_fitted:
            raise UserError(NOT_FITTED)
        if self.topics_ is None:
            raise UserError("this pipeline has no topics: they need text documents and a topics stage (topics=default)")
        return self.topics_.info()

    @property
    def topic_ids_(self) -> np.ndarray:
        """The columns of :meth:`predict_proba`, ascending: the topic ids (noise, -1, is no column), or the
        clusters without a topic stage; after topic edits, the edited topics (a merged-away id goes, a split's
        new ids come)."""
        if not self.is_fitted:
            raise UserError(NOT_FITTED)
        base = self._base_topic_ids()
        return follow_edits(np.zeros((0, len(base))), base, np.zeros((0, 0)), self._edits())[1]

    def predict_proba(self, documents: Any) -> np.ndarray:
        """Each document's probability of each topic: ``(n, len(topic_ids_))``, rows summing to 1. A document
        that ``predict`` calls noise (-1) still gets the topics it is nearest to belonging to.

        From the clusterer's (or refiner's) own probabilities where its model has them (GMM's posterior,
        HDBSCAN's membership vectors, DEC's soft assignment), else the distance rule fitted with the clusters
        (:class:`~textcluster.clusterers.memberships.DistanceRule`: an isotropic Gaussian mixture); a topic
        merged from several clusters has the sum of their probabilities."""
        dataset = Dataset.from_documents(documents)
        embeddings = self.embed(dataset)
        steered = self.guidance_.steer(dataset.texts, embeddings)  # seeded documents pulled as in fit
        points = embeddings if self.refiner_ is not None else np.asarray(self.reducer_.transform(steered))
        return self.proba_at(embeddings, points)

    def proba_at(self, embeddings: np.ndarray, points: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
        """:meth:`predict_proba` of documents already encoded: their ``embeddings`` and their ``points`` in the
        clustered space (a :class:`~textcluster.results.Prediction`'s ``embeddings`` and ``reduced``), so
        predict and predict_proba need one encoding. In blocks of rows: only the result is held whole."""
        return self._stacked(self.proba_blocks(embeddings, points), len(points), dtype)

    def proba_blocks(self, embeddings: np.ndarray, points: np.ndarray) -> Iterator[np.ndarray]:
        """:meth:`proba_at` a block of rows at a time, so that a writer never holds the whole (n, topics) array."""
        for rows in _row_blocks(len(points)):
            yield self._topic_proba(*self._cluster_proba(points[rows]), embeddings[rows])

    def _stacked(self, blocks: Iterator[np.ndarray], n_rows: int, dtype: Any) -> np.ndarray:
        out = np.empty((n_rows, len(self.topic_ids_)), dtype=dtype)
        start = 0
        for block in blocks:
            out[start : start + len(block)] = block
            start += len(block)
        return out

    def topic_distribution(self, documents: Any):
        """:meth:`predict_proba` as a pandas DataFrame: a row per document (index: its id), a column per topic
        id (``topic_ids_``; ``topic_info()`` names them)."""
        import pandas as pd

        dataset = Dataset.from_documents(documents)
        index, columns = pd.Index(dataset.ids, name="id"), pd.Index(self.topic_ids_, name="topic")
        return pd.DataFrame(self.predict_proba(dataset), index=index, columns=columns)

    def training_proba(self) -> np.ndarray:
        """:meth:`predict_proba` of the documents ``fit`` was given (rows of ``labels_``) as float32, from the
        fit's clustered space: nothing is encoded again, and HDBSCAN gives its all-points membership vectors.
        Computed in blocks of rows, so only the float32 result is held whole."""
        return self._stacked(self.training_proba_blocks(), len(self.labels_), np.float32)

    def training_proba_blocks(self) -> Iterator[np.ndarray]:
        """:meth:`training_proba` a block of rows at a time (the run folder streams them to disk)."""
        if getattr(self, "reduced_", None) is None:
            raise UserError("a loaded model holds no training documents: call predict_proba(documents)")
        soft = self.guidance_.membership_view(self.clusterer_).soft_membership() if self.refiner_ is None else None
        if soft is None:
            return self.proba_blocks(self.embeddings_, self.reduced_)
        clusters, memberships = soft
        return (
            self._topic_proba(clusters, memberships[rows], self.embeddings_[rows])
            for rows in _row_blocks(len(self.reduced_))
        )

    def _cluster_proba(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cluster ids, probabilities)``: the stage's own where it has them, else the distance rule."""
        own = own_membership(self.refiner_ if self.refiner_ is not None else self.clusterer_, points)
        if own is not None:
            return self.guidance_.shift(*own)  # the clusterer's ids come after the zero-shot topics'
        rule = getattr(self, "membership_rule_", None)
        if rule is None:
            raise UserError("this model was saved before soft memberships were part of a model: fit it again")
        return rule.ids, rule.predict_proba(points)

    def _topic_proba(self, cluster_ids: np.ndarray, probabilities: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        base = self._base_topic_ids()
        cluster_ids, probabilities = self.guidance_.zero_shot_memberships(cluster_ids, probabilities, embeddings)
        proba = to_topics(cluster_ids, probabilities, self.topic_mapping_, base)
        return follow_edits(proba, base, embeddings, self._edits())[0]

    def _base_topic_ids(self) -> np.ndarray:
        """The topics as the fit made them (before any edit): the mapping's targets, else the clusters."""
        if self.topic_mapping_ is not None:
            return np.array(sorted(set(self.topic_mapping_.values())), dtype=np.int64)
        return np.asarray(self.noise_centres_[0], dtype=np.int64)

    def _edits(self) -> list:
        return list(getattr(self, "topic_edits_", None) or [])

    def _finalize(self, labels: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """Noise policy and topic merging, as ``fit`` applied them to the training documents."""
        if self.noise_policy_.reassigns:
            labels = to_nearest_centre(labels, embeddings, *self.noise_centres_)
        if self.topic_mapping_ is not None:
            labels = np.array([self.topic_mapping_.get(int(c), NOISE) for c in labels], dtype=np.int64)
        return route(labels, embeddings, self.topic_edits_)  # merges, splits, outliers reduced after the fit

    # ------------------------------------------------------------------------------------- state

    def fitted_stages(self) -> dict[str, Any]:
        """The fitted stage objects by group (``refiner`` None when there is none)."""
        if not self.is_fitted:
            raise UserError(NOT_FITTED)
        return {
            "encoder": self.encoder_,
            "reducer": self.reducer_,
            "clusterer": self.clusterer_,
            "refiner": self.refiner_,
            "noise": self.noise_policy_,
        }

    def get_state(self) -> dict[str, Any]:
        """What predict needs beyond the stages' own state: fit facts, noise centres, the topic mapping, and the
        topics themselves (labels, keywords, representative texts, the tree), so a loaded model names them."""
        ids, centres = self.noise_centres_
        mapping = None if self.topic_mapping_ is None else {str(k): int(v) for k, v in self.topic_mapping_.items()}
        return {
            "fit_info": self.fit_info_,
            "noise_centres": {"ids": ids, "centres": centres},
            "membership_rule": self.membership_rule_.get_state(),  # predict_proba's distance rule
            "cluster_geometry": self.cluster_geometry_.get_state(),  # partial_fit's centres, sizes and radii
            "updates": self.updates_,  # what each partial_fit changed
            "topic_mapping": mapping,
            "topics": None if self.topics_ is None else self.topics_.summary(),
            "topic_settings": None if self.topics is None else self.topics.get_params(),  # what edits refit with
            "topic_edits": self.topic_edits_,
            "guidance": self.guidance_.get_state(),  # zero-shot names and seed lists with their embeddings
        }

    def set_state(self, state: Mapping[str, Any]) -> Pipeline:
        """A pipeline built from fitted stages becomes fitted: ``state`` as :meth:`get_state` gave it."""
        self.encoder_, self.reducer_, self.refiner_ = self.encoder, self.reducer or IdentityReducer(), self.refiner
        self.clusterer_, self.noise_policy_ = self.clusterer, resolve_noise_policy(self.noise)
        self.recipe_ = None  # a loaded pipeline's stages are the fitted ones; fit_info_["recipe"] says what auto chose
        self.noise_centres_ = (np.asarray(state["noise_centres"]["ids"]), np.asarray(state["noise_centres"]["centres"]))
        self.membership_rule_ = DistanceRule.from_state(state.get("membership_rule"))  # None: saved before it
        self.cluster_geometry_ = ClusterGeometry.from_state(state.get("cluster_geometry"))  # None: saved before it
        self.updates_ = list(state.get("updates") or [])
        self.guidance_ = GuidedFit.from_state(state.get("guidance"))  # None: no guidance, or saved before it
        mapping = state.get("topic_mapping")
        self.topic_mapping_ = None if mapping is None else {int(k): int(v) for k, v in mapping.items()}
        self.documents_, self.topic_edits_ = None, list(state.get("topic_edits") or [])
        if self.topics is None and state.get("topic_settings") is not None:
            from textcluster.topics.model import TopicModeler

            self.topics = TopicModeler(**state["topic_settings"])
        summary = state.get("topics")  # absent from a model saved before topics were part of it
        if summary is None:
            self.topics_ = None
        else:
            from textcluster.topics.model import Topics  # scikit-learn and scipy, for text models only

            self.topics_ = Topics.from_summary(summary)
        self.fit_info_ = dict(state["fit_info"])
        return self
