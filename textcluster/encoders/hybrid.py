"""``encoder=hybrid``: pretrained sentence embeddings side by side with the corpus' own words.

A sentence encoder places texts by meaning as its training corpus saw it; it
blurs the single words that name a class in many real corpora (StackOverflow's
tags: "magento", "drupal", "wordpress" questions all read as "web CMS
questions"). TF-IDF keeps those words but misses meaning. The hybrid code
concatenates both views, each L2-normalised, the lexical one reduced by LSA
(TF-IDF then truncated SVD) and scaled by ``lexical_weight``, so cosine
distance on the result mixes the two in a known ratio.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from textcluster.contracts import TrainingContext
from textcluster.dataset import Dataset
from textcluster.encoders.features import TFIDF_SETTINGS, VectorFeatures
from textcluster.encoders.pretrained import PRETRAINED_SETTINGS, PretrainedEncoder
from textcluster.errors import UserError
from textcluster.params import Float, Int
from textcluster.registry import encoders

log = logging.getLogger(__name__)

# TruncatedSVD's randomised solver gets a fixed seed: the lexical view is then a function of the
# corpus and the settings alone, so runs over several seeds share one embedding cache entry.
SVD_RANDOM_STATE = 0


@encoders.register("hybrid")
class HybridEncoder(PretrainedEncoder):
    """Pretrained embedding (``encoder=pretrained`` settings) beside ``lexical_weight`` x LSA of TF-IDF."""

    depends_on_seed = False  # see SVD_RANDOM_STATE
    refinable = False  # the lexical half is not a network
    parameters = {
        **PRETRAINED_SETTINGS,
        "lexical_weight": Float(min=0),
        "lexical_dims": Int(min=1),
        "features": TFIDF_SETTINGS,
    }

    def __init__(
        self,
        lexical_weight: float = 0.5,
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
        self.features_ = VectorFeatures(**self.features).fit(dataset)
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

    def lexical(self, dataset: Dataset) -> np.ndarray:
        """L2-normalised LSA vectors of the documents (a document without a known word stays 0)."""
        from sklearn.preprocessing import normalize

        lsa = self.features_.tfidf(dataset) @ self.lsa_components_.T  # TruncatedSVD.transform
        return normalize(np.asarray(lsa)).astype(np.float32)

    def transform(self, dataset: Dataset) -> np.ndarray:
        semantic = super().transform(dataset)
        return np.hstack([semantic, self.lexical_weight * self.lexical(dataset)])

    def refinement_view(self, dataset: Dataset):
        raise UserError(
            "encoder=hybrid has no refiner support yet (its lexical half is not a network); "
            "use refiner=none, or encoder=pretrained with refiner=contrastive"
        )

    def get_state(self) -> dict[str, Any]:
        return {"features": self.features_.get_state(), "lsa_components": self.lsa_components_}

    def set_state(self, state: Mapping[str, Any]) -> HybridEncoder:
        self.features_ = VectorFeatures(**self.features).set_state(state["features"])
        self.lsa_components_ = np.asarray(state["lsa_components"])
        return self
