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
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from textcluster.contracts import TrainingContext
from textcluster.dataset import Dataset, keyword_text
from textcluster.encoders.features import TFIDF_SETTINGS, VectorFeatures
from textcluster.encoders.pretrained import PRETRAINED_SETTINGS, PretrainedEncoder
from textcluster.errors import UserError
from textcluster.params import Block, Choice, Float, Int
from textcluster.registry import encoders

log = logging.getLogger(__name__)

# TruncatedSVD's randomised solver gets a fixed seed: the lexical view is then a function of the
# corpus and the settings alone, so runs over several seeds share one embedding cache entry.
SVD_RANDOM_STATE = 0

AUTO = "auto"
LONG_DOCUMENT_WORDS = 50  # median words per document from which a corpus counts as long
LEXICAL = {"short": {"lexical_weight": 0.5, "max_df": 1.0}, "long": {"lexical_weight": 1.0, "max_df": 0.5}}
HYBRID_TFIDF_SETTINGS = Block({**TFIDF_SETTINGS.fields, "max_df": TFIDF_SETTINGS.fields["max_df"] | Choice(AUTO)})


def document_length(dataset: Dataset) -> str:
    """``long`` when the median document has at least LONG_DOCUMENT_WORDS words, else ``short``."""
    words = np.median([len(keyword_text(text).split()) for text in dataset.texts]) if len(dataset) else 0
    return "long" if words >= LONG_DOCUMENT_WORDS else "short"


@encoders.register("hybrid")
class HybridEncoder(PretrainedEncoder):
    """Pretrained embedding (``encoder=pretrained`` settings) beside ``lexical_weight`` x LSA of TF-IDF."""

    depends_on_seed = False  # see SVD_RANDOM_STATE
    refinable = False  # the lexical half is not a network
    parameters = {
        **PRETRAINED_SETTINGS,
        "lexical_weight": Float(min=0) | Choice(AUTO),
        "lexical_dims": Int(min=1),
        "features": HYBRID_TFIDF_SETTINGS,
    }

    def __init__(
        self,
        lexical_weight: float | str = AUTO,
        lexical_dims: int = 200,
        features: Mapping[str, Any] | None = None,
        **pretrained,
    ):
        super().__init__(**pretrained)  # every encoder=pretrained setting (PRETRAINED_SETTINGS)
        self.lexical_weight, self.lexical_dims = lexical_weight, lexical_dims
        self.features = dict(features or {})

    def fit(self, dataset: Dataset, context: TrainingContext | None = None) -> HybridEncoder:
        from sklearn.decomposition import TruncatedSVD

        self.load()
        length = document_length(dataset)
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
        tfidf = self.features_.tfidf(dataset)
        # SVD needs fewer components than terms and documents; a small corpus gets what it can hold
        dims = min(self.lexical_dims, tfidf.shape[1] - 1, len(dataset) - 1)
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
        }

    def set_state(self, state: Mapping[str, Any]) -> HybridEncoder:
        self.lexical_weight_ = float(np.asarray(state["lexical_weight"]).reshape(-1)[0])
        self.features_max_df_ = float(np.asarray(state["max_df"]).reshape(-1)[0])
        self.features_ = VectorFeatures(**self._features(self.features_max_df_)).set_state(state["features"])
        self.lsa_components_ = np.asarray(state["lsa_components"])
        return self
