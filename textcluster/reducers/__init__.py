"""Reducer plugins (``reducer=<key>``): optional dimensionality reduction between embedding and clustering."""

from textcluster.reducers import builtin  # noqa: F401  (registers none, pca, umap)
