"""The topic stage of text runs: c-TF-IDF keywords, representative documents, labels, reduction, coherence.

The model (scikit-learn, scipy) is imported on first use, so that :mod:`textcluster.topics.settings` is
cheap to import for checking a config.
"""

__all__ = ["Topic", "TopicModeler", "Topics"]


def __getattr__(name: str):
    if name in __all__:
        from textcluster.topics import model

        return getattr(model, name)
    raise AttributeError(f"module 'textcluster.topics' has no attribute {name!r}")
