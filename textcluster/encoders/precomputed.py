"""``encoder=precomputed``: vectors computed elsewhere (``data=embeddings``), used as they are.

Nothing is fitted and nothing is copied when the vectors are float32 already:
a memory-mapped file stays on disk and the later stages read it in place.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from textcluster.contracts import Encoder, TrainingContext
from textcluster.dataset import VECTORS, Dataset
from textcluster.encoders.base import l2_normalize
from textcluster.errors import UserError
from textcluster.params import Bool
from textcluster.registry import encoders

log = logging.getLogger(__name__)


@encoders.register("precomputed")
class PrecomputedEncoder(Encoder):
    """The dataset's own vectors, as float32; ``normalize`` scales each to unit length (cosine geometry)."""

    uses_torch = False  # no network: a run with it never imports torch

    modalities = (VECTORS,)
    depends_on_seed = False
    copies_input = True  # the vectors are on disk already: caching or saving them would copy the file
    parameters = {"normalize": Bool()}

    def __init__(self, normalize: bool = False):
        self.normalize = normalize

    def fit(self, dataset: Dataset, context: TrainingContext | None = None) -> PrecomputedEncoder:
        self.dimension_ = int(self._vectors(dataset).shape[1])
        return self

    def transform(self, dataset: Dataset) -> np.ndarray:
        vectors = self._vectors(dataset)
        dimension = getattr(self, "dimension_", None)
        if dimension is not None and vectors.shape[1] != dimension:
            raise UserError(
                f"the vectors have {vectors.shape[1]} dimensions but the model was fitted on {dimension}; "
                "embed the new documents with the model that made the training vectors"
            )
        if vectors.dtype != np.float32:
            log.info("precomputed encoder: %s vectors converted to float32 (a copy in memory)", vectors.dtype)
            vectors = vectors.astype(np.float32)
        return l2_normalize(vectors) if self.normalize else vectors

    @staticmethod
    def _vectors(dataset: Dataset) -> np.ndarray:
        if dataset.vectors is None:
            raise UserError(f"encoder=precomputed reads vectors (data=embeddings); {dataset.name} has none")
        return dataset.vectors

    def get_state(self) -> dict[str, Any]:
        return {"dimension_": self.dimension_}
