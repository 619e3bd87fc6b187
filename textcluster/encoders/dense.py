"""Fully connected autoencoder (DEC's d-500-500-2000-10 by default) and the raw baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from textcluster.contracts import Encoder, TrainingContext
from textcluster.dataset import IMAGE, Dataset
from textcluster.encoders.base import TensorView, l2_normalize
from textcluster.encoders.features import TFIDF_DEFAULTS, TFIDF_SETTINGS, VectorFeatures
from textcluster.params import Block, Bool, Choice, Float, Int, ListOf, settings_block
from textcluster.registry import encoders

if TYPE_CHECKING:  # torch is imported when a network is built, not when a config is checked
    from textcluster.encoders.dense_network import DenseAutoencoder

# the names the settings accept; textcluster.encoders.dense_network maps each to its torch module
ACTIVATION_NAMES = ("relu", "gelu", "elu", "tanh", "leaky_relu")
RECONSTRUCTION_LOSS_NAMES = ("mse", "bce")

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
AUGMENT_SETTINGS = Block({"enabled": Bool(), "max_shift": Float(min=0, max=0.5), "max_rotation": Float(min=0, max=180)})
"""Random shifts and rotations of images (textcluster.training.augment.RandomAffine)."""
AUGMENT_DEFAULTS = {"enabled": True, "max_shift": 0.08, "max_rotation": 10.0}
"""On by default: shifted/rotated digits train codes that k-means separates better (DEC-DA; the MNIST preset)."""


@encoders.register("dense")
class DenseEncoder(Encoder):
    """Trains a :class:`DenseAutoencoder` with Lightning on pixels or TF-IDF and embeds with its encoder half."""

    refinable = True
    parameters = {
        "hidden_dims": ListOf(Int(min=1), min_length=1),
        "embedding_dim": Int(min=1),
        "activation": Choice(*ACTIVATION_NAMES),
        "dropout": DROPOUT,
        "input_dropout": DROPOUT,
        "loss": Choice("auto", *RECONSTRUCTION_LOSS_NAMES),
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
        input_dropout: float = 0.2,
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
        self.augment = settings_block(AUGMENT_DEFAULTS, augment)
        self.features = settings_block(TFIDF_DEFAULTS, features)

    def _network(self, input_dim: int, loss: str, image_shape: Sequence[int] | None) -> DenseAutoencoder:
        from textcluster.encoders.dense_network import DenseAutoencoder
        from textcluster.training.augment import RandomAffine

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
        from textcluster.training.networks import embed_in_batches

        embeddings = embed_in_batches(self.network_.encode, self.features_.transform(dataset), self.batch_size)
        # k-means on unit-length codes compares directions, not magnitudes (see benchmarks/results/encoders.md)
        return l2_normalize(embeddings) if self.normalize else embeddings

    def refinement_view(self, dataset: Dataset) -> TensorView:
        return TensorView(self.network_, self.features_.transform(dataset), self.normalize)

    def get_state(self) -> dict[str, Any]:
        from textcluster.training.networks import network_state

        return {
            "features": self.features_.get_state(),
            "input_dim": self.network_.encoder[0].in_features,
            "loss": self.loss_,
            "image_shape": self.image_shape_,
            "network": network_state(self.network_),
        }

    def set_state(self, state: Mapping[str, Any]) -> DenseEncoder:
        from textcluster.training.networks import load_network_state

        self.features_ = VectorFeatures(**self.features).set_state(state["features"])
        self.loss_, self.image_shape_ = state["loss"], state["image_shape"]
        self.network_ = load_network_state(
            self._network(state["input_dim"], self.loss_, self.image_shape_), state["network"]
        )
        return self


@encoders.register("raw")
class RawEncoder(Encoder):
    """No learning: pixels or TF-IDF vectors as they are (the baseline every encoder must beat)."""

    uses_torch = False  # no network: a run with it never imports torch

    parameters = {"features": TFIDF_SETTINGS}

    def __init__(self, features: Mapping[str, Any] | None = None):
        self.features = settings_block(TFIDF_DEFAULTS, features)

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
