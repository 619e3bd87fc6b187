"""How long a transformer takes to encode a corpus on this machine's CPU cores, estimated before it runs.

The estimate counts floating-point operations, so it follows the corpus (how many documents, how long)
and the model (its config: layers, widths) rather than a size cut fitted to one corpus:

* tokens per document: ``TOKENS_PER_WORD`` x its whitespace words, plus the two special tokens, capped
  at the encoder's ``max_length`` (MiniLM's WordPiece gave about 1.2 tokens per word on the texts of
  benchmarks/results/encoder-speed.md; 1.3 leaves room for corpora of rarer words);
* FLOPs per document: :func:`document_flops` (the count benchmarks/encoder_speed.py reports beside the
  measured speed);
* the rate: ``CPU_GFLOPS_PER_CORE[dtype]`` per core this process may use, the torch path as measured in
  benchmarks/results/encoder-speed.md on an AMD EPYC without AMX (float32: about 150 GFLOP/s on 2 AVX-512
  cores; bfloat16 weights on AVX512_BF16: about 400; an Intel core with AMX does more, so its estimate is
  long). A slower core makes the estimate short, so the static half is chosen later than it should be.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TOKENS_PER_WORD = 1.3
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
CPU_GFLOPS_PER_CORE = {"float32": 75.0, "bfloat16": 200.0}  # by the dtype the encoder runs (its resolved path)
# all-MiniLM-L6-v2's shape: used when the model's config.json cannot be read before loading it
DEFAULT_SHAPE = {"num_hidden_layers": 6, "hidden_size": 384, "intermediate_size": 1536}


def model_shape(folder: Path | None) -> dict[str, int]:
    """Layers and widths from a local model folder's config.json (no model is loaded), else MiniLM's."""
    config_path = None if folder is None else Path(folder) / "config.json"
    if config_path is None or not config_path.is_file():
        return dict(DEFAULT_SHAPE)
    config = json.loads(config_path.read_text())
    return {key: int(config.get(key) or value) for key, value in DEFAULT_SHAPE.items()}


def token_counts(word_counts: Sequence[int], max_length: int) -> np.ndarray:
    """Estimated tokens per document, as the encoder will see them (truncated at ``max_length``)."""
    words = np.asarray(word_counts, dtype=np.float64)
    return np.minimum(np.ceil(TOKENS_PER_WORD * words) + SPECIAL_TOKENS, max_length)


def document_flops(tokens: np.ndarray | float, shape: dict[str, int]) -> np.ndarray | float:
    """Forward FLOPs of documents of ``tokens`` tokens through a BERT encoder (padding not counted): per layer,
    the Q, K, V, output and two feed-forward matrices (2 x weights x tokens), and attention's QK^T and AV
    (2 x 2 x tokens^2 x hidden). Embedding look-ups, layer norms, softmax and GELU are left out (a few %)."""
    layers, hidden, inner = shape["num_hidden_layers"], shape["hidden_size"], shape["intermediate_size"]
    return layers * (2 * (4 * hidden * hidden + 2 * hidden * inner) * tokens + 4 * tokens * tokens * hidden)


def corpus_flops(word_counts: Sequence[int], max_length: int, shape: dict[str, int]) -> float:
    """Floating-point operations of one forward pass over every document (real tokens only)."""
    return float(np.sum(document_flops(token_counts(word_counts, max_length), shape)))


def cpu_seconds_estimate(
    word_counts: Sequence[int], max_length: int, shape: dict[str, int], cores: int, dtype: str = "float32"
) -> float:
    """Estimated wall seconds of encoding every document with the transformer on ``cores`` CPU cores in ``dtype``
    (a dtype without a measured rate counts as float32)."""
    rate = CPU_GFLOPS_PER_CORE.get(dtype, CPU_GFLOPS_PER_CORE["float32"])
    return corpus_flops(word_counts, max_length, shape) / (rate * 1e9 * max(1, cores))
