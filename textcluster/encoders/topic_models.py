"""``encoder=lda`` and ``encoder=nmf``: generative topic models whose document-topic mixtures are the embedding.

Each document becomes a vector of ``n_components`` non-negative weights that
sum to 1: how much of it each topic explains. ``clusterer=argmax`` then gives
one cluster per topic (the classic "topic model as clusterer"); any other
clusterer can cluster the mixtures too. Each model also names its own topics
(:meth:`topic_words`: the heaviest words of each row of ``components_``),
which the run folder keeps as ``encoder_topics.json``.

* ``lda``: term counts (LDA models counts: no IDF, no sublinear scaling) into
  scikit-learn's LatentDirichletAllocation; a row is the posterior topic
  distribution of the document.
* ``nmf``: TF-IDF into scikit-learn's NMF (``init=nndsvda``); a row of W,
  L1-normalised. A document without a single known word has an all-zero row
  of W and becomes the uniform mixture (1/k each), which is what LDA gives
  such a document too (its prior alone): every row is then a mixture, and its
  largest weight (the argmax clusterer's probability) says 1/k, "no evidence".

Both read the vocabulary through :class:`VectorFeatures` (stop words, min_df,
max_df) and save their fitted state as arrays (vocabulary, IDF weights,
``components_``), restored into scikit-learn's own estimators, so a loaded
model embeds with scikit-learn's own solvers, exactly as after ``fit``.
Training documents are embedded by ``transform`` as well (not by the fit's
own W), and each document on its own (see :class:`NMFEncoder`), so predicting
on them gives their assignments again, in any batch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from textcluster.contracts import Encoder, TrainingContext
from textcluster.dataset import TEXT, Dataset
from textcluster.encoders.features import TFIDF_SETTINGS, VectorFeatures
from textcluster.errors import UserError
from textcluster.params import NULL, Block, Choice, Float, Int, settings_block
from textcluster.registry import encoders
from textcluster.state import estimator_state, restore_estimator

log = logging.getLogger(__name__)

N_COMPONENTS = Int(min=2)  # one topic would put every document in one cluster
TOPIC_FEATURES = {"max_features": None, "min_df": 2, "max_df": 0.5, "stop_words": "english", "ngram_range": (1, 1)}
"""The vocabulary both models start from: every word in at least 2 documents and at most half of them."""
COUNT_SETTINGS = Block({key: value for key, value in TFIDF_SETTINGS.fields.items() if key != "sublinear_tf"})
"""``encoder.features.*`` of ``lda``: the TF-IDF settings less ``sublinear_tf`` (LDA reads plain counts)."""
PRIOR = Float(min=0, min_open=True) | NULL


class TopicModelEncoder(Encoder):
    """What ``lda`` and ``nmf`` share: the vocabulary, the fitted estimator's state, the topic words."""

    uses_torch = False  # no network: a run with it never imports torch

    modalities = (TEXT,)
    depends_on_seed = True  # both models start from the seed (random_state)
    estimator_attributes: ClassVar[tuple[str, ...]] = ()  # what the estimator's transform reads after fit
    feature_defaults: ClassVar[dict[str, Any]] = {}  # this model's own defaults on top of TOPIC_FEATURES

    @classmethod
    def features_defaults(cls) -> dict[str, Any]:
        """``encoder.features`` of this model: TOPIC_FEATURES with its own defaults on top, less the TF-IDF
        settings it does not declare (LDA reads plain counts: no ``sublinear_tf``)."""
        declared = cls.parameters["features"].fields
        return {key: value for key, value in {**TOPIC_FEATURES, **cls.feature_defaults}.items() if key in declared}

    def _features(self) -> VectorFeatures:
        return VectorFeatures(**{**TOPIC_FEATURES, **self.feature_defaults, **self.features})

    def _estimator(self, random_state: int) -> Any:
        raise NotImplementedError

    def _inputs(self, dataset: Dataset):
        raise NotImplementedError

    def fit(self, dataset: Dataset, context: TrainingContext | None = None) -> TopicModelEncoder:
        self.check_modality(dataset.modality)
        self.features_ = self._features().fit(dataset)
        inputs = self._inputs(dataset)
        limit = min(inputs.shape)
        if self.n_components > limit:
            raise UserError(
                f"encoder.n_components={self.n_components} is more topics than {dataset.name} can give "
                f"({len(dataset)} documents, {inputs.shape[1]} words in the vocabulary); "
                f"lower encoder.n_components to {limit} or less"
            )
        self.random_state_ = int(context.seed if context is not None else 0)
        self.estimator_ = self._estimator(self.random_state_).fit(inputs)
        log.info("encoder=%s: %d topics over %d words", self.key(), self.n_components, inputs.shape[1])
        return self

    def check_input(self, n_samples: int) -> None:
        if self.n_components > n_samples:
            raise UserError(
                f"encoder.n_components={self.n_components} is more topics than the {n_samples} documents; "
                "lower encoder.n_components or raise data.limit"
            )

    def transform(self, dataset: Dataset) -> np.ndarray:
        self.check_modality(dataset.modality)
        return np.asarray(self.estimator_.transform(self._inputs(dataset)), dtype=np.float32)

    def topic_words(self, n_words: int = 10) -> list[list[str]]:
        """Each topic's ``n_words`` heaviest words (by its row of ``components_``), heaviest first."""
        words = self.features_.vectorizer_.get_feature_names_out()
        order = np.argsort(-np.asarray(self.estimator_.components_), axis=1, kind="stable")[:, :n_words]
        return [[str(words[index]) for index in row] for row in order]

    def get_state(self) -> dict[str, Any]:
        return {
            "features": self.features_.get_state(),
            "random_state": self.random_state_,
            "estimator": estimator_state(self.estimator_, self.estimator_attributes),
        }

    def set_state(self, state: Mapping[str, Any]) -> TopicModelEncoder:
        self.features_ = self._features().set_state(state["features"])
        self.random_state_ = int(state["random_state"])
        self.estimator_ = restore_estimator(self._estimator(self.random_state_), state["estimator"])
        return self


@encoders.register("lda")
class LDAEncoder(TopicModelEncoder):
    """Term counts -> LatentDirichletAllocation (scikit-learn): each row is a document's topic distribution."""

    parameters = {
        "n_components": N_COMPONENTS,
        "learning_method": Choice("batch", "online"),
        "max_iter": Int(min=1),
        "doc_topic_prior": PRIOR,
        "topic_word_prior": PRIOR,
        "features": COUNT_SETTINGS,
    }
    estimator_attributes = (
        "components_",
        "exp_dirichlet_component_",
        "doc_topic_prior_",
        "topic_word_prior_",
        "n_features_in_",
        "n_batch_iter_",
        "n_iter_",
    )
    feature_defaults = {"sublinear_tf": False}  # the vectorizer's TF-IDF step goes unused: LDA reads its counts

    def __init__(
        self,
        n_components: int = 20,
        learning_method: str = "batch",
        max_iter: int = 20,
        doc_topic_prior: float | None = None,
        topic_word_prior: float | None = None,
        features: Mapping[str, Any] | None = None,
    ):
        self.n_components, self.learning_method, self.max_iter = n_components, learning_method, max_iter
        self.doc_topic_prior, self.topic_word_prior = doc_topic_prior, topic_word_prior
        self.features = settings_block(self.features_defaults(), features)

    def _estimator(self, random_state: int):
        from sklearn.decomposition import LatentDirichletAllocation

        return LatentDirichletAllocation(
            n_components=self.n_components,
            learning_method=self.learning_method,
            max_iter=self.max_iter,
            doc_topic_prior=self.doc_topic_prior,
            topic_word_prior=self.topic_word_prior,
            random_state=random_state,
        )

    def _inputs(self, dataset: Dataset):
        """Plain term counts over the fitted vocabulary: CountVectorizer's own transform, which the
        TfidfVectorizer of :class:`VectorFeatures` is (before it applies IDF and normalises)."""
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer.transform(self.features_.vectorizer_, self.features_.texts(dataset))


@encoders.register("nmf")
class NMFEncoder(TopicModelEncoder):
    """TF-IDF -> NMF (scikit-learn, nndsvda start): each row is a document's W, L1-normalised to a topic mixture.

    ``transform`` solves for W with the topics held fixed, by scikit-learn's own solver
    (``non_negative_factorization(update_H=False)``) run for all ``max_iter`` iterations (``tol=0``):
    NMF.transform stops when the whole batch has converged, so a document's mixture would depend on the
    documents beside it (a cache shard, a single prediction). With every iteration run, each row is its
    own problem: coordinate descent starts from zeros, and the multiplicative updates of
    kullback-leibler forget the batch-wide scale of their start after the first step.
    """

    parameters = {
        "n_components": N_COMPONENTS,
        "beta_loss": Choice("frobenius", "kullback-leibler"),
        "max_iter": Int(min=1),
        "features": TFIDF_SETTINGS,
    }
    estimator_attributes = ("components_", "n_components_", "n_features_in_", "n_iter_")
    feature_defaults = {"sublinear_tf": True}  # 1 + log(count): a word said twice is not twice the evidence

    def __init__(
        self,
        n_components: int = 20,
        beta_loss: str = "frobenius",
        max_iter: int = 400,
        features: Mapping[str, Any] | None = None,
    ):
        self.n_components, self.beta_loss, self.max_iter = n_components, beta_loss, max_iter
        self.features = settings_block(self.features_defaults(), features)

    @property
    def _solver(self) -> str:
        return "cd" if self.beta_loss == "frobenius" else "mu"  # coordinate descent minimises Frobenius only

    def _estimator(self, random_state: int):
        from sklearn.decomposition import NMF

        return NMF(
            n_components=self.n_components,
            init="nndsvda",
            beta_loss=self.beta_loss,
            solver=self._solver,
            max_iter=self.max_iter,
            random_state=random_state,
        )

    def _inputs(self, dataset: Dataset):
        return self.features_.tfidf(dataset)

    def transform(self, dataset: Dataset) -> np.ndarray:
        import warnings

        from sklearn.decomposition import non_negative_factorization
        from sklearn.exceptions import ConvergenceWarning

        self.check_modality(dataset.modality)
        tfidf = self._inputs(dataset)
        topics = np.asarray(self.estimator_.components_, dtype=tfidf.dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: every iteration runs, by design
            weights, _, _ = non_negative_factorization(
                tfidf,
                H=topics,
                n_components=len(topics),
                update_H=False,
                solver=self._solver,
                beta_loss=self.beta_loss,
                tol=0.0,
                max_iter=self.max_iter,
            )
        return self._mixtures(np.asarray(weights, dtype=np.float64))

    def _mixtures(self, weights: np.ndarray) -> np.ndarray:
        """Rows L1-normalised; an all-zero row (no known word) becomes uniform (see the module docstring)."""
        sums = weights.sum(axis=1, keepdims=True)
        uniform = np.full_like(weights, 1.0 / weights.shape[1])
        return np.divide(weights, sums, out=uniform, where=sums > 0).astype(np.float32)
