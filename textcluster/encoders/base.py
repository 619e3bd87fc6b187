"""The encoder plugin contract and the context the pipeline hands to training."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from textcluster.data import IMAGE, TEXT, Dataset
from textcluster.errors import UserError


@dataclass
class TrainingContext:
    """What every trainable stage needs from the run: Lightning settings, seed, where to save."""

    trainer: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 20, "accelerator": "auto"})
    seed: int = 0
    run_dir: Path | None = None

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else Path(self.run_dir) / "checkpoints"


class Encoder:
    """Turns a :class:`Dataset` into an embedding matrix of shape (n, d).

    Subclasses register under a key (``@encoders.register("dense")``) and take
    their settings as constructor arguments (the keys of ``conf/encoder/<key>.yaml``).
    """

    modalities: tuple[str, ...] = (TEXT, IMAGE)
    # False for encoders whose transform works without fit (a frozen pretrained model loads itself):
    # a saved run can then predict even when its embeddings came from the embedding cache.
    needs_fit: bool = True

    def check_modality(self, dataset: Dataset) -> None:
        if dataset.modality not in self.modalities:
            key = getattr(self, "registry_key", type(self).__name__)
            raise UserError(f"encoder '{key}' does not handle {dataset.modality} data; it handles {', '.join(self.modalities)}")

    def fit(self, dataset: Dataset, context: TrainingContext | None = None) -> "Encoder":
        return self

    def transform(self, dataset: Dataset) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, dataset: Dataset, context: TrainingContext | None = None) -> np.ndarray:
        self.check_modality(dataset)
        return self.fit(dataset, context).transform(dataset)


def embed_in_batches(encode: Callable[[torch.Tensor], torch.Tensor], inputs: np.ndarray,
                     batch_size: int = 1024) -> np.ndarray:
    """Apply ``encode`` batch by batch with no autograd; returns float32 numpy."""
    owner = getattr(encode, "__self__", None)
    device = next(owner.parameters()).device if isinstance(owner, nn.Module) else torch.device("cpu")
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(inputs), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(inputs[start:start + batch_size])).to(device)
            outputs.append(encode(batch).float().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)
