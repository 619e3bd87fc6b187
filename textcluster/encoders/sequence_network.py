"""The torch side of the sequence encoders: batching token sequences, the objectives, the base networks.

Imported when a network is built or trained, not when a config is checked: textcluster.encoders.sequence
holds the settings and the plugin base, and names the objectives this module implements (tests/test_registry.py
checks the two agree). What the objective is and why: that module's docstring.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from textcluster.contracts import RefinementView
from textcluster.encoders.dense_network import RECONSTRUCTION_LOSSES
from textcluster.training.batching import BucketBatchSampler, length_batches, pad_batch

# ------------------------------------------------------------------------------------- batching


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
        ids, mask = pad_batch(sequences, self.pad_id)
        return ids, mask, torch.from_numpy(np.stack(targets))


def sequence_loader(
    sequences: Sequence[np.ndarray],
    targets: np.ndarray,
    indices: np.ndarray,
    pad_id: int,
    batch_size: int,
    shuffle: bool,
    seed: int,
) -> DataLoader:
    items = SequenceItems(sequences, targets, indices)
    sampler = BucketBatchSampler(items.lengths(), batch_size, shuffle, seed)
    return DataLoader(items, batch_sampler=sampler, collate_fn=PadCollator(pad_id))


def embed_sequences(
    network: SequenceNetwork, sequences: Sequence[np.ndarray], pad_id: int, batch_size: int = 256
) -> np.ndarray:
    """``network.encode`` over length-bucketed batches on the network's device; rows in the input order."""
    device = next(network.parameters()).device
    codes = np.zeros((len(sequences), network.embedding_dim), dtype=np.float32)
    with torch.inference_mode():
        for rows in length_batches([len(s) for s in sequences], batch_size):
            ids, mask = pad_batch([sequences[i] for i in rows], pad_id)
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


class SequenceNetwork(nn.Module):
    """Token embeddings -> ``body`` (subclass: pooled features) -> linear code; a linear head predicts the target.

    Subclasses implement ``body(x, mask)`` on embedded tokens ``x`` (B, L, token_dim),
    whose padded positions are zero, and call ``build_head(width of body's output)``.
    """

    def __init__(
        self,
        vocab_size: int,
        target_dim: int,
        pad_id: int,
        mask_id: int,
        embedding_dim: int = 32,
        token_dim: int = 64,
        token_dropout: float = 0.0,
        objective: str = "softmax_ce",
    ):
        super().__init__()
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
    ``loss``: ``mse`` on pixels, or ``bce`` reading the output as logits.
    """

    def __init__(self, loss: str = "mse", input_dropout: float = 0.0, augment: nn.Module | None = None):
        super().__init__()
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

    def __init__(
        self,
        network: SequenceNetwork,
        sequences: Sequence[np.ndarray],
        targets: np.ndarray,
        pad_id: int,
        normalize: bool,
    ):
        super().__init__(network, len(sequences), normalize)
        self.sequences, self.targets, self.pad_id = sequences, targets, pad_id
        self.lengths = np.array([len(sequence) for sequence in sequences])

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        ids, mask = pad_batch([self.sequences[row] for row in rows], self.pad_id)
        return ids, mask, torch.from_numpy(np.ascontiguousarray(self.targets[rows]))

    def code(self, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.network.encode(ids, mask)

    def augment(self, ids: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.network.corrupt(ids, mask), mask, target
