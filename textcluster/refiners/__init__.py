"""Refiner plugins (``refiner=<key>``): sharpen the clusterer's assignment.

Deep clustering (dec, idec, contrastive) trains the encoder and the clusters
together; iterative classification trains a classifier on the frozen embeddings.

``refiner=none`` is no stage at all: the clusterer's assignment is final.
"""

from textcluster.refiners import clustering, iterative, selflabel  # noqa: F401  (registers every built-in refiner)
