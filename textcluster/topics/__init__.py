"""The topic stage of text runs: c-TF-IDF keywords, representative documents, labels, reduction, coherence.

The model (scikit-learn, scipy) is imported on first use, so that :mod:`textcluster.topics.settings` is
cheap to import for checking a config.
"""

import importlib

__all__ = ["Topic", "TopicModeler", "Topics"]


def __getattr__(name: str):
    # By name, on first use, as textcluster/__init__.py does: the model imports this package's other modules,
    # so an import statement here (even in this function) would make an import cycle. This one runs only
    # after the package is imported, never while it is being imported.
    if name in __all__:
        return getattr(importlib.import_module("textcluster.topics.model"), name)
    raise AttributeError(f"module 'textcluster.topics' has no attribute {name!r}")
