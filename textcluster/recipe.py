"""What ``encoder=auto`` and ``reducer=auto`` (the defaults) become: the recipe for the data's modality.

Pure: no Hydra, no files, no plugins imported. :class:`~textcluster.pipeline.Pipeline` applies it when it fits
(as it settles ``n_clusters=auto``), once the documents say their modality, and records it in ``recipe_``.

Text: MiniLM beside the corpus' own words, UMAP for clustering (the recipe of the text presets; measured in
benchmarks/results/own-corpus.md). Images: the dense autoencoder on pixels, then UMAP (N2D's settings), where
k-means and the k search see the digits apart (without it the silhouette peaks at k = 2). Vectors: taken as
they are. A named encoder with ``reducer=auto`` gets no reducer (the recipe's reducer was chosen for the
recipe's encoder), and a clusterer that builds its own neighbourhood graph (``builds_graph``: spectral,
leiden) gets none either (measured: benchmarks/results/families.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from textcluster.dataset import IMAGE, TEXT, VECTORS

AUTO = "auto"
NO_REDUCER = "none"
GROUPS = ("encoder", "reducer")  # the stages a recipe can choose
RECIPES = {
    TEXT: {"encoder": "hybrid", "reducer": "umap_text"},
    IMAGE: {"encoder": "dense", "reducer": "umap_n2d"},
    VECTORS: {"encoder": "precomputed", "reducer": NO_REDUCER},
}
"""The config options (``conf/<group>/<option>.yaml``) ``auto`` becomes, by modality."""


@dataclass(frozen=True)
class Auto:
    """A stage left to the recipe. ``settings``: the user's settings for whichever plugin the recipe picks
    (``encoder.lexical_weight=0.5`` with ``encoder=auto``), laid over that option's own."""

    settings: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return "'auto'" if not self.settings else f"auto({', '.join(f'{k}={v!r}' for k, v in self.settings.items())})"


def as_auto(stage: Any) -> Auto | None:
    """``stage`` as an :class:`Auto` when it is one (or the string ``'auto'``), else None."""
    if isinstance(stage, Auto):
        return stage
    if isinstance(stage, str) and stage == AUTO:
        return Auto()
    return None


@dataclass(frozen=True)
class Recipe:
    """What ``auto`` became for data of ``modality``: ``options`` maps each auto group to its config option."""

    modality: str
    options: Mapping[str, str]

    def describe(self) -> str:
        """``text data: encoder=hybrid reducer=umap_text`` (the run's log, summary and resolved config)."""
        return f"{self.modality} data: " + " ".join(f"{group}={option}" for group, option in self.options.items())


def choose(modality: str, auto: Collection[str], builds_graph: bool = False) -> Recipe:
    """The recipe for data of ``modality`` when the groups in ``auto`` are auto.

    ``builds_graph``: the clusterer builds its own neighbourhood graph, so it clusters the embeddings themselves.
    """
    if modality not in RECIPES:
        raise ValueError(f"no recipe for {modality!r} data; modalities: {', '.join(RECIPES)}")
    options = {}
    if "encoder" in auto:
        options["encoder"] = RECIPES[modality]["encoder"]
    if "reducer" in auto:
        named_encoder = "encoder" not in auto
        options["reducer"] = NO_REDUCER if named_encoder or builds_graph else RECIPES[modality]["reducer"]
    return Recipe(modality, options)
