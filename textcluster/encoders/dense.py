"""Fully connected autoencoder (DEC's d-500-500-2000-10 by default) and the raw baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from textcluster.contracts import Encoder, TrainingContext
from textcluster.dataset import IMAGE, Dataset
from textcluster.encoders.base import TensorView, l2_normalize
from textcluster.encoders.features import TFIDF_SETTINGS, VectorFeatures
from textcluster.params import Bool, Choice, Float, Int, ListOf
from textcluster.registry import encoders
from textcluster.training.augment import AUGMENT_SETTINGS, RandomAffine
from textcluster.training.networks import embed_in_batches, load_network_state, network_state

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "elu": nn.ELU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}

RECONSTRUCTION_LOSSES = {
    "mse": nn.functional.mse_loss,
    # For inputs in [0, 1] such as pixels: the decoder's output is read as logits.
    "bce": nn.functional.binary_cross_entropy_with_logits,
}

DROPOUT = Float(min=0, max=0.95)
TRAINING_SETTINGS = {
    "lr": Float(min=0, min_open=True),
    "weight_decay": Float(min=0),
    "batch_size": Int(min=1),
    "val_fraction": Float(min=0, max=0.9),
    "early_stopping_patience": Int(min=0),
    "normalize": Bool(),
}
"""The training settings every encoder trained from scratch takes."""


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


@encoders.register("dense")
class DenseEncoder(Encoder):
    """Trains a :class:`DenseAutoencoder` with Lightning on pixels or TF-IDF and embeds with its encoder half."""

    refinable = True
    parameters = {
        "hidden_dims": ListOf(Int(min=1), min_length=1),
        "embedding_dim": Int(min=1),
        "activation": Choice(*ACTIVATIONS),
        "dropout": DROPOUT,
        "input_dropout": DROPOUT,
        "loss": Choice("auto", *RECONSTRUCTION_LOSSES),
        **TRAINING_SETTINGS,
        "augment": AUGMENT_SETTINGS,
        "features": TFIDF_SETTINGS,
    }

    def __init__(
        self,
        hidden_dims: Sequence[int] = (500, 500, 2000),
        embedding_dim: int = 10,
        activation: str = "relu",
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        loss: str = "auto",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        val_fraction: float = 0.1,
        early_stopping_patience: int = 10,
        normalize: bool = True,
        augment: Mapping[str, Any] | None = None,
        features: Mapping[str, Any] | None = None,
    ):
        self.hidden_dims, self.embedding_dim, self.activation = list(hidden_dims), embedding_dim, activation
        self.dropout, self.input_dropout, self.loss = dropout, input_dropout, loss
        self.lr, self.weight_decay, self.batch_size = lr, weight_decay, batch_size
        self.val_fraction, self.early_stopping_patience, self.normalize = (
            val_fraction,
            early_stopping_patience,
            normalize,
        )
        self.augment = dict(augment or {})
        self.features = dict(features or {})

    def _network(self, input_dim: int, loss: str, image_shape: Sequence[int] | None) -> DenseAutoencoder:
        settings = dict(self.augment)
        augment = RandomAffine(image_shape, **settings) if image_shape and settings.pop("enabled", False) else None
        return DenseAutoencoder(
            input_dim,
            self.hidden_dims,
            self.embedding_dim,
            self.activation,
            self.dropout,
            self.input_dropout,
            loss,
            augment,
        )

    def fit(self, dataset: Dataset, context: TrainingContext) -> DenseEncoder:
        from textcluster.training.reconstruction import train_autoencoder  # Lightning is slow to import

        self.features_ = VectorFeatures(**self.features)
        inputs = self.features_.fit_transform(dataset)
        # auto: cross-entropy for pixels in [0, 1] (sharper digit codes than MSE), MSE for TF-IDF.
        self.loss_ = self.loss if self.loss != "auto" else ("bce" if dataset.modality == IMAGE else "mse")
        self.image_shape_ = dataset.image_shape
        self.network_ = self._network(inputs.shape[1], self.loss_, self.image_shape_)
        train_autoencoder(
            self.network_,
            inputs,
            context,
            batch_size=self.batch_size,
            val_fraction=self.val_fraction,
            patience=self.early_stopping_patience,
            lr=self.lr,
            weight_decay=self.weight_decay,
        )
        return self

    def transform(self, dataset: Dataset) -> np.ndarray:
        embeddings = embed_in_batches(self.network_.encode, self.features_.transform(dataset), self.batch_size)
        # k-means on unit-length codes compares directions, not magnitudes (see benchmarks/results/encoders.md)
        return l2_normalize(embeddings) if self.normalize else embeddings

    def refinement_view(self, dataset: Dataset) -> TensorView:
        return TensorView(self.network_, self.features_.transform(dataset), self.normalize)

    def get_state(self) -> dict[str, Any]:
        return {
            "features": self.features_.get_state(),
            "input_dim": self.network_.encoder[0].in_features,
            "loss": self.loss_,
            "image_shape": self.image_shape_,
            "network": network_state(self.network_),
        }

    def set_state(self, state: Mapping[str, Any]) -> DenseEncoder:
        self.features_ = VectorFeatures(**self.features).set_state(state["features"])
        self.loss_, self.image_shape_ = state["loss"], state["image_shape"]
        self.network_ = load_network_state(
            self._network(state["input_dim"], self.loss_, self.image_shape_), state["network"]
        )
        return self


@encoders.register("raw")
class RawEncoder(Encoder):
    """No learning: pixels or TF-IDF vectors as they are (the baseline every encoder must beat)."""

    parameters = {"features": TFIDF_SETTINGS}

    def __init__(self, features: Mapping[str, Any] | None = None):
        self.features = dict(features or {})

    def fit(self, dataset: Dataset, context: TrainingContext | None = None) -> RawEncoder:
        self.features_ = VectorFeatures(**self.features).fit(dataset)
        return self

    def transform(self, dataset: Dataset) -> np.ndarray:
        return self.features_.transform(dataset)

    def get_state(self) -> dict[str, Any]:
        return {"features": self.features_.get_state()}

    def set_state(self, state: Mapping[str, Any]) -> RawEncoder:
        self.features_ = VectorFeatures(**self.features).set_state(state["features"])
        return self
