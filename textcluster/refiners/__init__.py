"""Refiner plugins: deep clustering that trains the encoder and the clusters together (DEC, IDEC, contrastive)."""

from textcluster.refiners.base import NoRefiner, Refinement, RefinementView, Refiner
from textcluster.registry import refiners
from textcluster.refiners import clustering  # noqa: F401  (registers dec, idec, contrastive)

refiners.register("none")(NoRefiner)

__all__ = ["NoRefiner", "Refinement", "RefinementView", "Refiner"]
