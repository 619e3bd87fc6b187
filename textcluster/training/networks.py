"""Networks outside training: batched inference and their weights as data (for :mod:`textcluster.state`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn


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
