"""Attention for the bfloat16 copy of a BERT encoder on a CPU, where batches of short texts make it slow.

torch's scaled-dot-product attention on a CPU runs a flash-attention kernel
built for long sequences: on batches of ~30-token texts it spends most of its
time outside arithmetic. Two batched matrix products with the softmax between
them (in float32, as the flash kernel accumulates) do the same work faster on
such batches and slower on long ones, so batches longer than
``SHORT_SEQUENCE_TOKENS`` go to torch's kernel. Measured in
``benchmarks/results/encoder-speed.md``.

The function is registered with transformers' attention interface under
``SHORT_ATTENTION`` and paired with its additive float mask, so a model set
to that name gets the padding mask every batch needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

SHORT_ATTENTION = "textcluster_short_sequences"
SHORT_SEQUENCE_TOKENS = 64  # at and below: the matrix products; above: torch's flash kernel (microbenchmark)
MODEL_TYPES = ("bert",)  # bidirectional encoders whose attention is plain softmax(QK^T)V: MiniLM, BGE, E5


def short_sequence_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers' attention-function contract: ``(output (batch, tokens, heads, head size), None)``."""
    import torch

    if query.shape[-2] > SHORT_SEQUENCE_TOKENS:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    scale = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)).float() * scale
    if attention_mask is not None:
        scores = scores + attention_mask  # additive: 0 where a token is seen, the dtype's minimum where padding
    output = torch.matmul(scores.softmax(-1).to(value.dtype), value)
    return output.transpose(1, 2).contiguous(), None


def use_short_sequence_attention(model: torch.nn.Module) -> bool:
    """Set ``model`` (a bfloat16 inference copy) to the attention above where its type is one measured; whether
    it was."""
    if getattr(model.config, "model_type", None) not in MODEL_TYPES:
        return False
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, eager_mask
    except ImportError:  # a transformers without the attention registries (before 4.53): torch's kernel stays
        return False
    if not hasattr(model, "set_attn_implementation"):
        return False
    AttentionInterface.register(SHORT_ATTENTION, short_sequence_attention)
    AttentionMaskInterface.register(SHORT_ATTENTION, eager_mask)  # the additive float mask the function adds
    model.set_attn_implementation(SHORT_ATTENTION)
    return True
