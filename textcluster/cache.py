"""A content-addressed cache of embeddings and the fitted encoder, so runs changing only later stages skip encoding.

The key is a hash of everything that decides an encoder's output: the data
as the encoder sees it (after loading, cleaning and subsampling: the texts or
image bytes and the ids), the encoder's parameters, the trainer config and the
seed (they decide trained weights), the code that computes embeddings, and the
encoder's own identity when it has one (``encoder.cache_identity()``: a
pretrained model's resolved folder, its config hash and its files' sizes and times).

An entry holds the embeddings (``<key>.npy``, memory-mapped when read), the
fitted encoder's state (``<key>.state.json`` / ``.safetensors``,
:mod:`textcluster.state`) and ``<key>.json``: what made it, plus a checksum of
every other file. The JSON is written last, by a rename, so a killed run
leaves either a whole entry or one that is ignored; a hit restores the encoder
as fitted, so the run can still save a model that predicts.

A miss is encoded in shards of ``shard_size`` documents, each written into a
memory-mapped ``<key>.partial/embeddings.npy`` as soon as it is computed,
with the fitted encoder's state and the list of finished shards beside it. A
run stopped part-way (Ctrl-C, SIGTERM, a crash) leaves that folder; the same
command again restores the encoder from it and encodes only the shards not yet
finished. Peak memory is then one shard's work plus the pages of the array.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.contracts import Encoder, TrainingContext
from textcluster.dataset import Dataset
from textcluster.errors import StateError
from textcluster.progress import track
from textcluster.state import file_sha256, read_state, write_state

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
SHARD_SIZE = 20_000  # documents per shard: the unit of progress and of resuming
DTYPES = ("float32", "float16")
# Trainer settings that change what is printed or logged, never the weights.
COSMETIC_TRAINER_KEYS = frozenset({"enable_progress_bar", "enable_model_summary", "log_every_n_steps"})


def _update_with(digest, *chunks: bytes) -> None:
    for chunk in chunks:
        digest.update(len(chunk).to_bytes(8, "little"))  # length-prefixed: no two sequences hash alike
        digest.update(chunk)


def dataset_fingerprint(dataset: Dataset) -> str:
    """sha256 of what an encoder reads: modality, ids, and the texts or the image bytes (labels excluded)."""
    digest = hashlib.sha256()
    _update_with(digest, dataset.modality.encode(), str(len(dataset)).encode())
    ids = np.asarray(dataset.ids)
    if ids.dtype.kind in "iub":
        _update_with(digest, b"ids:int", np.ascontiguousarray(ids, dtype=np.int64).tobytes())
    else:
        _update_with(digest, b"ids:str", "\x1f".join(map(str, ids.tolist())).encode("utf-8", "surrogatepass"))
    if dataset.texts is not None:
        for text in dataset.texts:
            _update_with(digest, text.encode("utf-8", "surrogatepass"))
    else:
        images = np.ascontiguousarray(dataset.images)
        _update_with(digest, str(images.dtype).encode(), str(images.shape).encode())
        digest.update(memoryview(images).cast("B"))
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    """JSON-able, order-stable form of a config value (tuples become lists, numpy scalars plain numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    return repr(value)


# The code an encoder's output depends on (besides its own module): editing any of it invalidates the cache.
ENCODING_CODE = ("encoders", "training", "data", "dataset.py", "state.py", "cache.py")


def code_fingerprint(encoder: Any = None) -> str:
    """sha256 of textcluster's encoding code, plus the module defining ``encoder`` when it lives elsewhere.

    Keeps an edited encoder (or trainer, tokenizer, loader) from being served
    the embeddings its previous version cached.
    """
    package = Path(__file__).resolve().parent
    files = []
    for name in ENCODING_CODE:
        path = package / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    module_file = inspect.getsourcefile(type(encoder)) if encoder is not None else None
    if module_file and Path(module_file).resolve() not in files:
        files.append(Path(module_file).resolve())
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            _update_with(
                digest,
                str(path.relative_to(package) if path.is_relative_to(package) else path.name).encode(),
                path.read_bytes(),
            )
    return digest.hexdigest()


def embedding_key_parts(dataset: Dataset, encoder: Encoder, context: TrainingContext) -> dict[str, Any]:
    """Everything the key hashes, as a JSON-able dict (it is also stored beside the entry)."""
    from textcluster import __version__

    trainer = {k: v for k, v in context.trainer.items() if k not in COSMETIC_TRAINER_KEYS}
    seed: int | None = int(context.seed)
    if not encoder.depends_on_seed:
        # A frozen encoder (pretrained, used as it is; hybrid's fixed-seed LSA) gives the same embeddings
        # whatever the seed and trainer: runs over several seeds share one entry instead of re-encoding each time.
        trainer, seed = {}, None
    return _canonical(
        {
            "format": FORMAT_VERSION,
            "textcluster": __version__,
            "code": code_fingerprint(encoder),
            "data": {"fingerprint": dataset_fingerprint(dataset), "n": len(dataset), "modality": dataset.modality},
            "encoder": {"name": encoder.key(), **encoder.get_params()},
            "trainer": trainer,
            "seed": seed,
            "encoder_identity": encoder.cache_identity(),
        }
    )


def hash_parts(parts: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _atomic_write(path: Path, write) -> None:
    """``write(handle)`` into a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    # not a `with` block: the file must outlive its handle until it is renamed into place
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)  # noqa: SIM115
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)  # NamedTemporaryFile makes 0600; a cache may be shared
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


class EmbeddingCache:
    """Entries under ``root/<key[:2]>/``: ``<key>.npy``, ``<key>.state.*`` and the ``<key>.json`` vouching for them.

    ``shard_size``: documents encoded (and written) at a time; ``dtype``: how the embeddings are stored
    (float16 halves disk and memory; the stages read it as it is or convert a batch at a time).
    """

    def __init__(self, root: str | Path, shard_size: int = SHARD_SIZE, dtype: str = "float32"):
        self.root = Path(root).expanduser()
        self.shard_size, self.dtype = int(shard_size), str(dtype)

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r}, shard_size={self.shard_size}, dtype={self.dtype!r})"

    def paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def key_parts(self, encoder: Encoder, dataset: Dataset, context: TrainingContext) -> dict[str, Any]:
        parts = embedding_key_parts(dataset, encoder, context)
        parts["dtype"] = self.dtype
        return parts

    def encode(self, encoder: Encoder, dataset: Dataset, context: TrainingContext) -> tuple[np.ndarray, bool]:
        """``(embeddings, hit)``: from the cache with the encoder restored as fitted, else encoded shard by
        shard (resuming a stopped run's shards) and stored."""
        parts = self.key_parts(encoder, dataset, context)
        key = hash_parts(parts)
        cached = self.load(key, n_rows=len(dataset))
        if cached is not None:
            embeddings, state = cached
            encoder.set_state(state)
            log.info("embedding cache hit: %s (skipping encoder)", self.paths(key)[0])
            return embeddings, True
        try:
            shards = PartialEntry(self.paths(key)[0].with_suffix(".partial"), len(dataset), self.shard_size, self.dtype)
            shards.encode(encoder, dataset, context)
            path = self.finish(key, shards, encoder.get_state(), parts)
        except OSError as error:  # a full disk or a read-only cache folder must not fail the run
            log.warning(
                "embedding cache: could not store the embeddings in %s (%s); encoding in memory", self.root, error
            )
            return encoder.fit_transform(dataset, context), False
        log.info("embedding cache miss (key %s): encoded, stored at %s", key[:12], path)
        return np.load(path, mmap_mode="r", allow_pickle=False), False

    def load(self, key: str, n_rows: int | None = None) -> tuple[np.ndarray, dict[str, Any]] | None:
        """``(embeddings memory-mapped, encoder state)``, or None when there is no whole, consistent entry."""
        array_path, meta_path = self.paths(key)
        if not meta_path.is_file() or not array_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            problems = []
            if meta.get("key") != key:
                problems.append("its key does not match")
            for name, checksum in meta.get("files", {}).items():
                if file_sha256(meta_path.parent / name) != checksum:
                    problems.append(f"{name} does not match its checksum")
            array = np.load(array_path, mmap_mode="r", allow_pickle=False)
            if list(array.shape) != meta.get("shape") or (n_rows is not None and array.shape[0] != n_rows):
                problems.append(f"shape {array.shape} is not the recorded {meta.get('shape')} for {n_rows} rows")
            state = None if problems else read_state(meta_path.parent, f"{key}.state")
        except (OSError, ValueError, EOFError, TypeError, AttributeError, StateError) as error:
            problems = [f"it cannot be read ({type(error).__name__}: {error})"]
        if problems:
            log.warning("embedding cache entry %s ignored: %s; it will be rewritten", array_path, "; ".join(problems))
            return None
        return array, state

    def store(
        self, key: str, embeddings: np.ndarray, state: Mapping[str, Any], parts: Mapping[str, Any] | None = None
    ) -> Path:
        """Write a whole entry from embeddings in memory; the JSON that makes it valid comes last."""
        array_path, meta_path = self.paths(key)
        array_path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.unlink(missing_ok=True)  # an old JSON must never vouch for new files
        embeddings = np.ascontiguousarray(embeddings)
        _atomic_write(array_path, lambda handle: np.save(handle, embeddings, allow_pickle=False))
        return self._vouch(key, array_path, state, parts)

    def finish(self, key: str, shards: PartialEntry, state: Mapping[str, Any], parts: Mapping[str, Any]) -> Path:
        """Turn a finished partial entry into a whole one: the array is renamed into place, not copied."""
        array_path, meta_path = self.paths(key)
        meta_path.unlink(missing_ok=True)  # an old JSON must never vouch for new files
        os.replace(shards.array_path, array_path)
        path = self._vouch(key, array_path, state, parts)
        shutil.rmtree(shards.folder, ignore_errors=True)
        return path

    def _vouch(self, key: str, array_path: Path, state: Mapping[str, Any], parts: Mapping[str, Any] | None) -> Path:
        _, meta_path = self.paths(key)
        written = [array_path, *write_state(array_path.parent, f"{key}.state", state)]
        array = np.load(array_path, mmap_mode="r", allow_pickle=False)
        meta = {
            "key": key,
            "shape": list(array.shape),
            "dtype": str(array.dtype),
            "files": {path.name: file_sha256(path) for path in written},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "parts": dict(parts or {}),
        }
        _atomic_write(meta_path, lambda handle: handle.write((json.dumps(meta, indent=2) + "\n").encode()))
        return array_path


class PartialEntry:
    """An entry being encoded: ``embeddings.npy`` (memory-mapped, filled shard by shard), the fitted
    encoder's ``state.*``, and ``progress.json`` listing the finished shards (rewritten atomically after each)."""

    def __init__(self, folder: Path, n_rows: int, shard_size: int, dtype: str):
        self.folder, self.n_rows, self.shard_size, self.dtype = Path(folder), n_rows, shard_size, dtype
        self.array_path = self.folder / "embeddings.npy"
        self.progress_path = self.folder / "progress.json"

    @property
    def n_shards(self) -> int:
        return -(-self.n_rows // self.shard_size)

    def rows(self, shard: int) -> slice:
        return slice(shard * self.shard_size, min((shard + 1) * self.shard_size, self.n_rows))

    def progress(self) -> dict[str, Any] | None:
        """What an earlier run finished, or None when there is nothing usable to resume."""
        try:
            progress = json.loads(self.progress_path.read_text())
        except (OSError, ValueError):
            return None
        same = progress.get("n_rows") == self.n_rows and progress.get("shard_size") == self.shard_size
        return progress if same and progress.get("dtype") == self.dtype and self.array_path.is_file() else None

    def encode(self, encoder: Encoder, dataset: Dataset, context: TrainingContext) -> None:
        """Fit (or restore) the encoder, then encode every shard not finished yet."""
        progress = self.progress()
        if progress is not None:  # progress.json is first written after the state and the first shard
            encoder.set_state(read_state(self.folder, "state"))
            done = set(progress["done"])
            log.info("resuming the encoding: %d of %d shards finished by an earlier run", len(done), self.n_shards)
        else:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            encoder.fit(dataset, context)
            write_state(self.folder, "state", encoder.get_state())
            progress, done = {"n_rows": self.n_rows, "shard_size": self.shard_size, "dtype": self.dtype}, set()
            progress.update(done=[], dim=None)
        finished = sum(self.rows(shard).stop - self.rows(shard).start for shard in done)
        with track(self.n_rows, "encoding", "docs", done=finished) as bar:
            for shard in range(self.n_shards):
                if shard in done:
                    continue
                rows = self.rows(shard)
                part = dataset if self.n_shards == 1 else dataset.select(np.arange(rows.start, rows.stop))
                chunk = np.asarray(encoder.transform(part))
                array = self._array(chunk.shape[1], create=progress.get("dim") is None)
                array[rows] = chunk.astype(self.dtype, copy=False)
                array.flush()
                del array
                done.add(shard)
                progress.update(dim=int(chunk.shape[1]), done=sorted(done))
                _atomic_write(self.progress_path, lambda handle: handle.write(json.dumps(progress).encode()))
                bar.update(rows.stop - rows.start)

    def _array(self, dim: int, create: bool) -> np.memmap:
        if create:
            return np.lib.format.open_memmap(self.array_path, mode="w+", dtype=self.dtype, shape=(self.n_rows, dim))
        return np.lib.format.open_memmap(self.array_path, mode="r+")
