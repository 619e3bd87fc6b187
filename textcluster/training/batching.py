"""Batches of token sequences: grouped by length, padded to the longest member, pooled over real tokens.

A transformer or RNN pays for the padded width of a batch; batches of texts of
similar length pad little (random batches of snippets pad to 2-3x their mean
length). Every encoder that reads token sequences batches with these.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler


def length_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator | None = None, longest_first: bool = False
) -> list[np.ndarray]:
    """Row indices cut into batches of similar length.

    Without ``rng`` the order is fixed (stable sort by length; ``longest_first``
    puts a memory error, if any, at the start). With ``rng``, ties between
    equal lengths are broken at random and the batches come in random order.
    """
    lengths = np.asarray(lengths)
    if rng is None:
        order = np.argsort(-lengths if longest_first else lengths, kind="stable")
    else:
        order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


class BucketBatchSampler(Sampler[list[int]]):
    """A DataLoader sampler over :func:`length_batches`; with ``shuffle`` each epoch draws other batches."""

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = False, seed: int = 0):
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.epoch = 0

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng(self.seed + self.epoch) if self.shuffle else None
        self.epoch += 1
        return iter([batch.tolist() for batch in length_batches(self.lengths, self.batch_size, rng)])

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int, min_length: int = 1, left: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad to the longest sequence (at least ``min_length``): ids (B, L) int64 and mask (B, L), True on real tokens.

    ``left`` pads on the left (tokenizers whose models expect it).
    """
    length = max([min_length, *map(len, sequences)])
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.bool)
    for row, sequence in enumerate(sequences):
        span = slice(length - len(sequence), length) if left else slice(0, len(sequence))
        ids[row, span] = torch.as_tensor(np.asarray(sequence, dtype=np.int64))
        mask[row, span] = True
    return ids, mask


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real (mask True) positions of (B, L, D) states."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1e-9)


def masked_max(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over the real (mask True) positions of (B, L, D) states."""
    return states.masked_fill(~mask.unsqueeze(-1), torch.finfo(states.dtype).min).amax(dim=1)
