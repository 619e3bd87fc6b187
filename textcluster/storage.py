"""Files written whole or not at all, and storage failures as one line that names the path and the cause.

Every file textcluster leaves (run folders, model folders, the embedding
cache) goes through :func:`atomic_write`: the bytes go to a temporary name in
the same folder, are flushed to disk, and the file is renamed into place, so a
crash, a kill or a full disk at any instant leaves either the old file or the
new one, never half of one. A full disk or a folder without write permission
becomes :class:`~textcluster.errors.StorageError` (a UserError: one line, exit
2) instead of an ``OSError`` traceback.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

from textcluster.errors import StorageError

FILE_MODE = 0o644  # tempfile makes 0600; run folders and caches are often shared
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
NO_PERMISSION = (errno.EACCES, errno.EPERM, errno.EROFS)
DEFAULT_CACHE_ROOT = "~/.cache/textcluster"  # conf/config.yaml's cache_dir falls back to the same folder


_run_cache_root: Path | None = None  # a run's cache_dir while the run lasts (cache_root_of_run)


def machine_cache_root() -> Path:
    """``$TEXTCLUSTER_CACHE_DIR``, else ``~/.cache/textcluster``: the default embedding cache (``cache_dir``), and
    what depends on the machine and the installed packages alone (compiled code), whatever a run's cache_dir."""
    return Path(os.environ.get("TEXTCLUSTER_CACHE_DIR") or DEFAULT_CACHE_ROOT).expanduser()


def cache_root() -> Path:
    """Where models built from other files (ONNX exports, static models) are kept, one folder per kind: a
    run's own ``cache_dir`` while it lasts (:func:`cache_root_of_run`), else :func:`machine_cache_root`."""
    return _run_cache_root if _run_cache_root is not None else machine_cache_root()


@contextmanager
def cache_root_of_run(folder: str | Path | None) -> Iterator[None]:
    """:func:`cache_root` is ``folder`` while the block runs (None: unchanged), so that a run told
    ``cache_dir=/scratch/tc`` (a home folder without room or write permission) keeps the models it builds there
    too, beside its embeddings, and a later run with the same ``cache_dir`` finds them."""
    global _run_cache_root
    previous = _run_cache_root
    if folder is not None:
        _run_cache_root = Path(str(folder)).expanduser()
    try:
        yield
    finally:
        _run_cache_root = previous


def describe(path: Path | str, error: OSError) -> str | None:
    """The cause of a storage failure in words, or None when ``error`` is not a full disk or a permission."""
    if error.errno in NO_SPACE:
        return f"no space left on the device holding {path}"
    if error.errno == errno.EROFS:
        return f"{path} is on a read-only file system"
    if error.errno in NO_PERMISSION:
        return f"permission denied for {path}"
    return None


def storage_error(path: Path | str, error: OSError, fix: str = "") -> StorageError | OSError:
    """A one-line StorageError for a full disk or a permission problem; any other OSError as it is."""
    cause = describe(path, error)
    if cause is None:
        return error
    default = "free some space, or write elsewhere" if error.errno in NO_SPACE else "choose a folder you can write to"
    return StorageError(f"{cause}; {fix or default}")


@contextmanager
def storage_errors(path: Path | str, fix: str = "") -> Iterator[None]:
    """Turn a full disk or a refused write inside the block into a :class:`StorageError` naming ``path``."""
    try:
        yield
    except StorageError:
        raise
    except OSError as error:
        translated = storage_error(error.filename or path, error, fix)  # the file the system names, if any
        if translated is error:
            raise
        raise translated from None


def atomic_write(path: Path | str, write: Callable[[IO[bytes]], Any], fix: str = "") -> Path:
    """``write(handle)`` into a temporary file beside ``path``, flush it to disk, then rename it over ``path``.

    The temporary file is removed when anything fails (a full disk, a kill that Python sees, an exception
    in ``write``), so a folder never holds a half-written file under a real name.
    """
    path = Path(path)
    with storage_errors(path, fix):
        # not a `with` block: the file must outlive its handle until it is renamed into place
        handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)  # noqa: SIM115
        try:
            with handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(handle.name, FILE_MODE)
            os.replace(handle.name, path)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
    return path


def write_bytes(path: Path | str, data: bytes, fix: str = "") -> Path:
    return atomic_write(path, lambda handle: handle.write(data), fix)


def write_text(path: Path | str, text: str, fix: str = "") -> Path:
    return write_bytes(path, text.encode("utf-8"), fix)


def copy_file(source: Path | str, target: Path | str, fix: str = "") -> Path:
    """A private copy of ``source`` at ``target``, written atomically (the kernel may share blocks where the
    file system can, but the copy is never the same file: writing one cannot change the other)."""
    with open(source, "rb") as reader:
        return atomic_write(target, lambda handle: _copy_contents(reader, handle), fix)


# copy_file_range refuses these pairs of files before copying anything (another file system on an old kernel,
# a file system without it): the bytes then go through this process instead
NO_KERNEL_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP)
KERNEL_COPY_STEP = 1 << 30  # bytes per call; the kernel may copy fewer, and the loop asks again


def _copy_contents(reader: IO[bytes], writer: IO[bytes]) -> None:
    """The kernel's copy where it has one (``copy_file_range``: the bytes never pass through Python, and file
    systems that can, such as XFS and btrfs, share the blocks copy-on-write); a read-and-write loop otherwise."""
    copy_range = getattr(os, "copy_file_range", None)  # Linux only
    if copy_range is not None:
        try:
            step = copy_range(reader.fileno(), writer.fileno(), KERNEL_COPY_STEP)
        except OSError as error:
            if error.errno not in NO_KERNEL_COPY:
                raise
        else:
            while step:  # 0: the end of the source
                step = copy_range(reader.fileno(), writer.fileno(), KERNEL_COPY_STEP)
            return
    shutil.copyfileobj(reader, writer, 1 << 22)


def ensure_writable_folder(folder: Path | str, fix: str = "") -> Path:
    """Create ``folder`` if needed and prove a file can be written there; StorageError naming it otherwise."""
    folder = Path(folder)
    with storage_errors(folder, fix):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check.", delete=True)  # noqa: SIM115
            probe.close()
        except OSError as error:
            if describe(folder, error) is not None:
                raise
            # a file where the folder should be, a name too long, ...: not the disk, but as unusable
            raise StorageError(f"{folder} cannot be used as a folder ({error.strerror}); {fix}") from None
    return folder


def remove_quietly(path: Path | str) -> None:
    """Remove a file or a folder tree if it is there; failures (already gone, no permission) are ignored."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(OSError):
            path.unlink()
