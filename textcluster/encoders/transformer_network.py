"""The torch network of ``encoder=transformer`` (imported when one is built): see textcluster.encoders.transformer."""

from __future__ import annotations

import math

import torch
from torch import nn

from textcluster.encoders.sequence_network import SequenceNetwork
from textcluster.training.batching import masked_mean


def sinusoidal_table(max_length: int, dim: int) -> torch.Tensor:
    """The (max_length, dim) sine/cosine position table of "Attention is all you need"."""
    positions = torch.arange(max_length, dtype=torch.float32).unsqueeze(1)
    frequencies = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(max_length, dim)
    table[:, 0::2] = torch.sin(positions * frequencies)
    table[:, 1::2] = torch.cos(positions * frequencies)[:, : dim // 2]
    return table


class PositionalEncoding(nn.Module):
    """Adds a learned or a fixed sinusoidal vector per position to (B, L, D) inputs."""

    def __init__(self, kind: str, max_length: int, dim: int):
        super().__init__()
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_length, dim) * 0.02)
        else:
            self.register_buffer("table", sinusoidal_table(max_length, dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[: x.shape[1]].to(x.dtype)


class TextTransformer(SequenceNetwork):
    """Positional encoding + TransformerEncoder with ``src_key_padding_mask``, masked mean pooling."""

    def __init__(
        self,
        max_length: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        feedforward_dim: int = 128,
        dropout: float = 0.1,
        positional: str = "learned",
        **base,
    ):
        super().__init__(**base)
        dim = self.tokens.embedding_dim
        self.positions = PositionalEncoding(positional, max_length, dim)
        layer = nn.TransformerEncoderLayer(dim, num_heads, feedforward_dim, dropout, batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(dim), enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        self.build_head(dim)

    def body(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        states = self.layers(self.dropout(self.positions(x)), src_key_padding_mask=~mask)
        return masked_mean(states, mask)
