"""The torch networks of ``encoder=cnn`` (imported when one is built): see textcluster.encoders.cnn."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from textcluster.encoders.sequence_network import PixelAutoencoder, SequenceNetwork
from textcluster.training.batching import masked_max


class ConvAutoencoder(PixelAutoencoder):
    """Strided-convolution encoder to a linear code, mirrored by transposed convolutions; works for any H x W."""

    def __init__(
        self, height: int, width: int, channels: Sequence[int] = (32, 64, 128), embedding_dim: int = 10, **pixel
    ):
        super().__init__(**pixel)
        widths = [1, *channels]
        pairs = list(zip(widths[:-1], widths[1:]))
        self.down = nn.ModuleList(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1) for c_in, c_out in pairs)
        self.up = nn.ModuleList(nn.ConvTranspose2d(c_out, c_in, 3, stride=2, padding=1) for c_in, c_out in pairs[::-1])
        self.sizes = self._stage_sizes(height, width)  # (H, W) before each down stage, then the smallest
        self.bottom_shape = (widths[-1], *self.sizes[-1])
        flat = widths[-1] * self.sizes[-1][0] * self.sizes[-1][1]
        self.to_code = nn.Linear(flat, embedding_dim)
        self.from_code = nn.Linear(embedding_dim, flat)

    def _stage_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        sizes = [(height, width)]
        for _ in self.down:
            h, w = sizes[-1]
            sizes.append(((h + 1) // 2, (w + 1) // 2))  # stride 2, kernel 3, padding 1
        return sizes

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(1)
        for conv in self.down:
            h = F.relu(conv(h))
        return self.to_code(h.flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_code(z).view(-1, *self.bottom_shape)
        targets = self.sizes[-2::-1]  # the size before each down stage, deepest first
        for i, (deconv, size) in enumerate(zip(self.up, targets)):
            h = deconv(h, output_size=size)
            if i < len(self.up) - 1:
                h = F.relu(h)
        return h.squeeze(1)


class TextCNN(SequenceNetwork):
    """Convolutions of several widths over token embeddings, ReLU, max over the real positions, concatenated."""

    def __init__(self, kernel_sizes: Sequence[int] = (1, 2, 3), filters: int = 64, dropout: float = 0.1, **base):
        super().__init__(**base)
        token_dim = self.tokens.embedding_dim
        # padding k-1 ("full" convolution): a document shorter than the kernel still has an output position
        self.convs = nn.ModuleList(nn.Conv1d(token_dim, filters, k, padding=k - 1) for k in kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.build_head(filters * len(kernel_sizes))

    def body(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.dropout(x).transpose(1, 2)  # (B, token_dim, L)
        lengths = mask.sum(dim=1, keepdim=True)
        pooled = []
        for conv in self.convs:
            states = F.relu(conv(x)).transpose(1, 2)  # (B, L + k - 1, filters)
            # output t sees tokens t-k+1 .. t: it is real when it overlaps a real token, t <= length + k - 2
            positions = torch.arange(states.shape[1], device=mask.device)
            window_mask = positions < lengths + conv.kernel_size[0] - 1
            pooled.append(masked_max(states, window_mask))
        return torch.cat(pooled, dim=1)
