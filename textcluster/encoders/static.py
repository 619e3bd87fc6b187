"""``encoder=static``: a static embedding model distilled from a sentence-transformer (model2vec).

model2vec passes every token of the source model's vocabulary through the model once, keeps one vector
per token (PCA-reduced, SIF-weighted), and then embeds a document as the mean of its tokens' vectors: no
network runs at encoding time, so it is tens of times faster than the transformer on a CPU
(benchmarks/results/static-encoder.md). The source model comes from :mod:`textcluster.encoders.hub`
(all-MiniLM-L6-v2 from its wheel, never downloaded).

The distilled model is built once per source model, settings and model2vec version into
``$TEXTCLUSTER_CACHE_DIR/static/<key>/`` (else ``~/.cache/textcluster``, beside the ONNX exports). It is
written in a temporary folder and renamed into place, with a ``complete.json`` marker written last: an
entry without the marker, or one that does not load, is set aside and rebuilt, and of two processes
distilling at once the first rename wins and the other uses its entry.

torch is imported only while distilling; encoding with a cached model imports neither torch nor transformers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from textcluster import console
from textcluster.contracts import Encoder, TrainingContext
from textcluster.dataset import TEXT, Dataset
from textcluster.encoders.hub import MINILM_NAMES, model_cache_root, model_identity
from textcluster.errors import UserError
from textcluster.params import NULL, Bool, Int, Str
from textcluster.registry import encoders

log = logging.getLogger(__name__)

FORMAT = 1  # bump when what is distilled below changes for the same settings
MARKER = "complete.json"  # written last, inside the temporary folder: an entry without it is unfinished
QUANTIZE_TO = "float32"  # model2vec's default float16 rounds the vectors; 30k x 256 float32 is 30 MB


def model_key(identity: dict[str, Any], pca_dims: int | None) -> str:
    """A hash of everything that decides the distilled vectors: the source weights, the settings, the tools."""
    parts = {
        "format": FORMAT,
        "model": identity,
        "pca_dims": pca_dims,
        "quantize_to": QUANTIZE_TO,
        "model2vec": version("model2vec"),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _complete(folder: Path) -> bool:
    return (folder / MARKER).is_file() and (folder / "model.safetensors").is_file()


def _set_aside(folder: Path) -> None:
    """Move an unfinished or broken entry out of the way (a unique name, so two processes cannot collide)."""
    aside = folder.with_name(f".broken-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(folder, aside)
    except FileNotFoundError:  # another process moved it first
        return
    shutil.rmtree(aside, ignore_errors=True)


def distill_into(target: Path, model_name_or_path: str, revision: str | None, pca_dims: int | None) -> None:
    """Distil the source model into ``target`` (a folder), atomically; an existing complete entry wins."""
    from textcluster.encoders.hub import load_model  # transformers and torch, only here

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        tokenizer, model = load_model(model_name_or_path, revision)
    except UserError as error:  # its messages name encoder=pretrained, its first user
        raise UserError(str(error).replace("encoder=pretrained", "encoder=static", 1)) from None
    if not getattr(tokenizer, "is_fast", False):
        raise UserError(f"encoder=static needs a model with a fast (Rust) tokenizer; '{model_name_or_path}' has none")
    console.install()  # model2vec and skeletoken narrate each step of the distillation
    from model2vec.distill import distill_from_model

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".distill-") as work:
        folder = Path(work) / "model"
        try:
            # model2vec draws a bar over the vocabulary it encodes, with no option to turn it off; the run's log
            # already said that the model is being distilled, once
            with console.no_progress_bars("model2vec.distill.inference"):
                static = distill_from_model(model, tokenizer, pca_dims=pca_dims, device="cpu", quantize_to=QUANTIZE_TO)
        except ValueError as error:  # pca_dims larger than the model's width, ...
            text = " ".join(str(error).split())[:200]
            raise UserError(f"encoder=static could not distil '{model_name_or_path}' ({text})") from None
        static.save_pretrained(folder)
        (folder / MARKER).write_text(json.dumps({"source": model_name_or_path, "pca_dims": pca_dims}))
        if target.exists() and not _complete(target):
            _set_aside(target)
        try:
            os.rename(folder, target)
        except OSError:
            if not _complete(target):  # not another process's finished entry: a real failure
                raise


@encoders.register("static")
class StaticEncoder(Encoder):
    """Mean of distilled per-token vectors (model2vec); L2-normalised when ``normalize``."""

    uses_torch = False  # encoding draws no random numbers (distilling imports torch, but is deterministic)
    modalities = (TEXT,)
    depends_on_seed = False  # nothing is trained: runs over several seeds share one embedding cache entry
    parameters = {
        "model_name_or_path": Str(),
        "revision": Str() | NULL,
        "pca_dims": Int(min=2) | NULL,
        "normalize": Bool(),
    }

    def __init__(
        self,
        model_name_or_path: str = MINILM_NAMES[0],
        revision: str | None = None,
        pca_dims: int | None = 256,
        normalize: bool = True,
    ):
        self.model_name_or_path, self.revision = model_name_or_path, revision
        self.pca_dims, self.normalize = pca_dims, normalize
        self.model_ = None

    def cache_identity(self) -> dict[str, Any]:
        """The source weights and the model2vec version (for the embedding cache key)."""
        return {
            "source": model_identity(self.model_name_or_path, self.revision),
            "model2vec": version("model2vec"),
            "format": FORMAT,
        }

    def model_folder(self) -> Path:
        return model_cache_root("static") / model_key(
            model_identity(self.model_name_or_path, self.revision), self.pca_dims
        )

    def load(self) -> StaticEncoder:
        """The distilled model: from the cache, else distilled once and cached."""
        if self.model_ is not None:
            return self
        console.install()  # model2vec logs as it loads a model
        from model2vec import StaticModel

        folder = self.model_folder()
        if _complete(folder):
            try:
                self.model_ = StaticModel.from_pretrained(folder)
                log.info("static encoder: distilled model from the cache, %s", folder)
                return self
            except Exception as error:  # a truncated file, ...: rebuilt below
                log.warning("static encoder: the cached model %s does not load (%s); distilling again", folder, error)
                _set_aside(folder)
        log.info(
            "static encoder: distilling %s (pca_dims=%s) into %s, once", self.model_name_or_path, self.pca_dims, folder
        )
        try:
            distill_into(folder, self.model_name_or_path, self.revision, self.pca_dims)
        except OSError as error:
            raise UserError(
                f"encoder=static could not write the distilled model under {folder.parent} ({error}); "
                "set cache_dir (or $TEXTCLUSTER_CACHE_DIR) to a writable folder"
            ) from None
        self.model_ = StaticModel.from_pretrained(folder)
        return self

    def fit(self, dataset: Dataset | None = None, context: TrainingContext | None = None) -> StaticEncoder:
        self.load()
        self.dimension_ = int(self.model_.dim)
        return self

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.model_.dim), dtype=np.float32)
        vectors = self.model_.encode(texts, normalize=self.normalize, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def transform(self, dataset: Dataset) -> np.ndarray:
        if dataset.texts is None:
            raise UserError(f"encoder=static reads texts; {dataset.name} has none")
        return self.embed_texts(dataset.texts)

    def get_state(self) -> dict[str, Any]:
        return {"dimension_": getattr(self, "dimension_", None)}
