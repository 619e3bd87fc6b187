"""One seed for every random generator a run draws from (as Lightning's ``seed_everything``, without
importing Lightning: a run whose stages never touch torch does not import it either)."""

from __future__ import annotations

import os
import random

import numpy as np


def seed_everything(seed: int, torch: bool = True) -> None:
    """Seed Python's and numpy's global generators, and torch's (every device) when ``torch``.

    The environment variables are the ones Lightning reads, so its worker processes and ddp ranks
    derive their seeds from this one.
    """
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    os.environ["PL_SEED_WORKERS"] = "1"
    random.seed(seed)
    np.random.seed(seed)
    if torch:
        import torch as torch_module

        torch_module.manual_seed(seed)  # seeds the CUDA generators too


FIT_SIZE = 50_000  # a stage's default bound (UMAP, k-means, HDBSCAN): a corpus up to this size is fitted whole
FIT_SIZE_MIN = 1_000  # a smaller sample is too coarse to place the other points by (a layout, centres, a tree)


def fit_sample(n_samples: int, fit_size: int | None, random_state: int) -> np.ndarray | None:
    """The rows a stage with a ``fit_size`` bound (UMAP, k-means, HDBSCAN) is fitted on: a seeded random sample
    of ``fit_size`` rows, sorted, when there are more rows than that; None (every row) otherwise or when
    ``fit_size`` is None."""
    if fit_size is None or n_samples <= fit_size:
        return None
    return np.sort(np.random.default_rng(random_state).choice(n_samples, size=fit_size, replace=False))
