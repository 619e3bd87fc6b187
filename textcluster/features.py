"""Vector inputs for encoders that read fixed-width vectors (dense autoencoder, raw).

Images become flattened pixels; texts become TF-IDF vectors (scikit-learn),
which is what DEC-style autoencoders were designed around.
"""

from __future__ import annotations

import logging

import numpy as np

from textcluster.data import IMAGE, Dataset
from textcluster.errors import UserError

log = logging.getLogger(__name__)


class VectorFeatures:
    """Fit on a dataset once, then turn any dataset of the same modality into float32 vectors."""

    def __init__(self, max_features: int = 2000, min_df: int | float = 2, max_df: float = 0.95,
                 stop_words: str | None = "english", sublinear_tf: bool = True, ngram_range=(1, 1)):
        self.tfidf_params = dict(max_features=max_features, min_df=min_df, max_df=max_df,
                                 stop_words=stop_words, sublinear_tf=sublinear_tf,
                                 ngram_range=tuple(ngram_range), dtype=np.float32)
        self.vectorizer_ = None
        self.modality_: str | None = None

    def fit(self, dataset: Dataset) -> "VectorFeatures":
        self.modality_ = dataset.modality
        if dataset.modality == IMAGE:
            return self
        from sklearn.feature_extraction.text import TfidfVectorizer

        params = dict(self.tfidf_params)
        if len(dataset) < 50:  # min_df/max_df meant for a corpus would empty a tiny one
            params.update(min_df=1, max_df=1.0)
        self.vectorizer_ = TfidfVectorizer(**params)
        try:
            self.vectorizer_.fit(dataset.texts)
        except ValueError as error:  # "empty vocabulary": every word is a stop word or too rare
            raise UserError(f"TF-IDF found no usable words in {dataset.name} ({error}); "
                            "lower encoder.features.min_df or set encoder.features.stop_words=null") from None
        log.info("TF-IDF vocabulary: %d terms", len(self.vectorizer_.vocabulary_))
        return self

    def transform(self, dataset: Dataset) -> np.ndarray:
        if dataset.modality != self.modality_:
            raise UserError(f"features were fitted on {self.modality_} data but got {dataset.modality} data")
        if dataset.modality == IMAGE:
            return dataset.images.reshape(len(dataset), -1).astype(np.float32)
        return self.vectorizer_.transform(dataset.texts).toarray()

    def fit_transform(self, dataset: Dataset) -> np.ndarray:
        return self.fit(dataset).transform(dataset)
