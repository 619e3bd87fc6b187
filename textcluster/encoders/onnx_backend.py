"""ONNX Runtime for the forward pass of a pretrained encoder on the CPU (``encoder.backend=onnx``).

The torch model is exported once per model, quantisation and toolchain into
``$TEXTCLUSTER_CACHE_DIR/onnx/<key>/model.onnx`` (else ``~/.cache/textcluster``,
as the embedding cache); later runs load the file. The graph maps
``(input_ids, attention_mask)`` to the last hidden states of the tokens, so the
pooling and normalisation stay in :class:`~textcluster.encoders.pretrained.PretrainedEncoder`,
one piece of code for both backends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textcluster.encoders.hub import model_cache_root
from textcluster.errors import UserError
from textcluster.machine import available_cores

if TYPE_CHECKING:  # torch and onnxruntime are imported where they run: checking a config must not pay for them
    import torch

log = logging.getLogger(__name__)

FORMAT = 1  # bump when the export below changes what the file computes
OPSET = 17
QUANTIZE = ("none", "int8")
INPUTS = ("input_ids", "attention_mask")


def model_key(identity: dict[str, Any], quantize: str) -> str:
    """A hash of everything that decides the exported file: the weights, the quantisation and the tools."""
    import onnxruntime
    import torch

    parts = {
        "format": FORMAT,
        "model": identity,
        "quantize": quantize,
        "opset": OPSET,
        "torch": torch.__version__,
        "transformers": version("transformers"),
        "onnxruntime": onnxruntime.__version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def model_path(identity: dict[str, Any], quantize: str) -> Path:
    return model_cache_root("onnx") / model_key(identity, quantize) / "model.onnx"


def hidden_states(model: torch.nn.Module) -> torch.nn.Module:
    """The model as the exporter sees it: two tensors in, the last hidden states (batch, tokens, dim) out.
    (A class made here, not at the module top, so that importing this module does not import torch.)"""
    import torch

    class HiddenStates(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.model = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask)[0]

    return HiddenStates(model)


def export(model: torch.nn.Module, target: Path, quantize: str) -> None:
    """Export ``model`` (on the CPU, in eval mode) to ``target``, int8-quantised if asked; written atomically.

    Everything is written in a temporary folder beside ``target`` and renamed into place, so a crash or a
    second process exporting at the same time never leaves a half-written model behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as work:
        exported = Path(work) / "float32.onnx"
        _trace(model, exported)
        if quantize == "int8":
            exported = _quantize_int8(exported, Path(work) / "int8.onnx")
        os.replace(exported, target)


def _trace(model: torch.nn.Module, path: Path) -> None:
    import torch

    # Batch 2 with one padded row: an axis of size 1 could be specialised by the tracer, and an all-ones
    # mask could let the model take a no-mask shortcut that would then be baked into the graph.
    ids = torch.full((2, 16), 100, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The tracer warns about Python branches in transformers' mask code; they do not depend on the values.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            hidden_states(model).eval(),
            (ids, mask),
            str(path),
            input_names=list(INPUTS),
            output_names=["hidden_states"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "hidden_states": axes},
            opset_version=OPSET,
            dynamo=False,  # the dynamo exporter needs onnxscript
        )


def _quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 quantisation of the matrix products, one scale per output channel of each weight."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet_root_logger():  # it logs a "consider pre-processing" hint on the root logger
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
    return target


@contextlib.contextmanager
def quiet_root_logger():
    """Errors only on the root logger meanwhile: ONNX Runtime's quantisation tools log their hints there (public:
    the benchmarks' own quantisation routes use it too)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


class OnnxForward:
    """An ONNX Runtime session over the exported model; called like the torch model, returns the hidden states."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads  # as many as torch would use, so the backends compare fairly
        options.inter_op_num_threads = 1  # the graph is one chain of layers: nothing to run side by side
        options.log_severity_level = 3  # errors only: its optimiser's notes are not the user's business
        # Idle workers sleep instead of spinning: on a busy machine a spinning thread takes the core that the
        # thread doing the work needs (benchmarks/results/encoder-speed.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        import torch

        feed = {"input_ids": input_ids.cpu().numpy(), "attention_mask": attention_mask.cpu().numpy()}
        return torch.from_numpy(self.session.run(None, feed)[0])


def load_forward(model: torch.nn.Module, identity: dict[str, Any], quantize: str = "none") -> OnnxForward:
    """The ONNX forward pass of ``model``: exported (and quantised) on first use, then read from the cache."""
    path = model_path(identity, quantize)
    if path.is_file():
        log.info("pretrained encoder: ONNX model from the cache, %s", path)
    else:
        log.info("pretrained encoder: exporting the model to ONNX (quantize=%s), %s", quantize, path)
        try:
            export(model, path, quantize)
        except OSError as error:
            raise UserError(
                f"encoder.backend=onnx could not write the exported model under {path.parent} ({error}); "
                "set cache_dir (or $TEXTCLUSTER_CACHE_DIR) to a writable folder, or use encoder.backend=torch"
            ) from None
        except Exception as error:  # an operator the exporter does not know, ...: the user needs one line
            text = " ".join(str(error).split())[:200] or type(error).__name__
            raise UserError(
                f"encoder.backend=onnx could not export the model to ONNX ({text}); use encoder.backend=torch"
            ) from None
    return OnnxForward(path, threads=available_cores())
