"""Shared machinery of the encoders trained from scratch on token sequences (cnn, rnn, transformer on text).

The objective: predict the document's words from a small code
--------------------------------------------------------------
Each network reads the token ids of a document and squeezes them into a
low-dimensional code (``embedding_dim``); a linear decoder maps the code to
one logit per TF-IDF term (:class:`~textcluster.encoders.features.VectorFeatures`,
stop words removed), and the loss is the cross entropy between the softmax over
those terms and the document's TF-IDF vector normalised to sum to one
(``objective: softmax_ce``). During training a share of the input tokens
(``token_dropout``) is replaced by ``[MASK]``, so the code has to predict
words it did not see from the ones it did (denoising).

Why this and not a language-model or sequence-reconstruction loss: a cluster
of short texts is a topic, a set of words that occur together. Asking a small
code to predict the whole weighted bag of words of its document makes it keep
what a document is about and drop word order, stop words and surface form,
which a next-token or seq2seq loss would spend its capacity on. The linear
softmax decoder is a topic model's decoder: documents about the same topic
must point in similar directions of the code space, which is what k-means on
L2-normalised codes (``normalize: true``) looks for. The masking noise makes
the code rely on co-occurrence rather than copying the input, which matters
for snippets whose TF-IDF vectors barely overlap. ``objective: cosine`` and
``objective: mse`` are there to compare; the measurements behind these choices
are in ``benchmarks/results/encoder-notes.md``.

Batches are bucketed by length (:mod:`textcluster.training.batching`), so a
batch holds documents of about the same length and little padding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from textcluster.contracts import Encoder, RefinementView, TrainingContext
from textcluster.dataset import IMAGE, TEXT, Dataset
from textcluster.encoders.base import TensorView, l2_normalize
from textcluster.encoders.dense import (
    AUGMENT_DEFAULTS,
    AUGMENT_SETTINGS,
    DROPOUT,
    RECONSTRUCTION_LOSS_NAMES,
    TRAINING_SETTINGS,
)
from textcluster.encoders.features import TFIDF_DEFAULTS, TFIDF_SETTINGS, VectorFeatures
from textcluster.encoders.tokenization import TOKENIZER_DEFAULTS, TOKENIZER_SETTINGS, SequenceTokenizer
from textcluster.params import NULL, Block, Choice, Float, Int, settings_block

if TYPE_CHECKING:  # torch is imported when a network is built, not when a config is checked
    from textcluster.encoders.sequence_network import PixelAutoencoder, SequenceNetwork

# the names the settings accept; textcluster.encoders.sequence_network maps each to its loss
OBJECTIVE_NAMES = ("softmax_ce", "cosine", "mse")

# ------------------------------------------------------------------------------------- plugin base

IMAGE_SETTINGS = {
    "embedding_dim": Int(min=1),
    "loss": Choice(*RECONSTRUCTION_LOSS_NAMES),
    "input_dropout": DROPOUT,
    "augment": AUGMENT_SETTINGS,
    "lr": Float(min=0, min_open=True),
    "weight_decay": Float(min=0),
    "batch_size": Int(min=1),
    "max_epochs": Int(min=1),
}
SEQUENCE_SETTINGS = {
    "embedding_dim": Int(min=1),
    "token_dim": Int(min=1),
    "token_dropout": DROPOUT,
    "objective": Choice(*OBJECTIVE_NAMES),
    **TRAINING_SETTINGS,
    "max_epochs": Int(min=1) | NULL,
    "tokenizer": TOKENIZER_SETTINGS,
    "features": TFIDF_SETTINGS,
    "image": Block(IMAGE_SETTINGS),
}
"""The settings every sequence encoder takes (``encoder.<key>`` for text, ``encoder.image.<key>`` for images)."""


def capped_epochs(trainer: Mapping[str, Any], own: int | None) -> int | None:
    """``trainer.max_epochs`` lowered to the encoder's own budget (the smaller one wins); None: no cap."""
    current = trainer.get("max_epochs")
    if own is None:
        return None
    return own if current is None or current < 0 else min(current, own)


class SequenceEncoder(Encoder):
    """Base of the from-scratch encoders: text through a tokenizer and a :class:`SequenceNetwork`.

    Subclasses implement ``build_text_network(vocab_size, target_dim, pad_id, mask_id)``
    and, when they read images too (``modalities``), ``build_image_network(height, width)``
    returning an autoencoder with ``encode(x)`` and ``reconstruction_loss(x)`` on (B, H, W) images.
    The top-level training settings are for text; images take theirs from the
    ``image`` block (keys of ``image_defaults``), since a pixel autoencoder wants
    another code size, learning rate and batch size than the text objective.
    """

    modalities = (TEXT,)
    refinable = True
    image_defaults: ClassVar[dict] = {
        "embedding_dim": 10,
        "loss": "mse",
        "input_dropout": 0.0,
        "augment": AUGMENT_DEFAULTS,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "batch_size": 32,
        "max_epochs": 20,
    }

    def __init__(
        self,
        embedding_dim: int = 32,
        token_dim: int = 64,
        token_dropout: float = 0.5,
        objective: str = "softmax_ce",
        lr: float = 0.01,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        early_stopping_patience: int = 3,
        max_epochs: int | None = 10,
        normalize: bool = True,
        tokenizer: Mapping[str, Any] | None = None,
        features: Mapping[str, Any] | None = None,
        image: Mapping[str, Any] | None = None,
    ):
        self.embedding_dim, self.token_dim = embedding_dim, token_dim
        self.token_dropout, self.objective = token_dropout, objective
        self.lr, self.weight_decay, self.batch_size = lr, weight_decay, batch_size
        self.val_fraction, self.early_stopping_patience = val_fraction, early_stopping_patience
        self.max_epochs, self.normalize = max_epochs, normalize
        self.tokenizer = settings_block(TOKENIZER_DEFAULTS, tokenizer)
        self.features = settings_block(TFIDF_DEFAULTS, features)
        self.image = settings_block(self.image_defaults, image)

    @property
    def image_settings(self) -> dict[str, Any]:
        return self.image  # image_defaults under the given keys (settings_block)

    def build_text_network(self, vocab_size: int, target_dim: int, pad_id: int, mask_id: int) -> SequenceNetwork:
        raise NotImplementedError

    def build_image_network(self, height: int, width: int) -> PixelAutoencoder:
        raise NotImplementedError

    def pixel_params(self, height: int, width: int) -> dict:
        """The :class:`PixelAutoencoder` arguments every image network takes."""
        from textcluster.training.augment import RandomAffine

        settings = self.image_settings
        augment = dict(settings["augment"] or {})
        enabled = augment.pop("enabled", True)
        return dict(
            loss=settings["loss"],
            input_dropout=settings["input_dropout"],
            augment=RandomAffine((height, width), **augment) if enabled else None,
        )

    def network_params(self, vocab_size: int, target_dim: int, pad_id: int, mask_id: int) -> dict:
        """The :class:`SequenceNetwork` arguments every text network takes."""
        return dict(
            vocab_size=vocab_size,
            target_dim=target_dim,
            pad_id=pad_id,
            mask_id=mask_id,
            embedding_dim=self.embedding_dim,
            token_dim=self.token_dim,
            token_dropout=self.token_dropout,
            objective=self.objective,
        )

    def _text_network(self) -> SequenceNetwork:
        tokenizer = self.tokenizer_
        return self.build_text_network(
            tokenizer.vocabulary_size, self.features_.n_features, tokenizer.pad_id, tokenizer.mask_id
        )

    def fit(self, dataset: Dataset, context: TrainingContext) -> SequenceEncoder:
        self.modality_ = dataset.modality
        if dataset.modality == IMAGE:
            self._fit_images(dataset, context)
        else:
            self._fit_texts(dataset, context)
        return self

    def _fit_images(self, dataset: Dataset, context: TrainingContext) -> None:
        from textcluster.training.reconstruction import train_autoencoder  # Lightning is slow to import

        settings = self.image_settings
        self.image_shape_ = dataset.image_shape
        self.network_ = self.build_image_network(*self.image_shape_)
        epochs = capped_epochs(context.trainer, settings["max_epochs"])
        context = dataclasses.replace(context, trainer={**context.trainer, "max_epochs": epochs})
        train_autoencoder(
            self.network_,
            dataset.images.astype(np.float32),
            context,
            batch_size=settings["batch_size"],
            val_fraction=self.val_fraction,
            patience=self.early_stopping_patience,
            lr=settings["lr"],
            weight_decay=settings["weight_decay"],
        )

    def _fit_texts(self, dataset: Dataset, context: TrainingContext) -> None:
        from textcluster.encoders.sequence_network import sequence_loader
        from textcluster.training.reconstruction import split_indices, train_network

        self.tokenizer_ = SequenceTokenizer(**self.tokenizer).fit(dataset.texts)
        self.features_ = VectorFeatures(**self.features)
        targets = self.features_.fit_transform(dataset)
        sequences = self.tokenizer_.encode(dataset.texts)
        pad_id = self.tokenizer_.pad_id
        self.network_ = self._text_network()
        train_idx, val_idx = split_indices(len(sequences), self.val_fraction, context.seed)
        train = sequence_loader(sequences, targets, train_idx, pad_id, self.batch_size, True, context.seed)
        val = (
            sequence_loader(sequences, targets, val_idx, pad_id, self.batch_size, False, context.seed)
            if len(val_idx)
            else None
        )
        train_network(
            self.network_,
            train,
            val,
            context,
            patience=self.early_stopping_patience,
            lr=self.lr,
            weight_decay=self.weight_decay,
            max_epochs=capped_epochs(context.trainer, self.max_epochs),
        )

    def transform(self, dataset: Dataset) -> np.ndarray:
        from textcluster.encoders.sequence_network import embed_sequences
        from textcluster.training.networks import embed_in_batches

        if dataset.modality == IMAGE:
            embeddings = embed_in_batches(
                self.network_.encode, dataset.images.astype(np.float32), self.image_settings["batch_size"]
            )
        else:
            sequences = self.tokenizer_.encode(dataset.texts)
            embeddings = embed_sequences(self.network_, sequences, self.tokenizer_.pad_id, self.batch_size)
        return l2_normalize(embeddings) if self.normalize else embeddings

    def refinement_view(self, dataset: Dataset) -> RefinementView:
        from textcluster.encoders.sequence_network import SequenceView

        if dataset.modality == IMAGE:
            return TensorView(self.network_, dataset.images.astype(np.float32), self.normalize)
        return SequenceView(
            self.network_,
            self.tokenizer_.encode(dataset.texts),
            self.features_.transform(dataset),
            self.tokenizer_.pad_id,
            self.normalize,
        )

    def get_state(self) -> dict[str, Any]:
        from textcluster.training.networks import network_state

        if self.modality_ == IMAGE:
            return {"modality": IMAGE, "image_shape": list(self.image_shape_), "network": network_state(self.network_)}
        return {
            "modality": TEXT,
            "tokenizer": self.tokenizer_.get_state(),
            "features": self.features_.get_state(),
            "network": network_state(self.network_),
        }

    def set_state(self, state: Mapping[str, Any]) -> SequenceEncoder:
        from textcluster.training.networks import load_network_state

        self.modality_ = state["modality"]
        if self.modality_ == IMAGE:
            self.image_shape_ = tuple(state["image_shape"])
            network = self.build_image_network(*self.image_shape_)
        else:
            self.tokenizer_ = SequenceTokenizer(**self.tokenizer).set_state(state["tokenizer"])
            self.features_ = VectorFeatures(**self.features).set_state(state["features"])
            network = self._text_network()
        self.network_ = load_network_state(network, state["network"])
        return self
