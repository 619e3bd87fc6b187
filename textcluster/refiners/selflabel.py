"""Self-labelling (SCAN's last step, Van Gansbeke et al. 2020): a CNN trained on the confident pseudo-labels.

The clusters so far (the clusterer's, or those of the refiner named in
``start``, e.g. DEC-DA) label the images. In each cluster the
``confident_share`` of members with the highest Student's t probability of
their own cluster, over the cluster means in the code space, are kept; a
small convolutional network learns their labels from the raw pixels under
random shifts and rotations, and then labels every image. It sees the
pixels, not the codes, so it can undo a mistake the codes share across a
cluster's border, and the augmentation keeps it from learning the mistakes of
the few wrong labels it keeps.

After it, ``embeddings.npy`` holds the network's class probabilities, and new
images are labelled by the network alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from textcluster.contracts import Encoder, Refiner, TrainingContext
from textcluster.dataset import IMAGE, Dataset
from textcluster.errors import UserError
from textcluster.params import Constraint, Float, Int, shown
from textcluster.refiners.base import initial_centers
from textcluster.registry import refiners
from textcluster.results import Refinement
from textcluster.training.networks import embed_in_batches, load_network_state, network_state

log = logging.getLogger(__name__)


class RefinerSettings(Constraint):
    """Null, or another refiner's settings (``{name: dec, ...}``) checked by the refiner registry itself.

    Null is accepted here rather than through ``| NULL``, so a bad setting inside
    gets its own message instead of "must be a refiner's settings or null".
    """

    def accepts(self, value: Any) -> bool:
        return not self.problems(value, "")

    def describe(self) -> str:
        return "null or a refiner's settings with its name (name: dec, ...)"

    def problems(self, value: Any, path: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, Mapping):
            return [f"{path}={shown(value)} is not valid: it must be {self.describe()}"]
        if value.get("name") == "selflabel":
            return [f"{path}.name=selflabel is not valid: self-labelling cannot start from itself"]
        return refiners.problems(value, path)


def image_tensor(dataset: Dataset) -> torch.Tensor:
    """The images as (n, 1, height, width) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(dataset.images, dtype=np.float32)).unsqueeze(1)


def small_cnn(image_shape: tuple[int, int], n_classes: int, width: int) -> nn.Sequential:
    """Two conv-BN-ReLU-pool blocks and a dropout-regularised classifier."""
    height, side = (length // 4 for length in image_shape)
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(2 * width * height * side, 128),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(128, n_classes),
    )


def confident_rows(codes: np.ndarray, labels: np.ndarray, share: float) -> np.ndarray:
    """Per cluster, the ``share`` of members most probably its own under Student's t over the cluster means."""
    from textcluster.training.clustering import student_t_assignment

    centres, ids = initial_centers(codes, labels)
    probabilities = student_t_assignment(torch.from_numpy(codes), torch.from_numpy(centres), 1.0).numpy()
    own = probabilities[np.arange(len(labels)), np.searchsorted(ids, labels)]
    rows = []
    for cluster in ids:
        members = np.flatnonzero(labels == cluster)
        count = max(1, int(round(share * len(members))))
        rows.append(members[np.argsort(-own[members], kind="stable")[:count]])
    return np.sort(np.concatenate(rows))


@refiners.register("selflabel")
class SelfLabelRefiner(Refiner):
    """``refiner=selflabel``: a CNN on the pixels learns the confident pseudo-labels, then labels every image."""

    modalities = (IMAGE,)
    parameters = {
        "start": RefinerSettings(),
        "confident_share": Float(min=0, max=1, min_open=True),
        "max_epochs": Int(min=1),
        "batch_size": Int(min=2),
        "lr": Float(min=0, min_open=True),
        "width": Int(min=1),
        "max_shift": Float(min=0, max=0.5),
        "max_rotation": Float(min=0, max=180),
    }

    def __init__(
        self,
        start: Mapping[str, Any] | None = None,
        confident_share: float = 0.95,
        max_epochs: int = 10,
        batch_size: int = 128,
        lr: float = 0.003,
        width: int = 16,
        max_shift: float = 0.07,
        max_rotation: float = 10.0,
    ):
        self.start, self.confident_share = (dict(start) if start is not None else None), confident_share
        self.max_epochs, self.batch_size, self.lr, self.width = max_epochs, batch_size, lr, width
        self.max_shift, self.max_rotation = max_shift, max_rotation

    @classmethod
    def trains_encoder_with(cls, settings: Mapping[str, Any]) -> bool:
        start = settings.get("start")
        return start is not None and refiners.get(start["name"]).trains_encoder_with(start)

    @property
    def trains_encoder(self) -> bool:  # the refiner it starts from may train the encoder
        return self.trains_encoder_with(self.get_params())

    def refine(
        self, encoder: Encoder, dataset: Dataset, embeddings: np.ndarray, labels: np.ndarray, context: TrainingContext
    ) -> Refinement:
        if dataset.modality != IMAGE:
            raise UserError(f"refiner=selflabel trains a CNN on images, but {dataset.name} holds {dataset.modality}")
        codes, labels = np.asarray(embeddings, dtype=np.float32), np.asarray(labels)
        if self.start is not None:
            first = refiners.build(self.start, where="refiner.start", random_state=context.seed)
            started = first.refine(encoder, dataset, codes, labels, context)
            codes, labels = np.asarray(started.embeddings, dtype=np.float32), np.asarray(started.labels)
        kept = confident_rows(codes, labels, float(self.confident_share))
        self.cluster_ids_ = np.unique(labels[kept]).astype(np.int64)
        self.image_shape_ = list(dataset.image_shape)
        self.network_ = small_cnn(dataset.image_shape, len(self.cluster_ids_), int(self.width))
        self._fit(image_tensor(dataset)[kept], np.searchsorted(self.cluster_ids_, labels[kept]), context)
        probabilities = self.transform(encoder, dataset)
        final = self.predict_scores(probabilities)[0]
        log.info(
            "refiner selflabel: trained on %d confident of %d images; %d labels differ from its start",
            len(kept),
            len(labels),
            int((final != labels).sum()),
        )
        return Refinement(probabilities, final)

    def _fit(self, images: torch.Tensor, targets: np.ndarray, context: TrainingContext) -> None:
        from textcluster.training.lightning import make_trainer
        from textcluster.training.selflabel import SelfLabelModule, labelled_loader

        module = SelfLabelModule(self.network_, self.image_shape_, self.settings(len(images)))
        loader = labelled_loader(images, targets, int(self.batch_size), seed=context.seed)
        make_trainer(context, max_epochs=int(self.max_epochs), log_version="selflabel").fit(module, loader)
        self.network_.cpu().eval()

    def settings(self, n_rows: int) -> dict[str, float]:
        steps_per_epoch = -(-n_rows // int(self.batch_size))
        return dict(
            lr=float(self.lr),
            total_steps=int(self.max_epochs) * steps_per_epoch,
            max_shift=float(self.max_shift),
            max_rotation=float(self.max_rotation),
        )

    def transform(self, encoder: Encoder, dataset: Dataset) -> np.ndarray:
        """The network's class probabilities for each image (the encoder is not needed)."""
        logits = embed_in_batches(self.network_, image_tensor(dataset).numpy())
        return torch.from_numpy(logits).softmax(dim=1).numpy()

    def predict_scores(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.asarray(codes)
        return self.cluster_ids_[probabilities.argmax(axis=1)], probabilities.max(axis=1)

    def get_state(self) -> dict[str, Any]:
        return {
            "cluster_ids": self.cluster_ids_,
            "image_shape": self.image_shape_,
            "network": network_state(self.network_),
        }

    def set_state(self, state: Mapping[str, Any]) -> SelfLabelRefiner:
        self.cluster_ids_ = np.asarray(state["cluster_ids"], dtype=np.int64)
        self.image_shape_ = list(state["image_shape"])
        network = small_cnn(tuple(self.image_shape_), len(self.cluster_ids_), int(self.width))
        self.network_ = load_network_state(network, state["network"])
        return self
