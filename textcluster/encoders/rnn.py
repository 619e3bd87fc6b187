"""Recurrent encoders (GRU or LSTM): over token sequences for text, over pixel rows for images.

Text: token embeddings through a (bidirectional, stacked) GRU/LSTM on packed
sequences (padding never enters the recurrence), pooled over time
(``pooling``: ``max``, ``mean`` or ``last`` hidden state), a linear code;
trained on the bag-of-words objective of :mod:`textcluster.encoders.sequence`.

Images: an image is read as a sequence of rows (28 steps of 28 pixels on
MNIST, 8 of 8 on digits); the final hidden state gives the code. The decoder
feeds the code to another recurrent layer at every step and maps each step's
state to a row of pixels; trained like the convolutional autoencoder (see
:class:`~textcluster.encoders.sequence_network.PixelAutoencoder`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textcluster.dataset import IMAGE, TEXT
from textcluster.encoders.dense import DROPOUT
from textcluster.encoders.sequence import SEQUENCE_SETTINGS, SequenceEncoder
from textcluster.params import Bool, Choice, Int
from textcluster.registry import encoders

if TYPE_CHECKING:  # torch is imported when a network is built, not when a config is checked
    from textcluster.encoders.rnn_network import RowRNNAutoencoder, TextRNN

# the cells the settings accept; textcluster.encoders.rnn_network maps each to its torch module
CELL_NAMES = ("gru", "lstm")
POOLINGS = ("max", "mean", "last")


@encoders.register("rnn")
class RNNEncoder(SequenceEncoder):
    """GRU/LSTM: bag-of-words objective over token sequences for text; row-sequence autoencoder for images."""

    modalities = (TEXT, IMAGE)
    parameters = {
        "cell": Choice(*CELL_NAMES),
        "hidden_size": Int(min=1),
        "num_layers": Int(min=1),
        "bidirectional": Bool(),
        "pooling": Choice(*POOLINGS),
        "dropout": DROPOUT,
        **SEQUENCE_SETTINGS,
    }

    def __init__(
        self,
        cell: str = "gru",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: str = "max",
        dropout: float = 0.1,
        **shared,
    ):
        super().__init__(**shared)  # the settings every sequence encoder takes: SEQUENCE_SETTINGS
        self.cell, self.hidden_size, self.num_layers, self.bidirectional = cell, hidden_size, num_layers, bidirectional
        self.pooling, self.dropout = pooling, dropout

    @property
    def rnn_params(self) -> dict:
        return dict(
            cell=self.cell, hidden_size=self.hidden_size, num_layers=self.num_layers, bidirectional=self.bidirectional
        )

    def build_image_network(self, height: int, width: int) -> RowRNNAutoencoder:
        from textcluster.encoders.rnn_network import RowRNNAutoencoder

        return RowRNNAutoencoder(
            height,
            width,
            embedding_dim=self.image_settings["embedding_dim"],
            **self.rnn_params,
            **self.pixel_params(height, width),
        )

    def build_text_network(self, vocab_size: int, target_dim: int, pad_id: int, mask_id: int) -> TextRNN:
        from textcluster.encoders.rnn_network import TextRNN

        return TextRNN(
            pooling=self.pooling,
            dropout=self.dropout,
            **self.rnn_params,
            **self.network_params(vocab_size, target_dim, pad_id, mask_id),
        )
