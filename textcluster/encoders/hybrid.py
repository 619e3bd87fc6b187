"""``encoder=hybrid``: pretrained sentence embeddings side by side with the corpus' own words.

A sentence encoder places texts by meaning as its training corpus saw it; it
blurs the single words that name a class in many real corpora (StackOverflow's
tags: "magento", "drupal", "wordpress" questions all read as "web CMS
questions"). TF-IDF keeps those words but misses meaning. The hybrid code
concatenates both views, each L2-normalised, the lexical one reduced by LSA
(TF-IDF then truncated SVD) and scaled by ``lexical_weight``, so cosine
distance on the result mixes the two in a known ratio.

``lexical_weight: auto`` and ``features.max_df: auto`` (the defaults) read
the corpus: when the median document has at least ``LONG_DOCUMENT_WORDS``
words (posts, articles), the lexical half weighs as much as the semantic one
and words in more than half the documents are left out (the quoting
boilerplate and signatures of long posts); shorter texts (snippets, titles)
get weight 0.5 and keep every word. Measured: benchmarks/results/encoder-notes.md
(20 Newsgroups) and benchmarks/results/own-corpus.md.

``semantic: auto`` (the default) settles the semantic half per corpus: the transformer, unless it would
take more than ``semantic_budget_minutes`` on this machine's CPU (:mod:`textcluster.encoders.cost`; never
on a GPU), in which case the static model distilled from it (``encoder=static``, model2vec) stands in,
hundreds of times faster at some loss of quality (benchmarks/results/granularity-static.md). The switch
is logged with the way back (``encoder.semantic=transformer``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from textcluster.contracts import TrainingContext
from textcluster.dataset import Dataset, keyword_text
from textcluster.encoders import cost
from textcluster.encoders.features import TFIDF_DEFAULTS, TFIDF_SETTINGS, VectorFeatures
from textcluster.encoders.hub import resolve_model
from textcluster.encoders.pretrained import PRETRAINED_SETTINGS, PretrainedEncoder
from textcluster.encoders.static import StaticEncoder
from textcluster.errors import UserError
from textcluster.machine import available_cores
from textcluster.params import NULL, Block, Choice, Float, Int, settings_block
from textcluster.registry import encoders
from textcluster.seeding import FIT_SIZE_MIN, fit_sample

log = logging.getLogger(__name__)

# TruncatedSVD's randomised solver gets a fixed seed: the lexical view is then a function of the
# corpus and the settings alone, so runs over several seeds share one embedding cache entry.
SVD_RANDOM_STATE = 0
# Above this many documents the LSA is fitted on a sample of them, seeded by SVD_RANDOM_STATE (the vocabulary and
# IDF still come from all): the randomised SVD's float64 working arrays grow with its rows, and a sample this size
# captures nearly all the variance the whole corpus' components do (benchmarks/results/lsa-sample.md)
LEXICAL_FIT_SIZE = 200_000

AUTO = "auto"
TRANSFORMER, STATIC = "transformer", "static"
LONG_DOCUMENT_WORDS = 50  # median words per document from which a corpus counts as long
LEXICAL = {"short": {"lexical_weight": 0.5, "max_df": 1.0}, "long": {"lexical_weight": 1.0, "max_df": 0.5}}
HYBRID_TFIDF_SETTINGS = Block({**TFIDF_SETTINGS.fields, "max_df": TFIDF_SETTINGS.fields["max_df"] | Choice(AUTO)})
HYBRID_TFIDF_DEFAULTS = {**TFIDF_DEFAULTS, "max_features": None, "max_df": AUTO}
"""Every word seen in min_df documents (LSA reduces them anyway); max_df by the documents' length (LEXICAL)."""


def word_counts(dataset: Dataset) -> np.ndarray:
    """Whitespace words per document (of the text the keywords read)."""
    return np.array([len(keyword_text(text).split()) for text in dataset.texts], dtype=np.int64)


def document_length(dataset: Dataset, words: np.ndarray | None = None) -> str:
    """``long`` when the median document has at least LONG_DOCUMENT_WORDS words, else ``short``."""
    words = word_counts(dataset) if words is None else words
    return "long" if len(words) and np.median(words) >= LONG_DOCUMENT_WORDS else "short"


@encoders.register("hybrid")
class HybridEncoder(PretrainedEncoder):
    """Pretrained embedding (``encoder=pretrained`` settings) beside ``lexical_weight`` x LSA of TF-IDF."""

    depends_on_seed = False  # see SVD_RANDOM_STATE
    refinable = False  # the lexical half is not a network
    parameters = {
        **PRETRAINED_SETTINGS,
        "lexical_weight": Float(min=0) | Choice(AUTO),
        "lexical_dims": Int(min=1),
        "lexical_fit_size": Int(min=FIT_SIZE_MIN) | NULL,
        "features": HYBRID_TFIDF_SETTINGS,
        "semantic": Choice(AUTO, TRANSFORMER, STATIC),
        "semantic_budget_minutes": Float(min=0),
    }

    def __init__(
        self,
        lexical_weight: float | str = AUTO,
        lexical_dims: int = 200,
        lexical_fit_size: int | None = LEXICAL_FIT_SIZE,
        features: Mapping[str, Any] | None = None,
        semantic: str = AUTO,
        semantic_budget_minutes: float = 20.0,
        **pretrained,
    ):
        super().__init__(**pretrained)  # every encoder=pretrained setting (PRETRAINED_SETTINGS)
        self.lexical_weight, self.lexical_dims = lexical_weight, lexical_dims
        self.lexical_fit_size = lexical_fit_size
        self.features = settings_block(HYBRID_TFIDF_DEFAULTS, features)
        self.semantic, self.semantic_budget_minutes = semantic, semantic_budget_minutes
        self.semantic_ = TRANSFORMER if semantic == AUTO else semantic
        self._static = None

    def cache_identity(self) -> dict[str, Any]:
        """The transformer's identity, and what else decides the semantic half: the static model's identity,
        and for ``semantic: auto`` the machine facts its rule reads (the data and the budget are in the key)."""
        identity = super().cache_identity()
        if self.semantic != TRANSFORMER:
            identity["static"] = self.static_encoder().cache_identity()
        if self.semantic == AUTO:
            identity["semantic_rule"] = {"device": self.path["device"], "cores": available_cores()}
        return identity

    def settled(self) -> dict[str, Any]:
        settled = {"semantic": self.semantic_, "lexical_weight": self.lexical_weight_, "max_df": self.features_max_df_}
        return {**super().settled(), **settled}

    def static_encoder(self) -> StaticEncoder:
        """The static model distilled from this encoder's transformer (built once, then cached)."""
        if self._static is None:
            self._static = StaticEncoder(model_name_or_path=self.model_name_or_path, revision=self.revision)
        return self._static

    def settle_semantic(self, words: np.ndarray) -> str:
        """The semantic half for a corpus with these word counts (see the module docstring)."""
        if self.semantic != AUTO:
            return self.semantic
        if self.path["device"] != "cpu":
            return TRANSFORMER
        _, folder = resolve_model(self.model_name_or_path, self.revision)
        cores = available_cores()
        shape = cost.model_shape(folder)
        seconds = cost.cpu_seconds_estimate(words, self.max_length, shape, cores, self.path["dtype"])
        if seconds <= 60 * self.semantic_budget_minutes:
            return TRANSFORMER
        log.info(
            "hybrid encoder: the transformer would take about %.0f minutes for %d documents on %d CPU cores "
            "(estimated; encoder.semantic_budget_minutes=%g), so the semantic half is its static distillation "
            "(model2vec: hundreds of times faster, at a cost in quality that is largest on long documents); "
            "encoder.semantic=transformer keeps the transformer",
            seconds / 60,
            len(words),
            cores,
            self.semantic_budget_minutes,
        )
        return STATIC

    def fit(self, dataset: Dataset, context: TrainingContext | None = None) -> HybridEncoder:
        from sklearn.decomposition import TruncatedSVD

        words = word_counts(dataset)
        self.semantic_ = self.settle_semantic(words)
        if self.semantic_ == STATIC:
            self.static_encoder().fit()
        else:
            self.load()
        length = document_length(dataset, words)
        chosen = LEXICAL[length]
        self.lexical_weight_ = chosen["lexical_weight"] if self.lexical_weight == AUTO else float(self.lexical_weight)
        features = self._features(chosen["max_df"])
        log.info(
            "hybrid encoder: %s documents, lexical_weight %s, features.max_df %s",
            length,
            self.lexical_weight_,
            features["max_df"],
        )
        self.features_max_df_ = float(features["max_df"])
        self.features_ = VectorFeatures(**features).fit(dataset)
        tfidf = self.features_.tfidf(self._lsa_sample(dataset))
        # SVD needs fewer components than terms and documents; a small corpus gets what it can hold
        dims = min(self.lexical_dims, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
        if dims < 1:
            raise UserError(
                f"{dataset.name} is too small for a lexical view ({tfidf.shape[1]} terms, "
                f"{len(dataset)} documents); use encoder=pretrained"
            )
        if dims < self.lexical_dims:
            log.info(
                "hybrid encoder: %d LSA dimensions (the corpus holds too few terms or documents for %d)",
                dims,
                self.lexical_dims,
            )
        self.lsa_components_ = TruncatedSVD(dims, random_state=SVD_RANDOM_STATE).fit(tfidf).components_
        return self

    def _lsa_sample(self, dataset: Dataset) -> Dataset:
        """The documents the LSA is fitted on: a sample of ``lexical_fit_size`` seeded by SVD_RANDOM_STATE (the
        lexical view depends on no run seed), or all of them."""
        rows = fit_sample(len(dataset), self.lexical_fit_size, SVD_RANDOM_STATE)
        if rows is None:
            return dataset
        log.info("hybrid encoder: LSA fitted on %d of %d documents (encoder.lexical_fit_size)", len(rows), len(dataset))
        return dataset.select(rows)

    def _features(self, auto_max_df: float) -> dict[str, Any]:
        """The TF-IDF settings with ``max_df: auto`` replaced by ``auto_max_df``."""
        features = dict(self.features)
        if features.get("max_df", AUTO) == AUTO:
            features["max_df"] = auto_max_df
        return features

    def lexical(self, dataset: Dataset) -> np.ndarray:
        """L2-normalised LSA vectors of the documents (a document without a known word stays 0)."""
        from sklearn.preprocessing import normalize

        lsa = self.features_.tfidf(dataset) @ self.lsa_components_.T  # TruncatedSVD.transform
        return normalize(np.asarray(lsa)).astype(np.float32)

    def transform(self, dataset: Dataset) -> np.ndarray:
        if self.semantic_ == STATIC:
            semantic = self.static_encoder().transform(dataset)
        else:
            semantic = super().transform(dataset)
        return np.hstack([semantic, self.lexical_weight_ * self.lexical(dataset)])

    def refinement_view(self, dataset: Dataset):
        raise UserError(
            "encoder=hybrid has no refiner support yet (its lexical half is not a network); "
            "use refiner=none, or encoder=pretrained with refiner=contrastive"
        )

    def get_state(self) -> dict[str, Any]:
        return {
            "features": self.features_.get_state(),
            "lsa_components": self.lsa_components_,
            "lexical_weight": np.asarray(self.lexical_weight_, dtype=np.float64),
            "max_df": np.asarray(self.features_max_df_, dtype=np.float64),
            "semantic_static": np.asarray(self.semantic_ == STATIC, dtype=np.int8),
        }

    def set_state(self, state: Mapping[str, Any]) -> HybridEncoder:
        self.lexical_weight_ = float(np.asarray(state["lexical_weight"]).reshape(-1)[0])
        self.features_max_df_ = float(np.asarray(state["max_df"]).reshape(-1)[0])
        self.features_ = VectorFeatures(**self._features(self.features_max_df_)).set_state(state["features"])
        self.lsa_components_ = np.asarray(state["lsa_components"])
        # a model saved before the static half existed used the transformer
        static = state.get("semantic_static") is not None and bool(np.asarray(state["semantic_static"]).any())
        self.semantic_ = STATIC if static else TRANSFORMER
        return self
