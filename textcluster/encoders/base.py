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
    # False for encoders whose output the seed cannot change (the embedding cache key then leaves it out).
    depends_on_seed: bool = True

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

    def refinement_view(self, dataset: Dataset) -> "RefinementView | None":
        """The fitted network as a refiner (DEC, ...) trains it; None for encoders without one."""
        return None


class RefinementView:
    """A trained encoder as a refiner needs it: rows -> input tensors -> differentiable codes.

    ``network`` holds every trainable parameter. ``inputs(rows)`` gives the
    network's input tensors for those dataset rows (on the CPU; the refiner
    moves them). ``encode(*inputs)`` is differentiable and ends where the
    encoder's ``transform`` ends (L2-normalised when the encoder normalises),
    so the clusterer's centres live in the same space. ``augment(*inputs)``
    gives a random view (shifted image, masked tokens) and ``reconstruction_loss``
    the encoder's own pretraining loss (None when it has none).
    """

    def __init__(self, network: nn.Module, n_rows: int, normalize: bool):
        self.network, self.n_rows, self.normalize = network, n_rows, normalize
        self.scale = 1.0  # a refiner may rescale the codes (a fixed factor after the network)
        self.lengths: np.ndarray | None = None  # token counts of variable-length inputs: batches by length

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def code(self, *inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, *inputs: torch.Tensor) -> torch.Tensor:
        codes = self.code(*inputs).float()
        codes = nn.functional.normalize(codes, dim=1) if self.normalize else codes
        return codes * self.scale

    def augment(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return inputs

    def reconstruction_loss(self, *inputs: torch.Tensor) -> torch.Tensor | None:
        loss = getattr(self.network, "reconstruction_loss", None)
        return loss(*inputs) if callable(loss) else None

    def encode_all(self, batch_size: int = 512) -> torch.Tensor:
        """The codes of every row, in eval mode and without autograd, on the network's device."""
        was_training = self.network.training
        self.network.eval()
        device = next(self.network.parameters()).device
        codes = []
        with torch.no_grad():
            for start in range(0, self.n_rows, batch_size):
                rows = np.arange(start, min(start + batch_size, self.n_rows))
                codes.append(self.encode(*(t.to(device) for t in self.inputs(rows))).float())
        self.network.train(was_training)
        return torch.cat(codes)


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
        for name in ("augment", "input_dropout"):  # both act only in training mode
            module = getattr(self.network, name, None)
            if module is not None:
                x = module(x)
        return (x,)


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
