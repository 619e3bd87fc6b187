"""The fully connected autoencoder network of ``encoder=dense`` (torch; imported when one is built).

Its activations and losses are the names textcluster.encoders.dense accepts (tests/test_registry.py checks).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "elu": nn.ELU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}

RECONSTRUCTION_LOSSES = {
    "mse": nn.functional.mse_loss,
    # For inputs in [0, 1] such as pixels: the decoder's output is read as logits.
    "bce": nn.functional.binary_cross_entropy_with_logits,
}


def _mlp(dims: Sequence[int], activation: str, dropout: float) -> nn.Sequential:
    """Linear layers through ``dims``; no activation after the last one (a linear code / output)."""
    layers: list[nn.Module] = []
    for i, (width_in, width_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(width_in, width_out))
        if i < len(dims) - 2:
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class DenseAutoencoder(nn.Module):
    """Symmetric MLP autoencoder with an optional masking-noise (denoising) corruption."""

    def __init__(
        self,
        input_dim: int,
        hidden_dims: Sequence[int] = (500, 500, 2000),
        embedding_dim: int = 10,
        activation: str = "relu",
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        loss: str = "mse",
        augment: nn.Module | None = None,
    ):
        super().__init__()
        self.loss_fn = RECONSTRUCTION_LOSSES[loss]
        dims = [input_dim, *hidden_dims, embedding_dim]
        self.encoder = _mlp(dims, activation, dropout)
        self.decoder = _mlp(dims[::-1], activation, dropout)
        self.input_dropout = nn.Dropout(input_dropout) if input_dropout > 0 else nn.Identity()
        self.augment = augment if augment is not None else nn.Identity()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def reconstruction_loss(self, x: torch.Tensor) -> torch.Tensor:
        x = self.augment(x)  # the target is the augmented image too: learn shape, not position
        reconstruction = self.decode(self.encode(self.input_dropout(x)))
        return self.loss_fn(reconstruction, x)
