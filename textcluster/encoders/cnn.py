"""Convolutional encoders: a 2-D convolutional autoencoder for images and a 1-D CNN over tokens for text.

Images: strided 3x3 convolutions (``channels``, each halving the size with
padding 1, so 28x28 MNIST goes 14-7-4 and 8x8 digits 4-2-1) and a linear
code; the decoder mirrors them with transposed convolutions told the exact
output size of each encoder stage, so any image size works. Trained to
reconstruct randomly shifted and rotated copies (see
:class:`~textcluster.encoders.sequence_network.PixelAutoencoder`).

Text: token embeddings, one convolution per width in ``kernel_sizes``
(n-gram detectors, ``filters`` each), max-pooling over time, a linear code;
trained on the bag-of-words objective of :mod:`textcluster.encoders.sequence`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textcluster.dataset import IMAGE, TEXT
from textcluster.encoders.dense import DROPOUT
from textcluster.encoders.sequence import IMAGE_SETTINGS, SEQUENCE_SETTINGS, SequenceEncoder
from textcluster.params import Block, Int, ListOf
from textcluster.registry import encoders

if TYPE_CHECKING:  # torch is imported when a network is built, not when a config is checked
    from textcluster.encoders.cnn_network import ConvAutoencoder, TextCNN

WIDTHS = ListOf(Int(min=1), min_length=1)


@encoders.register("cnn")
class CNNEncoder(SequenceEncoder):
    """Convolutional autoencoder for images; 1-D CNN with the bag-of-words objective for text."""

    modalities = (TEXT, IMAGE)
    image_defaults = {**SequenceEncoder.image_defaults, "channels": [32, 64, 128]}
    parameters = {
        "kernel_sizes": WIDTHS,
        "filters": Int(min=1),
        "dropout": DROPOUT,
        **SEQUENCE_SETTINGS,
        "image": Block({**IMAGE_SETTINGS, "channels": WIDTHS}),
    }

    def __init__(self, kernel_sizes: Sequence[int] = (1, 2, 3), filters: int = 64, dropout: float = 0.1, **shared):
        super().__init__(**shared)  # the settings every sequence encoder takes: SEQUENCE_SETTINGS
        self.kernel_sizes, self.filters, self.dropout = list(kernel_sizes), filters, dropout

    def build_image_network(self, height: int, width: int) -> ConvAutoencoder:
        from textcluster.encoders.cnn_network import ConvAutoencoder

        settings = self.image_settings
        return ConvAutoencoder(
            height, width, settings["channels"], settings["embedding_dim"], **self.pixel_params(height, width)
        )

    def build_text_network(self, vocab_size: int, target_dim: int, pad_id: int, mask_id: int) -> TextCNN:
        from textcluster.encoders.cnn_network import TextCNN

        return TextCNN(
            self.kernel_sizes,
            self.filters,
            self.dropout,
            **self.network_params(vocab_size, target_dim, pad_id, mask_id),
        )
