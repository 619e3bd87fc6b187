"""Refiner plugins (``refiner=<key>``): deep clustering that trains the encoder and the clusters together.

``refiner=none`` is no stage at all: the clusterer's assignment is final.
"""

from textcluster.refiners import clustering  # noqa: F401  (registers dec, idec, contrastive)
