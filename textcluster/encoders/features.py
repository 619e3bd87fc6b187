"""Vector inputs for encoders that read fixed-width vectors (dense autoencoder, raw, the sequence targets).

Images become flattened pixels; texts become TF-IDF vectors (scikit-learn),
which is what DEC-style autoencoders were designed around.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from textcluster.contracts import constructor_defaults
from textcluster.dataset import IMAGE, Dataset, keyword_text
from textcluster.errors import UserError
from textcluster.params import NULL, Block, Bool, Choice, Float, Int, ListOf

log = logging.getLogger(__name__)

TFIDF_SETTINGS = Block(
    {
        "max_features": Int(min=1) | NULL,
        "min_df": Int(min=1) | Float(min=0, max=1),
        "max_df": Int(min=1) | Float(min=0, max=1, min_open=True),
        "stop_words": Choice("english") | NULL,
        "sublinear_tf": Bool(),
        "ngram_range": ListOf(Int(min=1), length=2),
    }
)
"""``encoder.features.*``: the TfidfVectorizer settings every vector encoder takes."""

SMALL_CORPUS = 50  # below this many documents, min_df/max_df meant for a corpus would empty the vocabulary


class VectorFeatures:
    """Fit on a dataset once, then turn any dataset of the same modality into float32 vectors."""

    def __init__(
        self,
        max_features: int | None = 2000,
        min_df: int | float = 2,
        max_df: float = 0.95,
        stop_words: str | None = "english",
        sublinear_tf: bool = True,
        ngram_range=(1, 1),
    ):
        self.tfidf_params = dict(
            max_features=max_features,
            min_df=min_df,
            max_df=max_df,
            stop_words=stop_words,
            sublinear_tf=sublinear_tf,
            ngram_range=tuple(ngram_range),
            dtype=np.float32,
        )
        self.vectorizer_ = None
        self.modality_: str | None = None

    def fit(self, dataset: Dataset) -> VectorFeatures:
        self.modality_ = dataset.modality
        if dataset.modality == IMAGE:
            return self
        from sklearn.feature_extraction.text import TfidfVectorizer

        params = dict(self.tfidf_params)
        if len(dataset) < SMALL_CORPUS:
            params.update(min_df=1, max_df=1.0)
        self.vectorizer_ = TfidfVectorizer(**params)
        try:
            self.vectorizer_.fit(self.texts(dataset))
        except ValueError as error:  # "empty vocabulary": every word is a stop word or too rare
            raise UserError(
                f"TF-IDF found no usable words in {dataset.name} ({error}); "
                "lower encoder.features.min_df or set encoder.features.stop_words=null"
            ) from None
        log.info("TF-IDF vocabulary: %d terms", len(self.vectorizer_.vocabulary_))
        return self

    @staticmethod
    def texts(dataset: Dataset) -> list[str]:
        """What the vectorizer reads of each document (:data:`~textcluster.dataset.KEYWORD_CHARS`)."""
        return [keyword_text(text) for text in dataset.texts]

    def tfidf(self, dataset: Dataset):
        """The sparse TF-IDF matrix of a text dataset."""
        if dataset.modality != self.modality_:
            raise UserError(f"features were fitted on {self.modality_} data but got {dataset.modality} data")
        return self.vectorizer_.transform(self.texts(dataset))

    def transform(self, dataset: Dataset) -> np.ndarray:
        if dataset.modality == IMAGE and self.modality_ == IMAGE:
            return dataset.images.reshape(len(dataset), -1).astype(np.float32)
        return self.tfidf(dataset).toarray()

    def fit_transform(self, dataset: Dataset) -> np.ndarray:
        return self.fit(dataset).transform(dataset)

    @property
    def n_features(self) -> int | None:
        return None if self.vectorizer_ is None else len(self.vectorizer_.vocabulary_)

    def get_state(self) -> dict[str, Any]:
        if self.vectorizer_ is None:
            return {"modality": self.modality_}
        vocabulary = {str(term): int(index) for term, index in self.vectorizer_.vocabulary_.items()}
        return {"modality": self.modality_, "vocabulary": vocabulary, "idf": np.asarray(self.vectorizer_.idf_)}

    def set_state(self, state: Mapping[str, Any]) -> VectorFeatures:
        """A fitted vectorizer again, from its vocabulary and IDF weights (scikit-learn's own transform)."""
        self.modality_ = state["modality"]
        if "vocabulary" in state:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.vectorizer_ = TfidfVectorizer(**self.tfidf_params, vocabulary=dict(state["vocabulary"]))
            self.vectorizer_.idf_ = np.asarray(state["idf"])
        return self


TFIDF_DEFAULTS = constructor_defaults(VectorFeatures)
"""``encoder.features`` of the vector encoders (dense, raw, the sequence targets): VectorFeatures' own defaults."""
