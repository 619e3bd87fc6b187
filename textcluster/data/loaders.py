"""Built-in dataset loaders, registered under the keys used by ``data=<key>``."""

from __future__ import annotations

import gzip
import logging
import struct
import urllib.request
from pathlib import Path

import numpy as np

from textcluster.contracts import DatasetLoader
from textcluster.dataset import IMAGE, TEXT, VECTORS, Dataset, parse_times
from textcluster.errors import UserError
from textcluster.params import ANY, NULL, Bool, Choice, Int, ListOf, Str
from textcluster.registry import datasets

log = logging.getLogger(__name__)


def _existing_path(path: str | None, what: str, example: str) -> Path:
    if path is None or str(path).strip() == "":
        raise UserError(f"{what} needs a path; set {example}")
    resolved = Path(str(path)).expanduser()
    if not resolved.exists():
        raise UserError(f"{what}: '{resolved}' does not exist; fix the path in {example.split('=')[0]}")
    return resolved


@datasets.register("digits")
class DigitsLoader(DatasetLoader):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes): no download."""

    modality = IMAGE
    parameters = {}

    def load(self) -> Dataset:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = (bunch.images / 16.0).astype(np.float32)
        return Dataset(name="digits", images=images, labels=bunch.target.astype(int))


# ---------------------------------------------------------------- MNIST (IDX)

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Used only with data.download=true; tests and CI read local files.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Parse an IDX file (raw or gzip-compressed) into a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise UserError(f"{path}: cannot read IDX file ({error}); re-download it or fix data.path") from None
    if len(raw) < 8:
        raise UserError(f"{path}: malformed IDX file (only {len(raw)} bytes); re-download it")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expected_magic:
        raise UserError(
            f"{path}: malformed IDX file (magic number {magic}, expected {expected_magic}); "
            "is it the right file, and not corrupted? Re-download it"
        )
    n_dims = raw[3]
    header_size = 4 + 4 * n_dims
    shape = struct.unpack(f">{n_dims}I", raw[4:header_size])
    expected = int(np.prod(shape))
    if len(raw) - header_size != expected:
        raise UserError(
            f"{path}: malformed IDX file (header says {shape} = {expected} values, "
            f"found {len(raw) - header_size}); the file is truncated or corrupted, re-download it"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    return None


def download_mnist(folder: Path, split: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem in MNIST_FILES[split]:
        target = folder / f"{stem}.gz"
        if target.exists():
            continue
        for mirror in MNIST_MIRRORS:
            try:
                log.info("downloading %s%s.gz", mirror, stem)
                urllib.request.urlretrieve(f"{mirror}{stem}.gz", target)
                break
            except OSError as error:
                log.warning("download from %s failed: %s", mirror, error)
        else:
            raise UserError(f"could not download {stem}.gz; put the MNIST IDX files in {folder} yourself")


@datasets.register("mnist")
class MnistLoader(DatasetLoader):
    """MNIST from IDX files in ``path`` (``.gz`` or raw); ``split`` is test, train or all."""

    modality = IMAGE
    parameters = {"path": Str() | NULL, "split": Choice("test", "train", "all"), "download": Bool()}

    def __init__(self, path: str | None = None, split: str = "test", download: bool = False):
        self.path, self.split, self.download = path, split, download

    def load(self) -> Dataset:
        splits = ["train", "test"] if self.split == "all" else [self.split]
        if self.download and self.path:
            for split in splits:
                download_mnist(Path(self.path), split)
        folder = _existing_path(self.path, "data=mnist", "data.path=<folder with the MNIST IDX files>")
        images, labels = [], []
        for split in splits:
            image_stem, label_stem = MNIST_FILES[split]
            image_file, label_file = _find_idx(folder, image_stem), _find_idx(folder, label_stem)
            if image_file is None or label_file is None:
                raise UserError(
                    f"data=mnist: {folder} lacks {image_stem}[.gz] and {label_stem}[.gz]; "
                    "point data.path at the folder holding them, or add data.download=true when online"
                )
            images.append(read_idx(image_file, IDX_IMAGES_MAGIC))
            labels.append(read_idx(label_file, IDX_LABELS_MAGIC))
            if len(images[-1]) != len(labels[-1]):
                raise UserError(
                    f"data=mnist: {image_file.name} has {len(images[-1])} images but {label_file.name} has "
                    f"{len(labels[-1])} labels"
                )
        pixels = np.concatenate(images).astype(np.float32) / 255.0
        return Dataset(name="mnist", images=pixels, labels=np.concatenate(labels).astype(int))


# ------------------------------------------------------------- tables (text)


def _read_table(path: Path):
    import pandas as pd

    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if suffixes.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path, keep_default_na=False)
        if suffixes.endswith((".tsv", ".tsv.gz")):
            return pd.read_csv(path, sep="\t", keep_default_na=False)
        if suffixes.endswith((".jsonl", ".jsonl.gz", ".json")):
            lines = not suffixes.endswith(".json") or _looks_like_jsonl(path)
            try:
                return pd.read_json(path, lines=lines)
            except (ValueError, TypeError) as error:  # TypeError: a line that is an array or a number
                # pandas names a character offset into the whole file; a person fixes a line
                problem = _first_bad_json_line(path) if lines else None
                if problem is not None:
                    raise UserError(f"{path.name} {problem}; fix or remove that line") from None
                raise ValueError(str(error)) from None  # the file as a whole: the message below
        if suffixes.endswith(".parquet"):
            return pd.read_parquet(path)
    except (ValueError, OSError) as error:
        raise UserError(f"{path}: could not parse the file ({error}); check its format matches its extension") from None
    raise UserError(f"{path}: unknown table format '{path.suffix}'; use .csv, .tsv, .jsonl, .json or .parquet")


JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


def _first_bad_json_line(path: Path) -> str | None:
    """``line N: <what is wrong>`` for the first line of a JSONL file that is not one JSON object, or None."""
    import json

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as error:
                return f"line {number}: {error.msg} at column {error.colno}"
            if not isinstance(value, dict):
                kind = JSON_KINDS.get(type(value), "value")
                return f'line {number}: {kind}, not an object such as {{"text": "..."}}'
    return None


def _looks_like_jsonl(path: Path) -> bool:
    with open(path, "rb") as handle:
        return not handle.read(1).lstrip().startswith(b"[")


def _column(frame, name: str, role: str, path: Path):
    if name not in frame.columns:
        found = ", ".join(map(str, frame.columns))
        raise UserError(
            f"{path}: no column '{name}' for {role}; columns found: {found}. Set data.{role}_column=<one of them>"
        )
    return frame[name]


TIME_FREQUENCIES = ("D", "W", "M", "Q", "Y")  # day, week, month, quarter, year (pandas period aliases)
TIME_BINS = Choice("auto", *TIME_FREQUENCIES) | Int(min=2)
"""``data.time_bins``: ``auto`` (see :func:`textcluster.topics.over_time.time_bins`), a calendar frequency, or a
number of equal-width bins between the first and the last document."""


@datasets.register("csv")
class TableLoader(DatasetLoader):
    """CSV / TSV / JSONL / Parquet (by extension) with a text column and optional label, id, time and group
    columns (times and groups give topics over time and per group: topics_over_time.csv, topics_per_group.csv)."""

    modality = TEXT
    parameters = {
        "path": Str() | NULL,
        "text_column": Str(),
        "label_column": Str() | NULL,
        "id_column": Str() | NULL,
        "time_column": Str() | NULL,
        "group_column": Str() | NULL,
        "time_bins": TIME_BINS,
    }

    def __init__(
        self,
        path: str | None = None,
        text_column: str = "text",
        label_column: str | None = None,
        id_column: str | None = None,
        time_column: str | None = None,
        group_column: str | None = None,
        time_bins: str | int = "auto",
    ):
        self.path, self.text_column, self.label_column, self.id_column = path, text_column, label_column, id_column
        self.time_column, self.group_column, self.time_bins = time_column, group_column, time_bins
        if time_bins != "auto" and time_column is None:  # a setting that would do nothing is a mistake
            raise UserError(f"data.time_bins={time_bins} needs data.time_column=<the column of dates>")

    def load(self) -> Dataset:
        path = _existing_path(self.path, "data=csv", "data.path=<file.csv|.jsonl|.parquet>")
        if path.is_dir():
            raise UserError(f"data=csv: '{path}' is a folder; point data.path at a file")
        frame = _read_table(path)
        # Missing cells (null in JSONL / Parquet) become empty documents, dropped later with a counted
        # warning; astype(str) alone keeps them as NaN under pandas >= 3 (or "None" / "nan" before).
        texts = _column(frame, self.text_column, "text", path).fillna("").astype(str).tolist()
        labels = None if self.label_column is None else _column(frame, self.label_column, "label", path).to_numpy()
        ids = None if self.id_column is None else _column(frame, self.id_column, "id", path).to_numpy()
        return Dataset(
            name=path.stem,
            texts=texts,
            labels=labels,
            ids=ids,
            times=self._times(frame, path),
            groups=self._groups(frame, path),
        )

    def _times(self, frame, path: Path) -> np.ndarray | None:
        if self.time_column is None:
            return None
        what = f"data.time_column='{self.time_column}'"
        times = parse_times(_column(frame, self.time_column, "time", path), what)
        if len(times) and np.isnat(times).all():
            raise UserError(f"{what}: every cell is empty; point it at the column holding the documents' dates")
        return times

    def _groups(self, frame, path: Path) -> np.ndarray | None:
        if self.group_column is None:
            return None
        return _column(frame, self.group_column, "group", path).to_numpy()


def _read_lines(path: Path) -> list[str]:
    # utf-8-sig drops the byte-order mark that SearchSnippets starts with.
    return path.read_text(encoding="utf-8-sig", errors="replace").splitlines()


@datasets.register("lines")
class LinesLoader(DatasetLoader):
    """One document per line, with an optional label file holding one label per line."""

    modality = TEXT
    parameters = {"path": Str() | NULL, "labels_path": Str() | NULL}

    def __init__(self, path: str | None = None, labels_path: str | None = None):
        self.path, self.labels_path = path, labels_path

    def load(self) -> Dataset:
        path = _existing_path(self.path, "data=lines", "data.path=<file with one text per line>")
        texts = _read_lines(path)
        labels = None
        if self.labels_path is not None:
            label_path = _existing_path(
                self.labels_path, "data.labels_path", "data.labels_path=<file with one label per line>"
            )
            labels = _read_labels(label_path, len(texts), path.name, "texts")
        return Dataset(name=path.stem, texts=texts, labels=labels)


def _read_labels(path: Path, n_rows: int, source: str, rows: str) -> np.ndarray:
    """Labels from a ``.npy`` array or a file of one label per line (numbers read as numbers)."""
    if path.suffix.lower() == ".npy":
        labels = _load_npy(path, "data.labels_path", mmap=False)
    else:
        lines = [line.strip() for line in _read_lines(path)]
        while lines and lines[-1] == "":
            lines.pop()
        labels = np.array([int(x) if x.lstrip("-").isdigit() else x for x in lines])
    if labels.ndim != 1 or len(labels) != n_rows:
        raise UserError(
            f"{path.name} has {len(labels)} labels but {source} has {n_rows} {rows}; "
            f"each of the {rows} needs exactly one label, in the same order"
        )
    return labels


def _load_npy(path: Path, what: str, mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError) as error:  # a pickled object array, a truncated file, not a .npy
        raise UserError(f"{what}: cannot read '{path}' as a .npy array ({error}); save it with numpy.save") from None


@datasets.register("embeddings")
class EmbeddingsLoader(DatasetLoader):
    """Vectors computed elsewhere (a ``.npy`` of shape (n, d), memory-mapped, so a million rows cost no copy),
    with optional labels and the documents' texts (for topics and the report's map)."""

    modality = VECTORS
    parameters = {
        "path": Str() | NULL,
        "labels_path": Str() | NULL,
        "texts_path": Str() | NULL,
        "text_column": Str(),
        "mmap": Bool(),
    }

    def __init__(
        self,
        path: str | None = None,
        labels_path: str | None = None,
        texts_path: str | None = None,
        text_column: str = "text",
        mmap: bool = True,
    ):
        self.path, self.labels_path, self.texts_path = path, labels_path, texts_path
        self.text_column, self.mmap = text_column, mmap

    def load(self) -> Dataset:
        path = _existing_path(self.path, "data=embeddings", "data.path=<vectors.npy>")
        vectors = _load_npy(path, "data.path", self.mmap)
        if vectors.ndim != 2 or vectors.dtype.kind != "f" or len(vectors) == 0:
            raise UserError(
                f"data.path: '{path.name}' holds a {vectors.dtype} array of shape {vectors.shape}; "
                "data=embeddings needs floating-point vectors of shape (n, d)"
            )
        source = f"{path.name}"
        labels = texts = None
        if self.labels_path is not None:
            label_path = _existing_path(self.labels_path, "data.labels_path", "data.labels_path=<labels file>")
            labels = _read_labels(label_path, len(vectors), source, "vectors")
        if self.texts_path is not None:
            texts = self._texts(len(vectors), source)
        return Dataset(name=path.stem, vectors=vectors, texts=texts, labels=labels)

    def _texts(self, n_rows: int, source: str) -> list[str]:
        """One text per line, or a table's ``text_column`` (.csv, .tsv, .jsonl, .parquet)."""
        text_path = _existing_path(self.texts_path, "data.texts_path", "data.texts_path=<texts file>")
        if text_path.suffix.lower() in (".txt", ""):
            texts = _read_lines(text_path)
        else:
            frame = _read_table(text_path)
            texts = _column(frame, self.text_column, "text", text_path).fillna("").astype(str).tolist()
        if len(texts) != n_rows:
            raise UserError(
                f"{text_path.name} has {len(texts)} texts but {source} has {n_rows} vectors; "
                "give the vectors' documents, one per row, in the same order"
            )
        return texts


@datasets.register("newsgroups")
class NewsgroupsLoader(DatasetLoader):
    """scikit-learn's 20 Newsgroups (``fetch_20newsgroups``): downloaded once (about 14 MB) into ``data_home``
    when ``download`` is true, then read from there; labels are the 20 newsgroups."""

    modality = TEXT
    parameters = {
        "subset": Choice("train", "test", "all"),
        "remove": ListOf(Choice("headers", "footers", "quotes")),
        "data_home": Str() | NULL,
        "download": Bool(),
    }

    def __init__(self, subset: str = "test", remove=("headers", "footers", "quotes"), data_home=None, download=True):
        self.subset, self.remove, self.data_home, self.download = subset, list(remove), data_home, download

    def load(self) -> Dataset:
        from sklearn.datasets import fetch_20newsgroups

        home = None if self.data_home is None else str(Path(str(self.data_home)).expanduser())
        try:
            bunch = fetch_20newsgroups(
                data_home=home, subset=self.subset, remove=tuple(self.remove), download_if_missing=self.download
            )
        except OSError as error:  # not downloaded yet with download=false, or no network
            where = home or "scikit-learn's data folder (~/scikit_learn_data)"
            raise UserError(
                f"data=newsgroups: 20 Newsgroups is not in {where} and could not be downloaded "
                f"({type(error).__name__}: {' '.join(str(error).split())[:120]}); run once with network and "
                "data.download=true, or use data=csv with a local copy"
            ) from None
        names = np.asarray(bunch.target_names)
        return Dataset(name=f"20newsgroups-{self.subset}", texts=list(bunch.data), labels=names[bunch.target])


@datasets.register("hf")
class HuggingFaceLoader(DatasetLoader):
    """A Hugging Face ``datasets`` data set: a hub name (needs network) or local data files."""

    modality = TEXT
    parameters = {
        "path": Str() | NULL,
        "config_name": Str() | NULL,
        "split": Str(),
        "data_files": ANY,
        "text_column": Str(),
        "label_column": Str() | NULL,
    }

    def __init__(
        self,
        path: str | None = None,
        config_name: str | None = None,
        split: str = "train",
        data_files=None,
        text_column: str = "text",
        label_column: str | None = None,
    ):
        self.path, self.config_name, self.split = path, config_name, split
        self.data_files, self.text_column, self.label_column = data_files, text_column, label_column

    def _load_hf(self):
        import datasets as hf_datasets

        source, data_files = self.path, self.data_files
        local = Path(str(source)).expanduser() if source else None
        if local is not None and local.is_file():
            # A local file: pick the builder from its extension.
            builder = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}.get(
                local.suffix.lower()
            )
            if builder is None:
                raise UserError(f"data=hf: cannot tell the format of '{local}'; use .csv, .json, .jsonl or .parquet")
            source, data_files = builder, str(local)
        if source is None:
            raise UserError("data=hf needs data.path=<hub name, local folder or data file>")
        try:
            return hf_datasets.load_dataset(source, self.config_name, split=self.split, data_files=data_files)
        except Exception as error:  # datasets raises many types; the user needs one line
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(
                f"data=hf: could not load '{self.path}' split '{self.split}' ({first_line}); "
                "without network, pass a local file or folder as data.path"
            ) from None

    def load(self) -> Dataset:
        table = self._load_hf()
        columns = table.column_names
        for role, name in (("text", self.text_column), ("label", self.label_column)):
            if name is not None and name not in columns:
                raise UserError(
                    f"data=hf: no column '{name}' for {role}; columns found: {', '.join(columns)}. "
                    f"Set data.{role}_column=<one of them>"
                )
        texts = [str(t) if t is not None else "" for t in table[self.text_column]]
        labels = None if self.label_column is None else np.asarray(table[self.label_column])
        return Dataset(name=str(Path(str(self.path)).stem), texts=texts, labels=labels)
