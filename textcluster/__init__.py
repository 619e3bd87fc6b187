"""textcluster: plugin-based clustering of text and images."""

__version__ = "0.1.0"
