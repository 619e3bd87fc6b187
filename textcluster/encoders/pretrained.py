"""Pretrained Hugging Face encoders (sentence-transformers models and any ``AutoModel``), used as they are.

Texts are tokenised once without padding, sorted by token length and cut
into batches of similar length, so a batch is padded only to its own longest
member; the embeddings go back to the input order at the end. Pooling is the
mean over the attention mask (what sentence-transformers' MiniLM models were
trained with), then L2 normalisation. Where the model comes from:
:mod:`textcluster.encoders.hub`. ``backend=onnx`` runs the forward pass in
ONNX Runtime instead (:mod:`textcluster.encoders.onnx_backend`); the
tokenisation, batching and pooling are the same code for both.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from textcluster.contracts import Encoder, RefinementView, TrainingContext
from textcluster.dataset import TEXT, Dataset
from textcluster.encoders import onnx_backend
from textcluster.encoders.cpu_attention import use_short_sequence_attention
from textcluster.encoders.hub import MINILM_NAMES, load_model, model_identity
from textcluster.errors import UserError
from textcluster.machine import available_cores
from textcluster.params import NULL, Bool, Choice, Int, Str
from textcluster.progress import track
from textcluster.registry import encoders

if TYPE_CHECKING:  # torch is imported where it runs: checking a config must not pay for it
    import torch

log = logging.getLogger(__name__)

POOLINGS = ("mean", "cls")
DTYPES = ("float32", "float16", "bfloat16")  # names of torch dtypes (getattr(torch, name))
BACKENDS = ("torch", "onnx")
AUTO = "auto"  # backend/dtype resolved at run time from the device, the CPU's features and what is installed
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of CPUs with bfloat16 dot-product instructions
PRETRAINED_SETTINGS = {
    "model_name_or_path": Str(),
    "revision": Str() | NULL,
    "max_length": Int(min=2),
    "batch_size": Int(min=1),
    "normalize": Bool(),
    "pooling": Choice(*POOLINGS),
    "dtype": Choice(AUTO, *DTYPES),
    "device": Str(),
    "backend": Choice(AUTO, *BACKENDS),
    "quantize": Choice(*onnx_backend.QUANTIZE),
}


CHARS_PER_TOKEN = 32
"""A text longer than max_length x this many characters is tokenised from a prefix of about that length
that ends a word. Real text holds 3 to 6 characters per token, so the prefix holds more than max_length
tokens, and then the tokenizer's truncation of the prefix is its truncation of the whole text; a prefix
with fewer (runs of spaces) is tried again CUT_GROWTH times longer, at most CUT_RETRIES times."""
CUT_GROWTH, CUT_RETRIES = 4, 3
TOKENIZE_CHARACTERS = 1_000_000  # characters per tokenizer call: its memory grows with what it holds at once
BREAKS = " \t\n\r"  # whitespace that ends a word for every tokenizer (Unicode spaces may not: NBSP, ...)
NON_SPACE = re.compile(r"\S")


def token_prefix(text: str, n_chars: int) -> str:
    """``text`` when it has at most ``n_chars`` characters (or ``n_chars`` is 0), else its longest prefix of
    at most ``n_chars`` characters that ends a word (no word is cut in two, so the prefix's tokens are the
    first tokens of the whole text); with no break in the first ``n_chars`` characters, those characters."""
    if not n_chars or len(text) <= n_chars:
        return text
    head = text[: n_chars + 1]  # one more: a break right after the n_chars-th character ends a word there
    end = max(head.rfind(space) for space in BREAKS)
    prefix = head[:end].rstrip(BREAKS) if end > 0 else ""
    return prefix or head[:n_chars]


def _character_chunks(texts: Sequence[str], window: int) -> Iterator[list[str]]:
    """``texts`` in consecutive groups of about TOKENIZE_CHARACTERS characters (counting each at most
    ``window``, what it is tokenised from)."""
    chunk, size = [], 0
    for text in texts:
        chunk.append(text)
        size += min(len(text), window) if window else len(text)
        if size >= TOKENIZE_CHARACTERS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo); empty where they cannot be read (then nothing is assumed)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_bf16() -> bool:
    """Whether bfloat16 matrix products run natively here: the CPU has AVX512_BF16 or AMX-BF16 and torch's
    oneDNN agrees. Without them torch emulates bfloat16 in float32, slower than float32 itself."""
    if not any(flag in cpu_flags() for flag in BF16_FLAGS):
        return False
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def onnxruntime_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


AUTO_BF16 = True
"""Whether dtype=auto takes bfloat16 on a CPU with bf16 dot products (AVX512_BF16 / AMX): it is several times
faster than float32 there, and what it changes in the clusters is within k-means' own seed spread, on the
transformer's embeddings alone (benchmarks/results/encoder-precision-bf16.md) and through the whole text
recipe (benchmarks/results/default-precision.md)."""


def resolve_path(backend: str, dtype: str, quantize: str, device: str) -> tuple[dict[str, str], list[str]]:
    """What ``backend``/``dtype`` = auto mean on this machine: ``({"backend", "dtype", "quantize", "device"},
    reasons for each fallback)``.

    On a CPU, auto takes the fastest path measured to leave the clusters as torch float32 leaves them:
    bfloat16 in torch where the CPU has bf16 dot products (AVX512_BF16 / AMX; see AUTO_BF16), else ONNX
    Runtime in float32 where it is installed (backend auto), else torch in float32. ONNX Runtime has no
    bfloat16 matrix products on x86, so backend=onnx or quantize=int8 keep dtype auto at float32. bfloat16 on
    a CPU without bf16 dot products becomes float32: emulated bfloat16 is slower than float32 and less exact.
    quantize=int8 is ONNX Runtime's; without ONNX Runtime it is dropped. On a GPU, torch in float32 unless a
    dtype is named. Every fallback comes with a reason."""
    notes = []
    kind = "cpu" if device == "cpu" else "cuda" if str(device).startswith("cuda") else _device(device).type
    torch_on_cpu = kind == "cpu" and backend != "onnx"
    bf16 = dtype == "bfloat16" or (dtype == AUTO and AUTO_BF16 and torch_on_cpu and quantize == "none")
    if bf16 and torch_on_cpu and not cpu_has_bf16():
        notes.append("this CPU has no bfloat16 dot products (avx512_bf16/amx_bf16 flags): float32")
        bf16, dtype = False, "float32"
    if dtype == AUTO:
        dtype = "bfloat16" if bf16 else "float32"
    if backend == AUTO:
        if kind != "cpu" or dtype != "float32":
            backend = "torch"  # bfloat16 and float16 run in torch only
        elif onnxruntime_installed():
            backend = "onnx"
        else:
            backend = "torch"
            notes.append("onnxruntime is not installed: encoder.backend=auto runs torch")
    if quantize != "none" and backend != "onnx":
        notes.append(f"encoder.quantize={quantize} needs ONNX Runtime: not quantised")
        quantize = "none"
    return {"backend": backend, "dtype": dtype, "quantize": quantize, "device": kind}, notes


def _device(device: str) -> torch.device:
    import torch

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
    """A pretrained Hugging Face encoder (frozen): mean pooling over the attention mask, L2-normalised.

    Nothing is trained by ``fit``; a refiner (``refiner=contrastive``) can
    fine-tune the transformer through :meth:`refinement_view`, after which its
    weights are part of the saved state.
    """

    modalities = (TEXT,)
    depends_on_seed = False  # frozen: runs over several seeds share one embedding cache entry
    refinable = True
    parameters = PRETRAINED_SETTINGS

    def __init__(
        self,
        model_name_or_path: str = MINILM_NAMES[0],
        revision: str | None = None,
        max_length: int = 256,
        batch_size: int = 64,
        normalize: bool = True,
        pooling: str = "mean",
        dtype: str = AUTO,
        device: str = "auto",
        backend: str = "torch",
        quantize: str = "none",
    ):
        self.model_name_or_path, self.revision = model_name_or_path, revision
        self.max_length, self.batch_size, self.normalize = max_length, batch_size, normalize
        self.pooling, self.dtype, self.device = pooling, dtype, device
        self.backend, self.quantize = backend, quantize
        self.tokenizer_ = self.model_ = self.onnx_ = self.path_ = self.bf16_model_ = None
        self.cpu_bf16_ = False
        self.refined_ = False
        # Only the torch model can be fine-tuned: with onnx the pipeline refuses a refiner before any stage runs
        # (with auto, a refined model runs in torch: see uses_onnx).
        self.refinable = backend in ("torch", AUTO)

    def check_params(self) -> None:
        super().check_params()
        problem = self.backend_problem()
        if problem:
            raise UserError(problem)

    def backend_problem(self) -> str | None:
        """A setting that does not go with the backend: ONNX Runtime runs an exported float32 copy on the CPU."""
        if self.quantize != "none" and self.backend == "torch":
            return f"encoder.quantize={self.quantize} needs encoder.backend=onnx; or set encoder.quantize=none"
        if self.backend == "onnx" and self.dtype not in ("float32", AUTO):
            return (
                f"encoder.backend=onnx runs in float32 on the CPU; set encoder.dtype=float32 (not {self.dtype}), "
                "or use encoder.backend=torch"
            )
        if self.backend == "onnx" and self.device not in ("auto", "cpu"):
            return (
                f"encoder.backend=onnx runs on the CPU; set encoder.device=cpu (not {self.device}), "
                "or use encoder.backend=torch"
            )
        return None

    def check_input(self, n_samples: int) -> None:
        _device(self.device)  # a device that does not exist fails before anything loads

    def settled(self) -> dict[str, Any]:
        """The path that ran (backend, dtype, quantize, device), once resolved."""
        return {} if self.path_ is None else dict(self.path_)

    @property
    def path(self) -> dict[str, str]:
        """The resolved ``backend``, ``dtype``, ``quantize`` and device kind (auto settled once, logged in one
        line, with the reason for any fallback)."""
        if self.path_ is None:
            self.path_, notes = resolve_path(self.backend, self.dtype, self.quantize, self.device)
            asked = {"backend": self.backend, "dtype": self.dtype, "quantize": self.quantize}
            changed = ", ".join(f"{key}={value}" for key, value in asked.items() if value != self.path_[key])
            log.info(
                "pretrained encoder path: backend=%s dtype=%s quantize=%s on %s, %d threads%s%s",
                self.path_["backend"],
                self.path_["dtype"],
                self.path_["quantize"],
                self.path_["device"],
                available_cores(),
                f" (asked {changed})" if changed else "",
                "; " + "; ".join(notes) if notes else "",
            )
        return self.path_

    @property
    def uses_onnx(self) -> bool:
        """ONNX Runtime runs the forward pass: asked for (or chosen by auto), and the weights are the pretrained
        ones (not refined)."""
        return self.path["backend"] == "onnx" and not self.refined_

    def cache_identity(self) -> dict[str, Any]:
        """The weights this encoder would load and the path that runs them (backend, dtype, quantize as
        resolved: ``auto`` is different numbers on different machines), for the embedding cache key."""
        path = {key: self.path[key] for key in ("backend", "dtype", "quantize")}
        return {**model_identity(self.model_name_or_path, self.revision), "path": path}

    # ------------------------------------------------------------------ loading

    def load(self) -> PretrainedEncoder:
        """Load the tokenizer and the model (once)."""
        if self.model_ is None:
            import torch

            path = self.path
            device = torch.device("cpu") if path["backend"] == "onnx" else _device(self.device)
            # bfloat16 on a CPU: the model stays float32 (what a refiner trains); inference runs a bfloat16 copy
            # of it (bf16_model), or autocast once a refiner has changed the weights.
            self.cpu_bf16_ = device.type == "cpu" and path["backend"] == "torch" and path["dtype"] == "bfloat16"
            weights = torch.float32 if self.cpu_bf16_ else getattr(torch, path["dtype"])
            tokenizer, model = load_model(self.model_name_or_path, self.revision, weights)
            if device.type == "cpu" and torch.get_num_threads() != available_cores():
                # every core this process may use (torch's default counts the machine's physical cores)
                torch.set_num_threads(available_cores())
            self.tokenizer_, self.model_ = tokenizer, model.to(device).eval()
            log.info(
                "pretrained encoder: %s on %s, %s backend (max_length=%d, batch_size=%d)",
                self.model_name_or_path,
                next(self.model_.parameters()).device,
                path["backend"],
                self.effective_max_length,
                self.batch_size,
            )
        return self

    def onnx_forward(self) -> onnx_backend.OnnxForward:
        """The ONNX Runtime session (exported on first use, then from the cache)."""
        if self.onnx_ is None:
            identity = model_identity(self.model_name_or_path, self.revision)
            self.onnx_ = onnx_backend.load_forward(self.load().model_, identity, self.path["quantize"])
        return self.onnx_

    def fit(self, dataset: Dataset | None = None, context: TrainingContext | None = None) -> PretrainedEncoder:
        return self.load()

    def get_state(self) -> dict[str, Any]:
        """The model by name; its weights too once a refiner has fine-tuned them."""
        from textcluster.training.networks import network_state

        return {"weights": network_state(self.model_) if self.refined_ else None}

    def set_state(self, state: Mapping[str, Any]) -> PretrainedEncoder:
        if state.get("weights") is not None:
            from textcluster.training.networks import load_network_state

            self.load()
            load_network_state(self.model_, state["weights"]).to(_device(self.device))
            self.refined_, self.bf16_model_ = True, None
        return self

    @property
    def effective_max_length(self) -> int:
        """``max_length``, capped by what the model's position embeddings and tokenizer allow."""
        limits = [self.max_length]
        positions = getattr(self.model_.config, "max_position_embeddings", None)
        if isinstance(positions, int) and positions > 0:
            limits.append(positions)
        tokenizer_limit = getattr(self.tokenizer_, "model_max_length", None)
        if isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < 100_000:
            limits.append(tokenizer_limit)
        return min(limits)

    # ------------------------------------------------------------------ embedding

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, special tokens included, truncated at max_length (the count is logged).

        The ids are the tokenizer's own truncation of each whole text, but a long text is tokenised from a
        prefix (:func:`token_prefix`), so one huge document costs what a window of it costs. Only a text
        whose longest prefix tried still holds too few tokens (a megabyte of spaces) is embedded from that
        prefix, with a logged warning.
        """
        max_length = self.effective_max_length
        if max_length < self.max_length:
            log.warning(
                "encoder.max_length=%d is longer than %s accepts; using %d",
                self.max_length,
                self.model_name_or_path,
                max_length,
            )
        # A tokenizer that keeps a text's end (truncation_side=left) gets whole texts: prefixes would not do.
        window = max_length * CHARS_PER_TOKEN if getattr(self.tokenizer_, "truncation_side", "right") == "right" else 0
        ids: list[list[int]] = []
        n_truncated, n_cut = 0, 0
        for chunk in _character_chunks(texts, window):
            rows, truncated, cut = self._tokenize_chunk(chunk, max_length, window)
            ids.extend(rows)
            n_truncated, n_cut = n_truncated + truncated, n_cut + cut
        if n_truncated:
            # said once per encoder: a cached run encodes shard by shard, and a line per shard is noise
            level = logging.DEBUG if getattr(self, "_said_truncated", False) else logging.INFO
            self._said_truncated = True
            log.log(
                level,
                "pretrained encoder: documents longer than max_length=%d tokens are truncated (%d of %d here)",
                max_length,
                n_truncated,
                len(ids),
            )
        if n_cut:
            log.warning(
                "pretrained encoder: %d documents hold fewer than max_length=%d tokens in their first %d characters "
                "(long runs of spaces?); each is embedded from those characters",
                n_cut,
                max_length,
                window * CUT_GROWTH**CUT_RETRIES,
            )
        empty = [i for i, row in enumerate(ids) if len(row) == 0]
        if empty:  # a tokenizer without special tokens and a text it drops entirely: one unknown token
            filler = next((t for t in (self.tokenizer_.unk_token_id, self.tokenizer_.pad_token_id) if t is not None), 0)
            for i in empty:
                ids[i] = [filler]
            log.info("pretrained encoder: %d documents had no tokens; each embedded as one unknown token", len(empty))
        return ids

    def _token_ids(self, texts: Sequence[str], max_length: int | None = None) -> list[list[int]]:
        """The tokenizer's ids of ``texts`` (truncated at ``max_length`` when given)."""
        truncation = {"truncation": False} if max_length is None else {"truncation": True, "max_length": max_length}
        return self.tokenizer_(
            list(texts),
            add_special_tokens=True,
            padding=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
            **truncation,
        )["input_ids"]

    def _tokenize_chunk(self, texts: Sequence[str], max_length: int, window: int) -> tuple[list[list[int]], int, int]:
        """``(ids, documents truncated, documents cut short)`` of a few texts (see :meth:`tokenize`)."""
        cuts = [token_prefix(text, window) for text in texts]
        ids = self._token_ids(cuts)
        n_cut = 0
        # A prefix with no more than max_length tokens may lack tokens that the whole text keeps: a longer one
        # is tried, a few times, one text at a time (this is rare, and the longest prefixes cost the most).
        for i, text in enumerate(texts):
            n_chars = window
            for attempt in range(1, CUT_RETRIES + 1):
                if len(cuts[i]) == len(text) or len(ids[i]) > max_length:
                    break
                n_chars *= CUT_GROWTH
                # the last try cuts anywhere: a text whose only break comes early (a title, then unspaced text)
                cuts[i] = text[:n_chars] if attempt == CUT_RETRIES else token_prefix(text, n_chars)
                ids[i] = self._token_ids([cuts[i]])[0]
            if len(cuts[i]) < len(text) and len(ids[i]) <= max_length and NON_SPACE.search(text, len(cuts[i])):
                n_cut += 1
        too_long = [i for i, row in enumerate(ids) if len(row) > max_length]
        if too_long:
            # Re-tokenise only those with the tokenizer's own truncation (keeps its special tokens right).
            for i, row in zip(too_long, self._token_ids([cuts[i] for i in too_long], max_length)):
                ids[i] = row
        return ids, len(too_long) + n_cut, n_cut

    def batch_tensors(self, rows: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``(input_ids, attention_mask)`` of a batch, padded the way the tokenizer pads."""
        from textcluster.training.batching import pad_batch

        pad_id = self.tokenizer_.pad_token_id if self.tokenizer_.pad_token_id is not None else 0
        left = getattr(self.tokenizer_, "padding_side", "right") == "left"
        ids, mask = pad_batch(rows, pad_id, left=left)
        return ids.to(device), mask.long().to(device)

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The last hidden states of a batch's tokens, from ONNX Runtime or torch."""
        if self.uses_onnx:
            return self.onnx_forward()(input_ids, mask)
        if self.cpu_bf16_ and not self.refined_:
            return self.bf16_model()(input_ids=input_ids, attention_mask=mask)[0]
        if self.cpu_bf16_:
            import torch

            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.model_(input_ids=input_ids, attention_mask=mask)[0]
        return self.model_(input_ids=input_ids, attention_mask=mask)[0]

    def bf16_model(self):
        """A bfloat16 copy of the pretrained model, for inference on a CPU with bfloat16 dot products: faster
        than float32 weights under autocast (no cast of every weight at every product; measured in
        benchmarks/results/encoder-speed.md) and as close to float32 by the clusters it gives
        (benchmarks/results/encoder-precision-bf16.md), with attention fit for short texts (cpu_attention). Weights
        a refiner has changed run under autocast instead (forward): a copy made before the refiner trained would be
        stale."""
        if self.bf16_model_ is None:
            import copy

            import torch

            self.bf16_model_ = copy.deepcopy(self.model_).to(torch.bfloat16).eval()
            use_short_sequence_attention(self.bf16_model_)
        return self.bf16_model_

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from textcluster.training.batching import masked_mean

        return hidden[:, 0] if self.pooling == "cls" else masked_mean(hidden, mask)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` in their order: length-sorted batches, each padded to its own longest text."""
        import torch

        from textcluster.training.batching import length_batches

        self.load()
        texts = ["" if t is None else str(t) for t in texts]
        if not texts:
            return np.zeros((0, int(getattr(self.model_.config, "hidden_size", 0))), dtype=np.float32)
        ids = self.tokenize(texts)
        device = next(self.model_.parameters()).device
        if self.uses_onnx:
            self.onnx_forward()  # an export, if needed, happens here, outside inference mode
        output = None
        with torch.inference_mode(), track(len(texts), "embedding", "texts") as progress:
            # longest first: a memory error, if any, shows at once
            for batch in length_batches([len(row) for row in ids], self.batch_size, longest_first=True):
                input_ids, mask = self.batch_tensors([ids[i] for i in batch], device)
                hidden = self.forward(input_ids, mask)
                pooled = self.pool(hidden, mask).float()
                if self.normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                if output is None:
                    output = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
                output[batch] = pooled.cpu().numpy()
                progress.update(len(batch))
        return output

    def transform(self, dataset: Dataset) -> np.ndarray:
        return self.embed_texts(dataset.texts)

    def refinement_problem(self, refiner_key: str) -> str | None:
        if self.backend == "onnx":  # auto: the refined weights run in torch (uses_onnx)
            return (
                "a refiner fine-tunes the torch model, and encoder.backend=onnx runs an exported copy; "
                "use encoder.backend=torch, or refiner=none"
            )
        return super().refinement_problem(refiner_key)

    def refinement_view(self, dataset: Dataset) -> TransformerView:
        """The transformer itself, fine-tuned by the refiner (SCCL fine-tunes the whole encoder)."""
        problem = self.refinement_problem("<refiner>")
        if problem:
            raise UserError(problem)
        self.load()
        # the refiner changes the weights: from now on they are part of the state (and run under autocast)
        self.refined_, self.bf16_model_ = True, None
        return TransformerView(self, self.tokenize(dataset.texts))


class TransformerView(RefinementView):
    """A pretrained transformer for the refiners: inputs ``(input_ids, attention_mask)``; augmentation replaces
    a share (``token_dropout``) of the real, non-special tokens by the tokenizer's mask token (word dropout)."""

    def __init__(self, encoder: PretrainedEncoder, token_ids: list[list[int]], token_dropout: float = 0.2):
        super().__init__(encoder.model_, len(token_ids), encoder.normalize)
        self.encoder, self.token_ids, self.token_dropout = encoder, token_ids, token_dropout
        self.lengths = np.array([len(ids) for ids in token_ids])
        import torch

        tokenizer = encoder.tokenizer_
        self.replacement_id = next(t for t in (tokenizer.mask_token_id, tokenizer.unk_token_id, 0) if t is not None)
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        import torch

        return self.encoder.batch_tensors([self.token_ids[row] for row in rows], torch.device("cpu"))

    def code(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.network(input_ids=input_ids, attention_mask=attention_mask)[0]
        return self.encoder.pool(hidden, attention_mask)

    def augment(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        import torch

        special = torch.isin(input_ids, self.special_ids.to(input_ids.device))
        dropped = torch.rand(input_ids.shape, device=input_ids.device) < self.token_dropout
        dropped &= attention_mask.bool() & ~special
        return input_ids.masked_fill(dropped, self.replacement_id), attention_mask
