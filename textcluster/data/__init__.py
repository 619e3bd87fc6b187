"""Dataset plugins: each loader turns a config into a :class:`Dataset`."""

from textcluster.data.base import IMAGE, TEXT, Dataset
from textcluster.data import loaders  # noqa: F401  (registers the built-in loaders)

__all__ = ["Dataset", "TEXT", "IMAGE", "load_dataset"]


def load_dataset(config, seed: int = 0) -> Dataset:
    """Build the loader named by ``config['name']``, load, clean and subsample."""
    from textcluster import registry

    params = dict(config)
    limit = params.pop("limit", None)
    loader = registry.datasets.build(params)
    dataset = loader.load().drop_empty_texts()
    return dataset.subsample(limit, seed)
