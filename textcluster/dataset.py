"""The dataset every stage reads: texts or images, with optional true labels and ids."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from textcluster.errors import UserError

log = logging.getLogger(__name__)

TEXT = "text"
IMAGE = "image"
VECTORS = "vectors"

FINITE_CHECK_BYTES = 1 << 25
"""Bytes of vectors :func:`check_finite` reads at a time: a memory-mapped million rows is never copied whole."""

KEYWORD_CHARS = 100_000
"""Only a document's first this many characters count for its words (TF-IDF features, topic keywords, the
hybrid encoder's length rule): word counting holds every word of a document at once, as a Python string
each, so one huge document (a 48 MB line) would cost memory in proportion; a document's first 100,000
characters (some 15,000 words) already say what it is about."""


def check_finite(array: np.ndarray, what: str) -> None:
    """Refuse vectors holding NaN or infinity (one UserError naming how many rows and the first one).

    ``array`` is (n, d), possibly memory-mapped: it is read in blocks of about FINITE_CHECK_BYTES.
    """
    array = np.asanyarray(array)  # a memmap stays one
    if array.dtype.kind not in "fc" or array.size == 0:
        return  # integers cannot hold NaN; an object array fails elsewhere with its own message
    n = len(array)
    row_bytes = max(1, array.itemsize * (array.size // n))
    step = max(1, FINITE_CHECK_BYTES // row_bytes)
    n_bad, first = 0, None
    for start in range(0, n, step):
        block = np.asarray(array[start : start + step])
        bad = ~np.isfinite(block.reshape(len(block), -1)).all(axis=1)
        if bad.any():
            n_bad += int(bad.sum())
            first = start + int(np.argmax(bad)) if first is None else first
    if n_bad:
        raise UserError(
            f"{what}: {n_bad} of {n} rows hold NaN or infinite values (the first is row {first}); "
            "remove or fix those rows"
        )


def keyword_text(text: str) -> str:
    """The part of a document that counts for its words: its first KEYWORD_CHARS characters."""
    return text[:KEYWORD_CHARS]


def parse_times(values: Any, what: str) -> np.ndarray:
    """Each value as a ``datetime64[ns]`` (NaT for an empty cell), or one UserError naming a value that is no date.

    Text in any format pandas reads (ISO dates, "03/15/2021", "2021-03-15 10:00+02:00"; offsets are converted
    to UTC so that one column can mix them), datetimes, or numbers: whole numbers from 1000 to 2999 are years,
    eight-digit ones such as 20210315 dates, other numbers Unix seconds (pandas would read 2021 as 2021
    nanoseconds after 1970). ``what`` names the source in the message (``data.time_column='date'``).
    """
    import pandas as pd

    series = (
        values
        if isinstance(values, pd.Series)
        else pd.Series(list(values) if isinstance(values, (list, tuple)) else values)
    )
    series = series.reset_index(drop=True)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert(None)
    if pd.api.types.is_datetime64_any_dtype(series):  # already times (a Parquet timestamp column, a datetime list)
        return series.to_numpy(dtype="datetime64[ns]")
    blank = series.isna() | series.astype(str).str.strip().eq("")
    present = series[~blank]
    if pd.api.types.is_bool_dtype(present.infer_objects()):
        raise UserError(f"{what}: holds true/false values, not dates; point it at a column of dates")
    numbers = pd.to_numeric(present, errors="coerce")
    if len(present) and numbers.notna().all():
        parsed = _times_from_numbers(numbers)
    else:
        parsed = _times_from_text(present.astype(str))
    bad = parsed.isna()
    if bad.any():
        example = present[bad].iloc[0]
        raise UserError(
            f"{what}: cannot read {str(example)!r} (row {int(present.index[bad][0])}) as a date; "
            "fix that value, or write the column as dates such as 2021-03-15"
        )
    times = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    times[~blank] = parsed.to_numpy(dtype="datetime64[ns]")
    return times.to_numpy(dtype="datetime64[ns]")


def _times_from_numbers(numbers: Any):
    import pandas as pd

    whole = (numbers % 1 == 0).all()
    for low, high, layout in ((1000, 2999, "%Y"), (10000101, 29991231, "%Y%m%d")):
        if whole and numbers.between(low, high).all():
            text = numbers.astype("int64").astype(str)
            return pd.Series(pd.to_datetime(text, format=layout, errors="coerce"), index=numbers.index)
    return pd.Series(pd.to_datetime(numbers, unit="s", errors="coerce"), index=numbers.index)


def _times_from_text(text: Any):
    """Dates as text; the common case (one format, inferred from the first value) parses fast, a column
    mixing formats falls back to reading each value on its own."""
    import pandas as pd

    try:
        parsed = pd.to_datetime(text, utc=True)
    except (ValueError, TypeError, OverflowError):
        parsed = pd.to_datetime(text, utc=True, format="mixed", errors="coerce")
    return pd.Series(parsed, index=text.index).dt.tz_convert(None)


@dataclass
class Dataset:
    """Documents, images or precomputed vectors, with optional true labels, ids, times and groups.

    One of ``texts`` (list of str), ``images`` (float32 array of shape
    (n, height, width), values in [0, 1]) and ``vectors`` (array (n, d), often
    memory-mapped) is the input; ``modality`` says which. Vectors may come with
    their documents' ``texts`` too, for topics and the report (as BERTopic
    takes precomputed embeddings beside the documents). ``times``
    (``datetime64[ns]``, NaT where unknown) and ``groups`` (strings) describe
    each document, for topics over time and per group
    (:mod:`textcluster.topics.over_time`).
    """

    name: str
    texts: list[str] | None = None
    images: np.ndarray | None = None
    labels: np.ndarray | None = None
    ids: np.ndarray | None = None
    vectors: np.ndarray | None = None
    times: np.ndarray | None = None
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        inputs = sum(part is not None for part in (self.images, self.vectors))
        if inputs > 1 or (inputs == 0 and self.texts is None) or (self.images is not None and self.texts is not None):
            raise ValueError("a Dataset holds texts, images or vectors (vectors may come with their texts)")
        if self.vectors is not None:
            # every way vectors come in (a loader, Pipeline.fit / predict on an array) builds a Dataset
            check_finite(self.vectors, self.name)
        if self.vectors is not None and self.texts is not None and len(self.texts) != len(self.vectors):
            raise UserError(
                f"{self.name}: {len(self.texts)} texts for {len(self.vectors)} vectors; "
                "the texts must be the vectors' documents, one per row, in the same order"
            )
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
        for part in ("times", "groups"):
            values = getattr(self, part)
            if values is not None and len(values) != n:
                raise UserError(f"{self.name}: {len(values)} {part} for {n} items; give one per item, in order")

    @classmethod
    def from_documents(cls, documents: Any, labels: Any = None, ids: Any = None, name: str = "documents") -> Dataset:
        """A Dataset from a Dataset, a list/Series of strings, an image array (n, height, width) or a float
        array of vectors (n, d)."""
        if isinstance(documents, Dataset):
            if labels is not None or ids is not None:
                raise UserError("labels= and ids= are for plain documents; a Dataset carries its own")
            return documents
        if isinstance(documents, (str, bytes)):
            raise UserError("pass a list of documents, not a single string (wrap it: [text])")
        if hasattr(documents, "detach") and hasattr(documents, "cpu"):  # a torch tensor
            documents = documents.detach().cpu().numpy()
        if hasattr(documents, "to_numpy") and not isinstance(documents, np.ndarray):  # pandas Series
            documents = documents.to_numpy()
        labels = None if labels is None else np.asarray(labels)
        ids = None if ids is None else np.asarray(ids)
        if isinstance(documents, np.ndarray) and documents.dtype.kind == "f" and documents.ndim == 2:
            return cls(name=name, vectors=documents, labels=labels, ids=ids)  # (n, d): precomputed embeddings
        if isinstance(documents, np.ndarray) and documents.dtype.kind in "biuf":
            return cls(name=name, images=_as_images(documents), labels=labels, ids=ids)
        texts = list(documents)
        bad = next((i for i, text in enumerate(texts) if not isinstance(text, str)), None)
        if bad is not None:
            raise UserError(f"documents must be strings; item {bad} is a {type(texts[bad]).__name__}")
        if not texts:
            raise UserError("no documents given")
        return cls(name=name, texts=texts, labels=labels, ids=ids)

    @property
    def modality(self) -> str:
        if self.vectors is not None:
            return VECTORS
        return TEXT if self.texts is not None else IMAGE

    @property
    def has_texts(self) -> bool:
        """Documents to describe (topics, the map's hover text): text data, or vectors given with their texts."""
        return self.texts is not None

    @property
    def has_labels(self) -> bool:
        return self.labels is not None

    @property
    def n_classes(self) -> int | None:
        return None if self.labels is None else len(np.unique(self.labels))

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return None if self.images is None else tuple(int(side) for side in self.images.shape[1:3])

    def __len__(self) -> int:
        for part in (self.vectors, self.images, self.texts):
            if part is not None:
                return len(part)
        return 0

    def select(self, indices: np.ndarray) -> Dataset:
        """A new dataset with the rows at ``indices`` (ids are kept)."""
        indices = np.asarray(indices, dtype=int)
        return Dataset(
            name=self.name,
            texts=None if self.texts is None else [self.texts[i] for i in indices],
            images=None if self.images is None else self.images[indices],
            labels=None if self.labels is None else self.labels[indices],
            ids=self.ids[indices],
            vectors=None if self.vectors is None else self.vectors[indices],
            times=None if self.times is None else self.times[indices],
            groups=None if self.groups is None else self.groups[indices],
        )

    def subsample(self, limit: int | None, seed: int) -> Dataset:
        """A seeded random subset of ``limit`` rows, in their original order."""
        if limit is None or limit >= len(self):
            return self
        rng = np.random.default_rng(seed)
        return self.select(np.sort(rng.choice(len(self), size=int(limit), replace=False)))

    def drop_empty_texts(self) -> Dataset:
        """Drop documents that are empty after stripping whitespace, with a counted warning."""
        if self.texts is None or self.vectors is not None:  # a vector stands for its document, empty or not
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


def _as_images(array: np.ndarray) -> np.ndarray:
    """An (n, height, width) float32 array in [0, 1] from pixels as numbers (0-255 integers are rescaled)."""
    images = array
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    elif images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise UserError(f"an image array must have shape (n, height, width); got {array.shape}")
    images = images.astype(np.float32)
    if array.dtype.kind in "biu" or (images.size and images.max() > 1.0):
        images = images / 255.0  # 0-255 pixels to [0, 1], as the loaders give them
    return images
