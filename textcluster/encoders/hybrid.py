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

import numpy as np

from textcluster.data import Dataset
from textcluster.encoders.base import TrainingContext
from textcluster.encoders.pretrained import PretrainedEncoder
from textcluster.errors import UserError
from textcluster.features import VectorFeatures
from textcluster.registry import encoders

log = logging.getLogger(__name__)

# TruncatedSVD's randomised solver gets a fixed seed: the lexical view is then a function of the
# corpus and the settings alone, so runs over several seeds share one embedding cache entry.
SVD_RANDOM_STATE = 0


@encoders.register("hybrid")
class HybridEncoder(PretrainedEncoder):
    """Pretrained embedding (``encoder=pretrained`` settings) beside ``lexical_weight`` x LSA of TF-IDF."""

    needs_fit = True  # the TF-IDF vocabulary and the SVD are fitted on the corpus
    depends_on_seed = False  # see SVD_RANDOM_STATE

    def __init__(self, lexical_weight: float = 0.5, lexical_dims: int = 200, features: dict | None = None,
                 **pretrained):
        super().__init__(**pretrained)
        if lexical_weight < 0:
            raise UserError(f"encoder.lexical_weight must be >= 0 (0 gives the pretrained embedding alone), "
                            f"got {lexical_weight}")
        if int(lexical_dims) < 1:
            raise UserError(f"encoder.lexical_dims must be >= 1, got {lexical_dims}")
        self.lexical_weight, self.lexical_dims = float(lexical_weight), int(lexical_dims)
        self.features = VectorFeatures(**(features or {}))
        self.svd_ = None

    def fit(self, dataset: Dataset | None = None, context: TrainingContext | None = None) -> "HybridEncoder":
        super().fit(dataset, context)  # loads the pretrained model
        if dataset is None:
            return self
        from sklearn.decomposition import TruncatedSVD

        self.features.fit(dataset)
        tfidf = self.features.vectorizer_.transform(dataset.texts)
        # SVD needs fewer components than terms and documents; a small corpus gets what it can hold
        dims = min(self.lexical_dims, tfidf.shape[1] - 1, len(dataset) - 1)
        if dims < 1:
            raise UserError(f"{dataset.name} is too small for a lexical view ({tfidf.shape[1]} terms, "
                            f"{len(dataset)} documents); use encoder=pretrained")
        if dims < self.lexical_dims:
            log.info("hybrid encoder: %d LSA dimensions (the corpus holds too few terms or documents for %d)",
                     dims, self.lexical_dims)
        self.svd_ = TruncatedSVD(dims, random_state=SVD_RANDOM_STATE).fit(tfidf)
        return self

    def lexical(self, dataset: Dataset) -> np.ndarray:
        """L2-normalised LSA vectors of the documents (a document without a known word stays 0)."""
        from sklearn.preprocessing import normalize

        if self.svd_ is None:
            raise UserError("encoder=hybrid is not fitted: its vocabulary comes from the corpus; call fit first")
        return normalize(self.svd_.transform(self.features.vectorizer_.transform(dataset.texts))).astype(np.float32)

    def transform(self, dataset: Dataset) -> np.ndarray:
        semantic = super().transform(dataset)
        return np.hstack([semantic, self.lexical_weight * self.lexical(dataset)])

    def refinement_view(self, dataset: Dataset):
        raise UserError("encoder=hybrid has no refiner support yet (its lexical half is not a network); "
                        "use refiner=none, or encoder=pretrained with refiner=contrastive")
