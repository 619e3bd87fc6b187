"""A content-addressed cache of embeddings and the fitted encoder, so runs changing only later stages skip encoding.

The key is a hash of everything that decides an encoder's output: the data
as the encoder sees it (after loading, cleaning and subsampling: the texts or
image bytes and the ids), the encoder's parameters, the trainer config and the
seed (they decide trained weights), the code that computes embeddings, and the
encoder's own identity when it has one (``encoder.cache_identity()``: a
pretrained model's resolved folder, its config hash and its files' sizes and times).

An entry holds the embeddings (``<key>.npy``), the fitted encoder's state
(``<key>.state.json`` / ``.safetensors``, :mod:`textcluster.state`) and
``<key>.json``: what made it, plus a checksum of every other file. The JSON is
written last, by a rename, so a killed run leaves either a whole entry or one
that is ignored; a hit restores the encoder as fitted, so the run can still
save a model that predicts.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.contracts import Encoder, TrainingContext
from textcluster.dataset import Dataset
from textcluster.errors import StateError
from textcluster.state import file_sha256, read_state, write_state

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
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
    """Entries under ``root/<key[:2]>/``: ``<key>.npy``, ``<key>.state.*`` and the ``<key>.json`` vouching for them."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r})"

    def paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def encode(self, encoder: Encoder, dataset: Dataset, context: TrainingContext) -> tuple[np.ndarray, bool]:
        """``(embeddings, hit)``: from the cache with the encoder restored as fitted, else fitted and stored."""
        parts = embedding_key_parts(dataset, encoder, context)
        key = hash_parts(parts)
        cached = self.load(key, n_rows=len(dataset))
        if cached is not None:
            embeddings, state = cached
            encoder.set_state(state)
            log.info("embedding cache hit: %s (skipping encoder)", self.paths(key)[0])
            return embeddings, True
        embeddings = encoder.fit_transform(dataset, context)
        try:
            path = self.store(key, embeddings, encoder.get_state(), parts)
        except OSError as error:  # a full disk or a read-only cache folder must not fail the run
            log.warning("embedding cache miss; could not store the embeddings in %s (%s)", self.root, error)
        else:
            log.info("embedding cache miss (key %s): encoded, stored at %s", key[:12], path)
        return embeddings, False

    def load(self, key: str, n_rows: int | None = None) -> tuple[np.ndarray, dict[str, Any]] | None:
        """``(embeddings, encoder state)``, or None when there is no whole, consistent entry for ``key``."""
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
            array = np.load(array_path, allow_pickle=False)
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
        """Write the entry; the JSON that makes it valid comes last, atomically. Returns the array's path."""
        array_path, meta_path = self.paths(key)
        array_path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.unlink(missing_ok=True)  # an old JSON must never vouch for new files
        embeddings = np.ascontiguousarray(embeddings)
        _atomic_write(array_path, lambda handle: np.save(handle, embeddings, allow_pickle=False))
        written = [array_path, *write_state(array_path.parent, f"{key}.state", state)]
        meta = {
            "key": key,
            "shape": list(embeddings.shape),
            "dtype": str(embeddings.dtype),
            "files": {path.name: file_sha256(path) for path in written},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "parts": dict(parts or {}),
        }
        _atomic_write(meta_path, lambda handle: handle.write((json.dumps(meta, indent=2) + "\n").encode()))
        return array_path
