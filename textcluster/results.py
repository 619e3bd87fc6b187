"""What stages hand to each other and to the reporting layer: plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textcluster.dataset import Dataset


@dataclass(frozen=True)
class NoiseReport:
    """The noise policy applied to a fit: its key and the share of noise points before and after."""

    policy: str
    fraction_before: float
    fraction_after: float


@dataclass(frozen=True)
class Refinement:
    """A refiner's output: the encoder's refined codes and the refined cluster labels."""

    embeddings: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class EvaluationInput:
    """Everything an evaluator may read about one clustering (one signature for every evaluator).

    ``space``: the points as they were clustered (after the reducer, or the
    refined codes); ``labels``: the final labels (-1 is noise);
    ``true_labels``: None without labels; ``embeddings``: the encoder's
    output; ``texts`` and ``topics`` for text runs (``topics`` is None when the
    topic stage did not run).
    """

    space: np.ndarray
    labels: np.ndarray
    true_labels: np.ndarray | None
    embeddings: np.ndarray
    modality: str
    texts: Sequence[str] | None = None
    topics: Any = None


@dataclass(frozen=True)
class Prediction:
    """New documents assigned to a fitted pipeline's clusters (rows in input order)."""

    dataset: Dataset
    labels: np.ndarray  # final cluster (topic) ids, as in assignments.csv; -1 is noise
    scores: np.ndarray | None  # distance to the centre or membership probability, per ``score_name``
    score_name: str | None
    embeddings: np.ndarray
    reduced: np.ndarray
    cluster_labels: np.ndarray  # the clusterer's (or refiner's) labels before the noise policy and topic merging
    topic_labels: list[str] | None = None  # each document's topic label (text runs with topics), else None

    def frame(self):
        """A pandas DataFrame, one row per document: ``cluster`` (topic id, -1 noise), ``topic`` (its label,
        when the model has topics), the distance or probability, and the text (text data)."""
        import pandas as pd

        columns = {"cluster": self.labels}
        if self.topic_labels is not None:
            columns["topic"] = self.topic_labels
        if self.score_name:
            columns[self.score_name] = self.scores
        if self.dataset.texts is not None:
            columns["text"] = self.dataset.texts
        return pd.DataFrame(columns, index=pd.Index(self.dataset.ids, name="id"))
