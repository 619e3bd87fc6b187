"""Encoder plugins (``encoder=<key>``): the networks and the plugin classes that train and apply them.

Each key's module is imported when the key is first asked for (see :mod:`textcluster.registry`): most
of these modules import torch, which checking a config or running ``encoder=precomputed`` never needs.
"""

# key -> the module whose decorator registers it (tests/test_registry.py checks the two agree)
PLUGIN_MODULES = {
    "cnn": "cnn",
    "dense": "dense",
    "raw": "dense",
    "hybrid": "hybrid",
    "lda": "topic_models",
    "nmf": "topic_models",
    "precomputed": "precomputed",
    "pretrained": "pretrained",
    "rnn": "rnn",
    "static": "static",
    "transformer": "transformer",
}
