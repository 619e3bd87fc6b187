"""Fitted state as data: JSON for the structure, safetensors for the arrays. Reading it never runs code.

A stage's state is a nested dict whose leaves are JSON values (numbers,
strings, booleans, null, lists, dicts with string keys), numpy arrays or torch
tensors. :func:`write_state` stores it as ``<name>.json`` (the structure, each
array replaced by a reference) and ``<name>.safetensors`` (the arrays);
:func:`read_state` puts it back together. Neither file format can hold code,
unlike a pickle, so a tampered file can only fail to parse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textcluster.errors import StateError
from textcluster.storage import write_bytes, write_text

STATE_FORMAT = 1
ARRAY_KEY = "$array"  # {"$array": "<tensor name>", "kind": "numpy" | "torch"} stands where an array was


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _split(value: Any, path: str, arrays: dict[str, Any]) -> Any:
    """The JSON part of ``value``; arrays go into ``arrays`` under their path."""
    if isinstance(value, Mapping):
        bad = [key for key in value if not isinstance(key, str)]
        if bad:
            raise StateError(f"state key {bad[0]!r} at {path or 'the top'} is not a string")
        return {key: _split(item, f"{path}/{key}", arrays) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split(item, f"{path}/{index}", arrays) for index, item in enumerate(value)]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "USO":
            if value.dtype.kind == "O":
                raise StateError(f"the array at {path} holds Python objects, which have no safe form")
            return {"$strings": value.tolist()}
        arrays[path] = value
        return {ARRAY_KEY: path, "kind": "numpy"}
    if _is_tensor(value):
        arrays[path] = value
        return {ARRAY_KEY: path, "kind": "torch"}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise StateError(
        f"the state at {path} is a {type(value).__name__}, which has no safe form "
        "(state holds numbers, strings, lists, dicts, numpy arrays and torch tensors)"
    )


def _safetensors_bytes(arrays: dict[str, Any]) -> bytes:
    """Numpy arrays alone are written without torch (a k-means model needs no torch to be saved)."""
    if not any(_is_tensor(value) for value in arrays.values()):
        from safetensors.numpy import save

        return save({name: np.ascontiguousarray(value) for name, value in arrays.items()})
    from safetensors.torch import save

    return save(_as_tensors(arrays))


def _as_tensors(arrays: dict[str, Any]) -> dict[str, Any]:
    import torch

    tensors, seen = {}, set()
    for name, value in arrays.items():
        tensor = torch.from_numpy(_writable(value)) if isinstance(value, np.ndarray) else value.detach()
        tensor = tensor.cpu().contiguous()
        pointer = (tensor.untyped_storage().data_ptr(), tensor.storage_offset()) if tensor.numel() else None
        if pointer is not None and pointer in seen:  # safetensors refuses tensors that share memory (tied weights)
            tensor = tensor.clone()
        if pointer is not None:
            seen.add(pointer)
        tensors[name] = tensor
    return tensors


def _writable(array: np.ndarray) -> np.ndarray:
    """``array`` as torch can share it: C-contiguous and writable. torch.from_numpy shares the memory and warns
    ("The given NumPy array is not writable") for a read-only array, such as a memory-mapped embedding file
    or a cached array a stage kept; those are copied (the copy is only read, to serialise it)."""
    array = np.ascontiguousarray(array)
    return array if array.flags.writeable else array.copy()


def write_state(folder: Path, name: str, state: Mapping[str, Any]) -> list[Path]:
    """Write ``<name>.json`` (and ``<name>.safetensors`` when there are arrays); returns the files written."""
    arrays: dict[str, Any] = {}
    structure = _split(dict(state), "", arrays)
    folder = Path(folder)
    json_path = folder / f"{name}.json"
    write_text(json_path, json.dumps({"format": STATE_FORMAT, "state": structure}, indent=1) + "\n")
    written = [json_path]
    if arrays:
        tensor_path = folder / f"{name}.safetensors"
        write_bytes(tensor_path, _safetensors_bytes(arrays))
        written.append(tensor_path)
    return written


def _join(value: Any, tensors: Mapping[str, Any], where: Path) -> Any:
    if isinstance(value, dict):
        if ARRAY_KEY in value:
            key = value[ARRAY_KEY]
            if key not in tensors:
                raise StateError(f"{where} names an array '{key}' that its .safetensors file does not hold")
            tensor = tensors[key]
            if isinstance(tensor, np.ndarray) or value.get("kind") != "numpy":
                return tensor
            return tensor.numpy()
        if "$strings" in value:
            return np.asarray(value["$strings"])
        return {key: _join(item, tensors, where) for key, item in value.items()}
    if isinstance(value, list):
        return [_join(item, tensors, where) for item in value]
    return value


def read_state(folder: Path, name: str) -> dict[str, Any]:
    """The state written by :func:`write_state`; a damaged or foreign file raises one-line StateError."""
    folder = Path(folder)
    json_path, tensor_path = folder / f"{name}.json", folder / f"{name}.safetensors"
    try:
        payload = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise StateError(f"{json_path} cannot be read as textcluster state ({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT or "state" not in payload:
        raise StateError(f"{json_path} is not textcluster state (format {STATE_FORMAT})")
    tensors: dict[str, Any] = {}
    if tensor_path.exists():
        from safetensors import SafetensorError

        try:
            tensors = _load_safetensors(tensor_path, holds_tensors=_names_tensors(payload["state"]))
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            raise StateError(f"{tensor_path} is not a valid safetensors file ({type(error).__name__})") from None
    return _join(payload["state"], tensors, json_path)


def _names_tensors(structure: Any) -> bool:
    """Whether the JSON structure references a torch tensor (else the arrays load as numpy, without torch)."""
    if isinstance(structure, dict):
        if ARRAY_KEY in structure:
            return structure.get("kind") != "numpy"
        return any(_names_tensors(item) for item in structure.values())
    if isinstance(structure, list):
        return any(_names_tensors(item) for item in structure)
    return False


def _load_safetensors(path: Path, holds_tensors: bool) -> dict[str, Any]:
    if holds_tensors:
        from safetensors.torch import load_file
    else:
        from safetensors.numpy import load_file
    return load_file(str(path))


def estimator_state(estimator: Any, attributes: Sequence[str]) -> dict[str, Any]:
    """The named fitted attributes of a scikit-learn-style estimator (arrays and numbers), as state."""
    return {name: getattr(estimator, name) for name in attributes}


def restore_estimator(estimator: Any, state: Mapping[str, Any]) -> Any:
    """An unfitted estimator (built with the same parameters) given back the fitted attributes of
    :func:`estimator_state`: its own ``transform``/``predict`` then run as after ``fit``."""
    for name, value in state.items():
        setattr(estimator, name, value)
    return estimator


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks (model folders and cache entries record them)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
