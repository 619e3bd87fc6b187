"""Shared machinery of the encoders trained from scratch on token sequences (cnn, rnn, transformer on text).

The objective: predict the document's words from a small code
--------------------------------------------------------------
Each network reads the token ids of a document and squeezes them into a
low-dimensional code (``embedding_dim``, 32 by default); a linear decoder
maps the code to one logit per TF-IDF term (:class:`~textcluster.features.VectorFeatures`,
stop words removed), and the loss is the cross entropy between the softmax over
those terms and the document's TF-IDF vector normalised to sum to one
(``objective: softmax_ce``). During training a share of the input tokens
(``token_dropout``) is replaced by ``[MASK]``, so the code has to predict
words it did not see from the ones it did (denoising).

Why this and not a language-model or sequence-reconstruction loss: a cluster
of short texts is a topic, i.e. a set of words that occur together. Asking a
32-d code to predict the whole weighted bag of words of its document makes it
keep what a document is about (its informative words and their co-occurring
neighbours) and drop word order, stop words and surface form, which a
next-token or seq2seq loss would spend its capacity on. The linear
softmax decoder is a topic model's decoder: documents about the same topic
must point in similar directions of the code space, which is exactly what
k-means on L2-normalised codes (``normalize: true``) looks for. The masking
noise makes the code rely on co-occurrence rather than copying the input,
which matters for snippets of ~18 words whose TF-IDF vectors barely overlap
(that sparsity is why k-means on raw TF-IDF does poorly). ``objective: cosine``
(cosine distance to the TF-IDF vector) and ``objective: mse`` are there to
compare.

Measured on SearchSnippets (12,340 snippets, 8 classes; k-means on the
L2-normalised codes, seed 0): k-means on TF-IDF gives ACC 0.30; with the
defaults cnn gives 0.61, rnn 0.62 and transformer 0.66 (10 epochs). In a
tuning loop (transformer, epochs 5 and 6) the masking noise helped (0.69 and
0.65 with ``token_dropout: 0.5``, 0.61 and 0.63 without), ``cosine`` reached
0.43 and 0.49, and ``mse`` 0.17 and 0.18: squared error on TF-IDF values
that are nearly all zero is minimised by predicting zeros, so the code learns
nothing. Learning rate 0.01 with batches of 64 learnt several times faster
than 0.001 with batches of 128 (cnn, 6 epochs on 3,000 snippets: ACC 0.59
against 0.26); a 64-d code or a 5,000-term target did not help.

Batches are bucketed by length (:class:`BucketBatchSampler`), so a batch
holds documents of about the same length and little padding; training
shuffles the buckets, and :func:`embed_sequences` puts the rows back in the
original order.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Sampler

from textcluster.data import IMAGE, TEXT, Dataset
from textcluster.data.tokenization import SequenceTokenizer, pad_sequences
from textcluster.encoders.augment import RandomAffine
from textcluster.encoders.base import Encoder, RefinementView, TensorView, TrainingContext, embed_in_batches
from textcluster.encoders.dense import RECONSTRUCTION_LOSSES, l2_normalize
from textcluster.errors import UserError
from textcluster.features import VectorFeatures

# ------------------------------------------------------------------------------------- batching


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices of similar length (sorted by length, then cut); training shuffles the batch order.

    With ``shuffle`` each epoch breaks ties between equal lengths at random
    (so batches differ between epochs) and visits the batches in random order.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = False, seed: int = 0):
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.epoch = 0

    def __iter__(self):
        rng = np.random.default_rng(self.seed + self.epoch)
        self.epoch += 1
        ties = rng.random(len(self.lengths)) if self.shuffle else np.arange(len(self.lengths))
        order = np.lexsort((ties, self.lengths))
        batches = [order[start:start + self.batch_size].tolist() for start in range(0, len(order), self.batch_size)]
        if self.shuffle:
            rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


class SequenceItems(torch.utils.data.Dataset):
    """The rows ``indices`` of token-id arrays and their targets (the TF-IDF vectors to predict), without copies."""

    def __init__(self, sequences: Sequence[np.ndarray], targets: np.ndarray, indices: np.ndarray):
        self.sequences, self.targets, self.indices = sequences, targets, np.asarray(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int):
        row = self.indices[item]
        return self.sequences[row], self.targets[row]

    def lengths(self) -> list[int]:
        return [len(self.sequences[row]) for row in self.indices]


@dataclasses.dataclass
class PadCollator:
    """Collates ``(ids, target)`` items into ``(ids, mask, target)`` tensors, padded to the longest in the batch."""

    pad_id: int

    def __call__(self, items):
        sequences, targets = zip(*items)
        ids, mask = pad_sequences(sequences, self.pad_id)
        return ids, mask, torch.from_numpy(np.stack(targets))


def sequence_loader(sequences: Sequence[np.ndarray], targets: np.ndarray, indices: np.ndarray, pad_id: int,
                    batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    items = SequenceItems(sequences, targets, indices)
    sampler = BucketBatchSampler(items.lengths(), batch_size, shuffle, seed)
    return DataLoader(items, batch_sampler=sampler, collate_fn=PadCollator(pad_id))


def embed_sequences(network: "SequenceNetwork", sequences: Sequence[np.ndarray], pad_id: int,
                    batch_size: int = 256) -> np.ndarray:
    """``network.encode`` over length-bucketed batches on the network's device; rows in the input order."""
    device = next(network.parameters()).device
    order = np.argsort([len(s) for s in sequences], kind="stable")
    codes = np.zeros((len(sequences), network.embedding_dim), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            ids, mask = pad_sequences([sequences[i] for i in rows], pad_id)
            codes[rows] = network.encode(ids.to(device), mask.to(device)).float().cpu().numpy()
    return codes


# ------------------------------------------------------------------------------------- objective


def softmax_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross entropy between softmax(logits) and ``target`` rows normalised to sum to one (empty rows count 0)."""
    distribution = target / target.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return -(distribution * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def cosine_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (1.0 - F.cosine_similarity(logits, target, dim=1)).mean()


OBJECTIVES = {"softmax_ce": softmax_cross_entropy, "cosine": cosine_loss, "mse": F.mse_loss}


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real (mask True) positions of (B, L, D) states."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def masked_max(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over the real (mask True) positions of (B, L, D) states."""
    return states.masked_fill(~mask.unsqueeze(-1), torch.finfo(states.dtype).min).amax(dim=1)


class SequenceNetwork(nn.Module):
    """Token embeddings -> ``body`` (subclass: pooled features) -> linear code; a linear head predicts the target.

    Subclasses implement ``body(x, mask)`` on embedded tokens ``x`` (B, L, token_dim),
    whose padded positions are zero, and call ``build_head(width of body's output)``.
    """

    def __init__(self, vocab_size: int, target_dim: int, pad_id: int, mask_id: int, embedding_dim: int = 32,
                 token_dim: int = 64, token_dropout: float = 0.0, objective: str = "softmax_ce"):
        super().__init__()
        if objective not in OBJECTIVES:
            raise UserError(f"unknown encoder.objective '{objective}'; choose from {', '.join(OBJECTIVES)}")
        self.embedding_dim, self.pad_id, self.mask_id = embedding_dim, pad_id, mask_id
        self.token_dropout, self.objective = token_dropout, OBJECTIVES[objective]
        self.tokens = nn.Embedding(vocab_size, token_dim, padding_idx=pad_id)
        self.target_dim = target_dim

    def build_head(self, body_dim: int) -> None:
        """Called by subclasses once their body's output width is known."""
        self.to_code = nn.Linear(body_dim, self.embedding_dim)
        self.head = nn.Linear(self.embedding_dim, self.target_dim)

    def body(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.tokens(ids) * mask.unsqueeze(-1).to(self.tokens.weight.dtype)
        return self.to_code(self.body(x, mask))

    def corrupt(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masking noise while training: each real token becomes [MASK] with probability ``token_dropout``."""
        if not self.training or self.token_dropout <= 0:
            return ids
        dropped = (torch.rand(ids.shape, device=ids.device) < self.token_dropout) & mask
        return ids.masked_fill(dropped, self.mask_id)

    def reconstruction_loss(self, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.encode(self.corrupt(ids, mask), mask))
        return self.objective(logits.float(), target.float())


class PixelAutoencoder(nn.Module):
    """Base of the image autoencoders (subclasses: ``encode`` and ``decode`` on (B, H, W) images).

    Trained as DEC-DA trains its autoencoders: on randomly shifted and rotated
    copies (``augment``, the dense encoder's :class:`RandomAffine`; the target
    is the augmented image), optionally with masking noise (``input_dropout``).
    ``loss``: ``mse`` on pixels, or ``bce`` reading the output as logits. For the
    convolutional autoencoder on MNIST-test MSE with augmentation and no masking
    noise clustered best (ACC 0.785 after 16 epochs, against 0.763 with BCE,
    0.749 with BCE and masking noise 0.2, 0.74 with neither augmentation nor noise).
    """

    def __init__(self, loss: str = "mse", input_dropout: float = 0.0, augment: nn.Module | None = None):
        super().__init__()
        if loss not in RECONSTRUCTION_LOSSES:
            raise UserError(f"unknown encoder.image.loss '{loss}'; choose from {', '.join(RECONSTRUCTION_LOSSES)}")
        self.loss_fn = RECONSTRUCTION_LOSSES[loss]
        self.input_dropout = nn.Dropout(input_dropout) if input_dropout > 0 else nn.Identity()
        self.augment = augment if augment is not None else nn.Identity()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reconstruction_loss(self, x: torch.Tensor) -> torch.Tensor:
        x = self.augment(x)
        return self.loss_fn(self.decode(self.encode(self.input_dropout(x))).float(), x.float())


class SequenceView(RefinementView):
    """A :class:`SequenceNetwork` for the refiners: inputs ``(ids, mask, target)``, augmentation by token masking."""

    def __init__(self, network: SequenceNetwork, sequences: Sequence[np.ndarray], targets: np.ndarray,
                 pad_id: int, normalize: bool):
        super().__init__(network, len(sequences), normalize)
        self.sequences, self.targets, self.pad_id = sequences, targets, pad_id
        self.lengths = np.array([len(sequence) for sequence in sequences])  # length-bucketed refiner batches

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        ids, mask = pad_sequences([self.sequences[row] for row in rows], self.pad_id)
        return ids, mask, torch.from_numpy(np.ascontiguousarray(self.targets[rows]))

    def code(self, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.network.encode(ids, mask)

    def augment(self, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.network.corrupt(ids, mask), mask, target


# ------------------------------------------------------------------------------------- plugin base


def cap_epochs(context: TrainingContext, max_epochs: int | None) -> TrainingContext:
    """The context with ``trainer.max_epochs`` lowered to ``max_epochs`` (the encoder's own budget)."""
    if max_epochs is None:
        return context
    current = context.trainer.get("max_epochs")
    epochs = max_epochs if current is None or current < 0 else min(current, max_epochs)
    return dataclasses.replace(context, trainer={**context.trainer, "max_epochs": epochs})


class SequenceEncoder(Encoder):
    """Base of the from-scratch encoders: text through a tokenizer and a :class:`SequenceNetwork`.

    Subclasses implement ``build_text_network(vocab_size, target_dim, pad_id, mask_id)``
    and, when they read images too (``modalities``), ``build_image_network(height, width)``
    returning an autoencoder with ``encode(x)`` and ``reconstruction_loss(x)`` on (B, H, W) images.
    The top-level training settings are for text; images take theirs from the
    ``image`` block (keys of ``image_defaults``), since a pixel autoencoder wants
    another code size, learning rate and batch size than the text objective.
    """

    modalities: tuple[str, ...] = (TEXT,)
    image_defaults: dict = {"embedding_dim": 10, "loss": "mse", "input_dropout": 0.0,
                            "augment": {"enabled": True, "max_shift": 0.08, "max_rotation": 10.0},
                            "lr": 1e-3, "weight_decay": 0.0, "batch_size": 32, "max_epochs": 20}

    def __init__(self, embedding_dim: int = 32, token_dim: int = 64, token_dropout: float = 0.5,
                 objective: str = "softmax_ce", lr: float = 0.01, weight_decay: float = 0.0, batch_size: int = 64,
                 val_fraction: float = 0.1, early_stopping_patience: int = 3, max_epochs: int | None = 10,
                 normalize: bool = True, tokenizer: dict | None = None, features: dict | None = None,
                 image: dict | None = None):
        self.embedding_dim, self.token_dim = embedding_dim, token_dim
        self.token_dropout, self.objective = token_dropout, objective
        self.optim_params = dict(lr=lr, weight_decay=weight_decay)
        self.batch_size, self.val_fraction, self.patience = batch_size, val_fraction, early_stopping_patience
        self.max_epochs, self.normalize = max_epochs, normalize
        self.tokenizer = SequenceTokenizer(**(tokenizer or {}))
        self.features = VectorFeatures(**(features or {}))
        self.image = self._image_settings(image or {})
        self.network_: nn.Module | None = None

    def _image_settings(self, image: dict) -> dict:
        unknown = sorted(set(image) - set(self.image_defaults))
        if unknown:
            key = getattr(self, "registry_key", type(self).__name__)
            raise UserError(f"encoder '{key}' has no image setting {', '.join(map(repr, unknown))}; "
                            f"encoder.image takes: {', '.join(sorted(self.image_defaults))}")
        return {**self.image_defaults, **image}

    def build_text_network(self, vocab_size: int, target_dim: int, pad_id: int, mask_id: int) -> SequenceNetwork:
        raise NotImplementedError

    def build_image_network(self, height: int, width: int) -> PixelAutoencoder:
        raise NotImplementedError

    def pixel_params(self, height: int, width: int) -> dict:
        """The :class:`PixelAutoencoder` arguments every image network takes."""
        augment = dict(self.image["augment"] or {})
        enabled = augment.pop("enabled", True)
        return dict(loss=self.image["loss"], input_dropout=self.image["input_dropout"],
                    augment=RandomAffine((height, width), **augment) if enabled else None)

    def network_params(self, vocab_size: int, target_dim: int, pad_id: int, mask_id: int) -> dict:
        """The :class:`SequenceNetwork` arguments every text network takes."""
        return dict(vocab_size=vocab_size, target_dim=target_dim, pad_id=pad_id, mask_id=mask_id,
                    embedding_dim=self.embedding_dim, token_dim=self.token_dim,
                    token_dropout=self.token_dropout, objective=self.objective)

    def fit(self, dataset: Dataset, context: TrainingContext | None = None) -> "SequenceEncoder":
        context = context or TrainingContext()
        if dataset.modality == IMAGE:
            self._fit_images(dataset, cap_epochs(context, self.image["max_epochs"]))
        else:
            self._fit_texts(dataset, cap_epochs(context, self.max_epochs))
        return self

    def _fit_images(self, dataset: Dataset, context: TrainingContext) -> None:
        from textcluster.training.reconstruction import train_autoencoder  # Lightning is slow to import

        self.network_ = self.build_image_network(*dataset.images.shape[1:])
        train_autoencoder(self.network_, dataset.images.astype(np.float32), context,
                          batch_size=self.image["batch_size"], val_fraction=self.val_fraction, patience=self.patience,
                          lr=self.image["lr"], weight_decay=self.image["weight_decay"])

    def _fit_texts(self, dataset: Dataset, context: TrainingContext) -> None:
        from textcluster.training.reconstruction import split_indices, train_network

        sequences = self.tokenizer.fit(dataset.texts).encode(dataset.texts)
        targets = self.features.fit_transform(dataset)
        pad_id = self.tokenizer.pad_id
        self.network_ = self.build_text_network(self.tokenizer.vocabulary_size, targets.shape[1], pad_id,
                                                self.tokenizer.mask_id)
        train_idx, val_idx = split_indices(len(sequences), self.val_fraction, context.seed)
        train = sequence_loader(sequences, targets, train_idx, pad_id, self.batch_size, True, context.seed)
        val = sequence_loader(sequences, targets, val_idx, pad_id, self.batch_size, False, context.seed) \
            if len(val_idx) else None
        train_network(self.network_, train, val, context, patience=self.patience, **self.optim_params)

    def transform(self, dataset: Dataset) -> np.ndarray:
        if self.network_ is None:
            raise RuntimeError("fit the encoder before transform")
        if dataset.modality == IMAGE:
            embeddings = embed_in_batches(self.network_.encode, dataset.images.astype(np.float32),
                                          self.image["batch_size"])
        else:
            sequences = self.tokenizer.encode(dataset.texts)
            embeddings = embed_sequences(self.network_, sequences, self.tokenizer.pad_id, self.batch_size)
        return l2_normalize(embeddings) if self.normalize else embeddings

    def refinement_view(self, dataset: Dataset) -> RefinementView:
        if self.network_ is None:
            raise RuntimeError("fit the encoder before refining it")
        if dataset.modality == IMAGE:
            return TensorView(self.network_, dataset.images.astype(np.float32), self.normalize)
        return SequenceView(self.network_, self.tokenizer.encode(dataset.texts), self.features.transform(dataset),
                            self.tokenizer.pad_id, self.normalize)
