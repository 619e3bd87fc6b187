"""What the encoder plugins share: unit-length codes and the tensor view."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from textcluster.contracts import RefinementView

if TYPE_CHECKING:  # torch is imported by the refiner that uses a view, not by every encoder module
    import torch
    from torch import nn


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class TensorView(RefinementView):
    """View of a network reading rows of one array (pixels or TF-IDF): augmentation by the network's own
    ``augment`` (random shifts/rotations) and ``input_dropout`` (masking noise) modules."""

    def __init__(self, network: nn.Module, rows: np.ndarray, normalize: bool):
        super().__init__(network, len(rows), normalize)
        self.rows = np.ascontiguousarray(rows, dtype=np.float32)

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        import torch

        return (torch.from_numpy(self.rows[rows]),)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.encode(x)

    def augment(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        for module in (self.network.augment, self.network.input_dropout):  # both act only in training mode
            x = module(x)
        return (x,)
