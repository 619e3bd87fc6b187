"""Encoder plugins (``encoder=<key>``): the networks and the plugin classes that train and apply them."""

from textcluster.encoders import cnn, dense, hybrid, precomputed, pretrained, rnn, topic_models, transformer  # noqa: F401  (register the keys)
