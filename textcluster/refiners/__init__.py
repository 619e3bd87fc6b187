"""Refiner plugins (``refiner=<key>``): sharpen the clusterer's assignment.

Deep clustering (dec, idec, contrastive) trains the encoder and the clusters
together; iterative classification trains a classifier on the frozen embeddings.

``refiner=none`` is no stage at all: the clusterer's assignment is final. Each
key's module (torch) is imported when the key is first asked for.
"""

# key -> the module whose decorator registers it (tests/test_registry.py checks the two agree)
PLUGIN_MODULES = {
    "contrastive": "clustering",
    "dec": "clustering",
    "idec": "clustering",
    "iterative": "iterative",
    "selflabel": "selflabel",
}
