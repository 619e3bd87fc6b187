"""A fitted pipeline as a folder of data (``model/`` in a run folder), and back. Loading never runs code.

Layout::

    model/manifest.json              format, textcluster and package versions, the run's resolved config,
                                     each stage's key and parameters, and a sha256 of every other file
    model/<stage>.json (.safetensors)  each stage's fitted state (encoder, reducer, clusterer, refiner) and
                                     the pipeline's own (noise centres, topic mapping): see textcluster.state

Loading reads the manifest, checks the checksums, rebuilds each stage through
its registry from the recorded parameters (checked like any config) and gives
it its state. JSON and safetensors hold data only, so a tampered file can fail
to load but cannot run anything; a folder from before this format
(``pipeline.pt``, a pickle) is refused with a line saying how to refit.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textcluster.build import STAGE_REGISTRIES
from textcluster.errors import StateError, UnknownPluginError, UserError
from textcluster.pipeline import Pipeline
from textcluster.reporting.files import package_versions, read_status
from textcluster.state import file_sha256, read_state, write_state
from textcluster.storage import storage_errors, write_text

log = logging.getLogger(__name__)

MODEL_DIR = "model"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 2
PICKLED_MODEL = "pipeline.pt"  # format 1: a pickle, never loaded
STAGES = ("encoder", "reducer", "clusterer", "refiner")
PIPELINE_STATE = "pipeline"


def save_model(pipeline: Pipeline, folder: str | Path, config: Mapping[str, Any] | None = None) -> Path:
    """Write the fitted pipeline to ``folder``; the folder appears whole or not at all.

    Raises StateError when a stage's fitted state has no safe form (a third-party plugin
    holding a Python object); nothing is written then.
    """
    from textcluster import __version__

    stages = pipeline.fitted_stages()
    folder = Path(folder)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with storage_errors(partial):
        partial.mkdir(parents=True)
    try:
        written = []
        for group in STAGES:
            if stages[group] is not None:
                written += write_state(partial, group, stages[group].get_state())
        written += write_state(partial, PIPELINE_STATE, pipeline.get_state())
        manifest = {
            "format": FORMAT_VERSION,
            "textcluster_version": __version__,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "packages": package_versions(),
            "fit": pipeline.fit_info_,
            "predict_method": stages["clusterer"].predict_method,
            "stages": {
                group: None if stage is None else {"name": stage.key(), **stage.get_params()}
                for group, stage in stages.items()
                if group != "noise"
            }
            | {"noise": stages["noise"].key()},
            "seed": pipeline.seed,
            "config": dict(config) if config is not None else None,
            "files": {path.name: file_sha256(path) for path in written},
        }
        write_text(partial / MANIFEST_FILE, json.dumps(manifest, indent=2, default=str) + "\n")
        _replace_folder(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.info("saved the fitted pipeline to %s", folder)
    return folder


def _replace_folder(new: Path, folder: Path) -> None:
    """``new`` renamed to ``folder``; an older ``folder`` is moved aside first and removed only after, so a
    crash in between leaves one whole model under one of the two names."""
    old = folder.with_name(folder.name + ".old")
    with storage_errors(folder):
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
        new.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------------------------- loading


def find_model_dir(path: str | Path, what: str = "run_dir") -> Path:
    """The model folder of a run folder (or the model folder itself); one-line UserError when there is none."""
    path = Path(str(path)).expanduser()
    if not path.exists():
        raise UserError(f"{what} '{path}' does not exist; point {what}= at the folder of a finished textcluster run")
    if path.is_file():
        raise UserError(f"{what} '{path}' is a file; point {what}= at a run folder (it holds {MODEL_DIR}/)")
    for candidate in (path / MODEL_DIR, path):
        if (candidate / MANIFEST_FILE).is_file() or (candidate / PICKLED_MODEL).is_file():
            return candidate
    status = read_status(path)
    if status == "failed":
        why = "the run failed (see its status.json), so it saved no model; fix the run and run it again"
    elif status in ("running", "interrupted"):
        why = f"the run is {status} (it saves its model when it finishes); wait for it or run it again"
    elif status == "completed":
        why = "the run finished without saving a model (its log says why)"
    else:
        why = "it is not a textcluster run folder"
    raise UserError(f"no saved model in '{path}' ({MODEL_DIR}/{MANIFEST_FILE} is missing): {why}")


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The manifest, after refusing the old pickled format and files that are not what they should be."""
    manifest_path = Path(model_dir) / MANIFEST_FILE
    if not manifest_path.is_file() and (Path(model_dir) / PICKLED_MODEL).is_file():
        raise UserError(
            f"{model_dir} holds a model saved as a pickle ({PICKLED_MODEL}) by an older textcluster; "
            "a pickle can run code, so it is not loaded: run the experiment again to save it as data"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UserError(
            f"{manifest_path} cannot be read ({type(error).__name__}); the model folder is damaged: "
            "run the experiment again"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("stages"), dict):
        raise UserError(f"{manifest_path} is not a textcluster model manifest; run the experiment again")
    if manifest.get("format") != FORMAT_VERSION:
        newer = isinstance(manifest.get("format"), int) and manifest["format"] > FORMAT_VERSION
        raise UserError(
            f"{model_dir} holds model format {manifest.get('format')!r}; this textcluster reads format "
            f"{FORMAT_VERSION}: " + ("upgrade textcluster" if newer else "run the experiment again")
        )
    for name, checksum in (manifest.get("files") or {}).items():
        file = Path(model_dir) / name
        if Path(name).name != name or not file.is_file() or file_sha256(file) != checksum:
            raise UserError(
                f"{file} is missing or does not match the checksum in {MANIFEST_FILE}; the model folder "
                "is damaged or was changed: run the experiment again"
            )
    return manifest


def _stage(group: str, settings: Mapping[str, Any] | None, model_dir: Path):
    if settings is None:
        return None
    try:
        stage = STAGE_REGISTRIES[group].build(settings, where=f"the model's {group}")
    except UnknownPluginError as error:
        raise UserError(
            f"the model in {model_dir} uses a plugin that is not loaded ({error}); install it, or give "
            "plugins_dir=<folder> for a local one"
        ) from None
    return stage.set_state(read_state(model_dir, group))


def load_model(
    path: str | Path,
    pipeline_class: type[Pipeline] = Pipeline,
    what: str = "path",
    manifest: dict[str, Any] | None = None,
) -> tuple[Pipeline, dict[str, Any]]:
    """``(fitted pipeline, manifest)`` from a run folder or its model folder (``what`` names the argument);
    ``manifest``: what :func:`read_manifest` already gave for that folder."""
    from textcluster import __version__

    model_dir = find_model_dir(path, what)
    manifest = manifest if manifest is not None else read_manifest(model_dir)
    if manifest.get("textcluster_version") != __version__:
        log.warning(
            "%s was saved by textcluster %s; this is %s", model_dir, manifest.get("textcluster_version"), __version__
        )
    stages = manifest["stages"]
    try:
        stage_objects = {group: _stage(group, stages.get(group), model_dir) for group in STAGES}
        pipeline = pipeline_class(**stage_objects, noise=str(stages.get("noise", "keep")), seed=int(manifest["seed"]))
        pipeline.set_state(read_state(model_dir, PIPELINE_STATE))
    except (StateError, UserError):
        raise
    except Exception as error:  # state that parses but does not fit its stage (a changed or foreign file)
        raise UserError(
            f"cannot load the model in {model_dir} ({type(error).__name__}: {error}); the model folder "
            "is damaged or not a textcluster model: run the experiment again"
        ) from None
    return pipeline, manifest
