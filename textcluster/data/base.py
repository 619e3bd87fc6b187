"""The dataset contract every loader returns."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from textcluster.errors import UserError

log = logging.getLogger(__name__)

TEXT = "text"
IMAGE = "image"


@dataclass
class Dataset:
    """Documents or images, with optional true labels and ids.

    Exactly one of ``texts`` (list of str) and ``images`` (float32 array of
    shape (n, height, width), values in [0, 1]) is set; ``modality`` says which.
    """

    name: str
    texts: list[str] | None = None
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    ids: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.texts is None) == (self.images is None):
            raise ValueError("a Dataset holds either texts or images")
        n = len(self)
        if self.ids is None:
            self.ids = np.arange(n)
        if self.labels is not None:
            self.labels = np.asarray(self.labels)
            if len(self.labels) != n:
                raise UserError(
                    f"{self.name}: {len(self.labels)} labels for {n} items; "
                    "the label source must have exactly one label per item, in the same order"
                )

    @property
    def modality(self) -> str:
        return TEXT if self.texts is not None else IMAGE

    @property
    def has_labels(self) -> bool:
        return self.labels is not None

    @property
    def n_classes(self) -> int | None:
        return None if self.labels is None else len(np.unique(self.labels))

    def __len__(self) -> int:
        return len(self.texts) if self.texts is not None else len(self.images)

    def select(self, indices: np.ndarray) -> "Dataset":
        """A new dataset with the rows at ``indices`` (ids are kept)."""
        indices = np.asarray(indices, dtype=int)
        return Dataset(
            name=self.name,
            texts=None if self.texts is None else [self.texts[i] for i in indices],
            images=None if self.images is None else self.images[indices],
            labels=None if self.labels is None else self.labels[indices],
            ids=self.ids[indices],
            meta=dict(self.meta),
        )

    def subsample(self, limit: int | None, seed: int) -> "Dataset":
        """A seeded random subset of ``limit`` rows, in their original order."""
        if limit is None or limit >= len(self):
            return self
        if limit < 1:
            raise UserError(f"data.limit must be a positive number of rows, got {limit}")
        rng = np.random.default_rng(seed)
        return self.select(np.sort(rng.choice(len(self), size=int(limit), replace=False)))

    def drop_empty_texts(self) -> "Dataset":
        """Drop documents that are empty after stripping whitespace, with a counted warning."""
        if self.texts is None:
            return self
        keep = np.array([bool(t and t.strip()) for t in self.texts], dtype=bool)
        if not keep.any():
            raise UserError(
                f"{self.name}: all {len(self.texts)} documents are empty; "
                "check data.text_column (or the file) points at the text"
            )
        if not keep.all():
            log.warning("%s: dropped %d empty documents of %d", self.name, int((~keep).sum()), len(keep))
            return self.select(np.flatnonzero(keep))
        return self
