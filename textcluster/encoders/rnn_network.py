"""The torch networks of ``encoder=rnn`` (imported when one is built): see textcluster.encoders.rnn.

Its cells are the names textcluster.encoders.rnn accepts (tests/test_registry.py checks).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textcluster.encoders.sequence_network import PixelAutoencoder, SequenceNetwork
from textcluster.training.batching import masked_max, masked_mean

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def make_rnn(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0
) -> nn.RNNBase:
    return CELLS[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=True,
        dropout=dropout if num_layers > 1 else 0.0,
    )


def last_hidden(rnn: nn.RNNBase, hidden) -> torch.Tensor:
    """The last layer's final state, both directions concatenated: (B, hidden_size * directions)."""
    h_n = hidden[0] if isinstance(hidden, tuple) else hidden  # LSTM returns (h, c)
    directions = 2 if rnn.bidirectional else 1
    return torch.cat(list(h_n[-directions:]), dim=1)


class RowRNNAutoencoder(PixelAutoencoder):
    """Rows of pixels as time steps: recurrent encoder to a linear code, recurrent decoder back to rows."""

    def __init__(
        self,
        height: int,
        width: int,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        embedding_dim: int = 10,
        **pixel,
    ):
        super().__init__(**pixel)
        self.height = height
        self.encoder = make_rnn(cell, width, hidden_size, num_layers, bidirectional)
        self.to_code = nn.Linear(hidden_size * (2 if bidirectional else 1), embedding_dim)
        self.from_code = nn.Linear(embedding_dim, hidden_size)
        self.decoder = make_rnn(cell, hidden_size, hidden_size, num_layers)
        self.to_row = nn.Linear(hidden_size, width)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        _, hidden = self.encoder(x)  # x: (B, H, W), one row per step
        return self.to_code(last_hidden(self.encoder, hidden))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        steps = F.relu(self.from_code(z)).unsqueeze(1).expand(-1, self.height, -1).contiguous()
        states, _ = self.decoder(steps)
        return self.to_row(states)


class TextRNN(SequenceNetwork):
    """GRU/LSTM over packed token embeddings, pooled over the real positions."""

    def __init__(
        self,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: str = "max",
        dropout: float = 0.1,
        **base,
    ):
        super().__init__(**base)
        self.pooling = pooling
        self.rnn = make_rnn(cell, self.tokens.embedding_dim, hidden_size, num_layers, bidirectional, dropout)
        self.dropout = nn.Dropout(dropout)
        self.build_head(hidden_size * (2 if bidirectional else 1))

    def body(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        lengths = mask.sum(dim=1).cpu()  # pack_padded_sequence wants lengths on the CPU
        packed = pack_padded_sequence(self.dropout(x), lengths, batch_first=True, enforce_sorted=False)
        outputs, hidden = self.rnn(packed)
        if self.pooling == "last":
            return last_hidden(self.rnn, hidden)
        states, _ = pad_packed_sequence(outputs, batch_first=True, total_length=x.shape[1])
        return masked_max(states, mask) if self.pooling == "max" else masked_mean(states, mask)
