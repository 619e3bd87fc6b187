"""Dataset loaders (``data=<key>``): each turns its settings into a :class:`~textcluster.dataset.Dataset`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textcluster.dataset import Dataset
from textcluster.errors import UserError
from textcluster.params import NULL, Int

LIMIT_KEY = "limit"  # every data config takes it: a seeded random subsample, applied after loading
LIMIT = Int(min=1) | NULL


def load_dataset(config: Mapping[str, Any], seed: int = 0) -> Dataset:
    """Build the loader named by ``config['name']``, load, drop empty texts and subsample to ``limit``."""
    from textcluster import registry

    params = dict(config)
    limit = params.pop(LIMIT_KEY, None)
    problems = LIMIT.problems(limit, f"data.{LIMIT_KEY}")
    if problems:
        raise UserError(problems[0])
    loader = registry.datasets.build(params, where="data")
    return loader.load().drop_empty_texts().subsample(limit, seed)
