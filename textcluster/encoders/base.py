"""What the encoder plugins share: unit-length codes, batched embedding, network state, the tensor view."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from textcluster.contracts import RefinementView


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def embed_in_batches(
    encode: Callable[[torch.Tensor], torch.Tensor], inputs: np.ndarray, batch_size: int = 1024
) -> np.ndarray:
    """Apply ``encode`` batch by batch with no autograd; returns float32 numpy."""
    owner = getattr(encode, "__self__", None)
    device = next(owner.parameters()).device if isinstance(owner, nn.Module) else torch.device("cpu")
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(inputs[start : start + batch_size])).to(device)
            outputs.append(encode(batch).float().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)


def network_state(network: nn.Module) -> dict[str, torch.Tensor]:
    """The network's weights (and buffers) on the CPU, for :mod:`textcluster.state`."""
    return {key: tensor.detach().cpu() for key, tensor in network.state_dict().items()}


def load_network_state(network: nn.Module, weights: Mapping[str, Any]) -> nn.Module:
    """Load saved weights into a freshly built network of the same shape; eval mode, CPU."""
    network.load_state_dict({key: torch.as_tensor(value) for key, value in weights.items()})
    return network.cpu().eval()


class TensorView(RefinementView):
    """View of a network reading rows of one array (pixels or TF-IDF): augmentation by the network's own
    ``augment`` (random shifts/rotations) and ``input_dropout`` (masking noise) modules."""

    def __init__(self, network: nn.Module, rows: np.ndarray, normalize: bool):
        super().__init__(network, len(rows), normalize)
        self.rows = np.ascontiguousarray(rows, dtype=np.float32)

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        return (torch.from_numpy(self.rows[rows]),)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.encode(x)

    def augment(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        for module in (self.network.augment, self.network.input_dropout):  # both act only in training mode
            x = module(x)
        return (x,)
