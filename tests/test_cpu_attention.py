"""The bfloat16 copy's attention for short texts: the same output as torch's kernel, the padding masked."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from textcluster.encoders.cpu_attention import (  # noqa: E402
    SHORT_SEQUENCE_TOKENS,
    short_sequence_attention,
    use_short_sequence_attention,
)


def padded_batch(tokens: int, batch: int = 3, heads: int = 2, size: int = 8):
    """Query, key, value and an additive mask whose second text has its last third padded."""
    generator = torch.Generator().manual_seed(tokens)
    query, key, value = (torch.randn(batch, heads, tokens, size, generator=generator) for _ in range(3))
    mask = torch.zeros(batch, 1, tokens, tokens)
    mask[1, :, :, tokens - tokens // 3 :] = torch.finfo(torch.float32).min
    return query, key, value, mask


@pytest.mark.parametrize("tokens", [5, SHORT_SEQUENCE_TOKENS, SHORT_SEQUENCE_TOKENS + 1])
def test_attention_matches_torchs_kernel_with_padding_masked(tokens):
    query, key, value, mask = padded_batch(tokens)
    module = SimpleNamespace(is_causal=False, training=False)
    found, weights = short_sequence_attention(module, query, key, value, mask, scaling=0.3)
    expected = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=0.3)
    assert weights is None and found.shape == (3, tokens, 2, 8)  # (batch, tokens, heads, size), as transformers' own
    torch.testing.assert_close(found, expected.transpose(1, 2), atol=1e-5, rtol=1e-5)
    # the padded keys change nothing: the second text alone, unpadded, gives the same output for its real tokens
    seen = tokens - tokens // 3
    alone, _ = short_sequence_attention(module, query[1:2, :, :seen], key[1:2, :, :seen], value[1:2, :, :seen], None)
    in_batch, _ = short_sequence_attention(module, query, key, value, mask)
    torch.testing.assert_close(in_batch[1, :seen], alone[0], atol=1e-5, rtol=1e-5)


def test_only_model_types_measured_are_switched():
    switched = []
    other = SimpleNamespace(config=SimpleNamespace(model_type="mpnet"), set_attn_implementation=switched.append)
    assert not use_short_sequence_attention(other) and switched == []
