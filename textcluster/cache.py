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
every other file. Every file is written under a temporary name and renamed
into place, the JSON last, so a killed run leaves either a whole entry or one
that is ignored; a whole entry is read-only and never written again (a run
folder gets its own copy). A hit restores the encoder as fitted, so the run
can still save a model that predicts.

A miss is encoded in shards (``shard_size`` documents, or ``auto``: small
enough that a stop loses about a minute of work at most), each written to its
own file in ``<key>.partial/`` as soon as it is computed, with the fitted
encoder's state and ``progress.json`` recording every finished file's
checksum. A run stopped part-way (Ctrl-C, SIGTERM, a kill, a full disk)
leaves that folder; the same command again restores the encoder from it,
re-verifies each shard and encodes only those missing or damaged. A lock file
beside the entry makes a second process asking for the same entry wait for
the first, then read it. Peak memory is one shard's work.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.contracts import Encoder, TrainingContext
from textcluster.dataset import Dataset
from textcluster.errors import StateError
from textcluster.progress import track
from textcluster.state import file_sha256, read_state, write_state
from textcluster.storage import atomic_write, ensure_writable_folder, storage_errors, write_text

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
AUTO_SHARDS = "auto"  # cache_shard_size=auto: the shard size follows the corpus size (auto_shard_size)
MIN_SHARD, MAX_SHARD = 250, 1_000  # documents per shard: the unit of progress and of resuming
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


CACHE_FIX = (
    "free some space and run the same command again (finished shards are kept), "
    "or set cache_dir=<another folder> or cache=false"
)


def auto_shard_size(n_rows: int) -> int:
    """Documents per shard for ``cache_shard_size=auto``: a twentieth of the corpus, between
    :data:`MIN_SHARD` and :data:`MAX_SHARD`, so a stopped run loses at most one shard (a minute or so at the
    slowest encoder's speed) whatever the corpus size. It depends on the corpus size only, so a resumed run
    cuts the corpus where an uninterrupted one would and gives the same embeddings."""
    return int(min(MAX_SHARD, max(MIN_SHARD, -(-n_rows // 20))))


class EmbeddingCache:
    """Entries under ``root/<key[:2]>/``: ``<key>.npy``, ``<key>.state.*`` and the ``<key>.json`` vouching for them.

    ``shard_size``: documents encoded (and written) at a time, or ``auto`` (:func:`auto_shard_size`);
    ``dtype``: how the embeddings are stored (float16 halves disk and memory; the stages read it as it is
    or convert a batch at a time). A finished entry is read-only: nothing opens it for writing again.
    """

    def __init__(self, root: str | Path, shard_size: int | str = AUTO_SHARDS, dtype: str = "float32"):
        self.root = Path(root).expanduser()
        self.shard_size = shard_size if shard_size == AUTO_SHARDS else int(shard_size)
        self.dtype = str(dtype)

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.root)!r}, shard_size={self.shard_size!r}, dtype={self.dtype!r})"

    def paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def shard_rows(self, n_rows: int) -> int:
        return auto_shard_size(n_rows) if self.shard_size == AUTO_SHARDS else int(self.shard_size)

    def check_writable(self) -> None:
        """StorageError (one line naming the folder) when entries cannot be written under ``root``."""
        ensure_writable_folder(self.root, "choose a cache folder you can write to (cache_dir=...), or cache=false")

    def key_parts(self, encoder: Encoder, dataset: Dataset, context: TrainingContext) -> dict[str, Any]:
        parts = embedding_key_parts(dataset, encoder, context)
        parts["dtype"] = self.dtype
        return parts

    def encode(self, encoder: Encoder, dataset: Dataset, context: TrainingContext) -> tuple[np.ndarray, bool]:
        """``(embeddings, hit)``: from the cache with the encoder restored as fitted, else encoded shard by
        shard (resuming a stopped run's verified shards) and stored. A second process asking for the entry
        that this one is encoding waits for it, then reads it."""
        parts = self.key_parts(encoder, dataset, context)
        key = hash_parts(parts)
        array_path, _ = self.paths(key)
        with storage_errors(array_path.parent, CACHE_FIX):
            array_path.parent.mkdir(parents=True, exist_ok=True)
        with entry_lock(array_path.with_suffix(".lock")):
            cached = self.load(key, n_rows=len(dataset))
            if cached is not None:
                embeddings, state = cached
                encoder.set_state(state)
                log.info("embedding cache hit: %s (skipping encoder)", array_path)
                return embeddings, True
            shards = PartialEntry(array_path.with_suffix(".partial"), len(dataset), self.shard_rows(len(dataset)))
            shards.encode(encoder, dataset, context, self.dtype)
            path = self.finish(key, shards, encoder.get_state(), parts)
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
        with storage_errors(array_path.parent, CACHE_FIX):
            array_path.parent.mkdir(parents=True, exist_ok=True)
            meta_path.unlink(missing_ok=True)  # an old JSON must never vouch for new files
        embeddings = np.ascontiguousarray(embeddings)
        atomic_write(array_path, lambda handle: np.save(handle, embeddings, allow_pickle=False), CACHE_FIX)
        return self._vouch(key, array_path, file_sha256(array_path), state, parts)

    def finish(self, key: str, shards: PartialEntry, state: Mapping[str, Any], parts: Mapping[str, Any]) -> Path:
        """Turn a finished partial entry into a whole one: the shards are joined into one new file (written
        with real writes, so a full disk is an error, never a signal), then vouched for."""
        array_path, meta_path = self.paths(key)
        with storage_errors(meta_path, CACHE_FIX):
            meta_path.unlink(missing_ok=True)  # an old JSON must never vouch for new files
        checksum = shards.join(array_path)
        path = self._vouch(key, array_path, checksum, state, parts)
        shutil.rmtree(shards.folder, ignore_errors=True)
        return path

    def _vouch(
        self, key: str, array_path: Path, checksum: str, state: Mapping[str, Any], parts: Mapping[str, Any] | None
    ) -> Path:
        _, meta_path = self.paths(key)
        with storage_errors(array_path.parent, CACHE_FIX):
            state_files = write_state(array_path.parent, f"{key}.state", state)
        array = np.load(array_path, mmap_mode="r", allow_pickle=False)
        meta = {
            "key": key,
            "shape": list(array.shape),
            "dtype": str(array.dtype),
            "files": {array_path.name: checksum, **{path.name: file_sha256(path) for path in state_files}},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "parts": dict(parts or {}),
        }
        write_text(meta_path, json.dumps(meta, indent=2) + "\n", CACHE_FIX)
        for path in (array_path, *state_files, meta_path):
            _read_only(path)
        return array_path


def _read_only(path: Path) -> None:
    """A finished entry's files lose their write bits: a run folder copies them, nothing writes them again."""
    with suppress(OSError):  # a file system without modes: the checksums still catch a change
        os.chmod(path, 0o444)


@contextmanager
def entry_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` for the block: a second process encoding the same entry waits here,
    then finds it whole. The lock goes with the process, so a killed run never leaves it held."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): two runs may both encode; each still writes whole files
        yield
        return
    with storage_errors(path, CACHE_FIX):
        handle = open(path, "a+b")  # noqa: SIM115
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("embedding cache: another run is encoding the same documents; waiting for it (%s)", path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PartialEntry:
    """An entry being encoded, in ``folder``: the fitted encoder's ``state.*``, one ``shard-<i>.npy`` file
    per finished shard, and ``progress.json`` recording the sha256 of each of them (rewritten atomically
    after each shard). Resuming trusts a shard only when its file matches its recorded checksum and shape."""

    def __init__(self, folder: Path, n_rows: int, shard_size: int):
        self.folder, self.n_rows, self.shard_size = Path(folder), int(n_rows), int(shard_size)
        self.progress_path = self.folder / "progress.json"

    @property
    def n_shards(self) -> int:
        return max(1, -(-self.n_rows // self.shard_size))

    def rows(self, shard: int) -> slice:
        return slice(shard * self.shard_size, min((shard + 1) * self.shard_size, self.n_rows))

    def shard_path(self, shard: int) -> Path:
        return self.folder / f"shard-{shard:06d}.npy"

    def encode(self, encoder: Encoder, dataset: Dataset, context: TrainingContext, dtype: str) -> None:
        """Fit (or restore) the encoder, then encode every shard not finished (and verified) yet."""
        progress = self._resume(encoder, dtype)
        if progress is None:
            shutil.rmtree(self.folder, ignore_errors=True)
            with storage_errors(self.folder, CACHE_FIX):
                self.folder.mkdir(parents=True)
            encoder.fit(dataset, context)
            with storage_errors(self.folder, CACHE_FIX):
                state_files = write_state(self.folder, "state", encoder.get_state())
            progress = {"n_rows": self.n_rows, "shard_size": self.shard_size, "dtype": dtype, "dim": None}
            progress.update(state={path.name: file_sha256(path) for path in state_files}, shards={})
            self._save(progress)
        done = {int(shard) for shard in progress["shards"]}
        finished = sum(self.rows(shard).stop - self.rows(shard).start for shard in done)
        with track(self.n_rows, "encoding", "docs", done=finished) as bar:
            for shard in range(self.n_shards):
                if shard in done:
                    continue
                rows = self.rows(shard)
                part = dataset if self.n_shards == 1 else dataset.select(np.arange(rows.start, rows.stop))
                chunk = np.ascontiguousarray(np.asarray(encoder.transform(part)).astype(dtype, copy=False))
                path = self._write_shard(shard, chunk)
                progress["dim"] = int(chunk.shape[1])
                progress["shards"][str(shard)] = file_sha256(path)
                self._save(progress)
                bar.update(rows.stop - rows.start)

    def _write_shard(self, shard: int, chunk: np.ndarray) -> Path:
        return atomic_write(
            self.shard_path(shard), lambda handle: np.save(handle, chunk, allow_pickle=False), CACHE_FIX
        )

    def _save(self, progress: dict[str, Any]) -> None:
        write_text(self.progress_path, json.dumps(progress, indent=1), CACHE_FIX)

    def _resume(self, encoder: Encoder, dtype: str) -> dict[str, Any] | None:
        """What an earlier run finished and this one can trust, with the encoder restored; None: start over.

        A shard whose file is missing, damaged or of the wrong shape is dropped (and encoded again); a
        damaged state or progress file discards the whole partial entry, with a warning either way.
        """
        if not self.folder.exists():
            return None
        try:
            progress = json.loads(self.progress_path.read_text())
            for name, checksum in progress["state"].items():
                if file_sha256(self.folder / name) != checksum:
                    raise ValueError(f"{name} does not match its checksum")
            state = read_state(self.folder, "state")
            settings = (progress["n_rows"], progress["shard_size"], progress["dtype"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, StateError) as error:
            log.warning("embedding cache: discarding the unfinished entry %s (%s); encoding again", self.folder, error)
            return None
        if settings != (self.n_rows, self.shard_size, dtype):
            log.info("embedding cache: the unfinished entry %s used other shard settings; encoding again", self.folder)
            return None
        trusted = {}
        for shard, checksum in progress["shards"].items():
            problem = self._shard_problem(int(shard), checksum, progress["dim"], dtype)
            if problem:
                log.warning("embedding cache: shard %s of %s %s; encoding it again", shard, self.folder, problem)
            else:
                trusted[shard] = checksum
        progress["shards"] = trusted
        encoder.set_state(state)
        log.info("resuming the encoding: %d of %d shards finished by an earlier run", len(trusted), self.n_shards)
        return progress

    def _shard_problem(self, shard: int, checksum: str, dim: int | None, dtype: str) -> str | None:
        path = self.shard_path(shard)
        rows = self.rows(shard)
        try:
            if shard >= self.n_shards:
                return "is not a shard of this corpus"
            if file_sha256(path) != checksum:
                return "does not match its checksum"
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            return f"cannot be read ({type(error).__name__})"
        if array.shape != (rows.stop - rows.start, dim) or str(array.dtype) != dtype:
            return f"has shape {array.shape} {array.dtype}, not ({rows.stop - rows.start}, {dim}) {dtype}"
        return None

    def join(self, target: Path) -> str:
        """Write the shards, in order, into one ``.npy`` at ``target`` (atomically); returns its sha256."""
        first = np.load(self.shard_path(0), mmap_mode="r", allow_pickle=False)
        header = {"descr": np.lib.format.dtype_to_descr(first.dtype), "fortran_order": False}
        header["shape"] = (self.n_rows, *first.shape[1:])
        digest = hashlib.sha256()

        def write(handle) -> None:
            out = _HashingWriter(handle, digest)
            np.lib.format.write_array_header_1_0(out, header)
            for shard in range(self.n_shards):
                out.write(np.load(self.shard_path(shard), allow_pickle=False).tobytes())

        atomic_write(target, write, CACHE_FIX)
        return digest.hexdigest()


class _HashingWriter:
    """A file handle that also feeds what is written to a digest (the joined array is hashed as it is written)."""

    def __init__(self, handle, digest):
        self.handle, self.digest = handle, digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.handle.write(data)
