"""Example textcluster plugin: agglomerative clustering (``clusterer=agglomerative``)."""

from textcluster_agglomerative.clusterer import AgglomerativeClusterer

__all__ = ["AgglomerativeClusterer"]
