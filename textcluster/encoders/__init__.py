"""Encoder plugins: networks (nn.Module) and the plugin classes that train and apply them."""

from textcluster.encoders.base import Encoder, TrainingContext
from textcluster.encoders import dense  # noqa: F401  (registers dense and raw)
from textcluster.encoders import pretrained  # noqa: F401  (registers pretrained)
from textcluster.encoders import hybrid  # noqa: F401  (registers hybrid: pretrained + TF-IDF/LSA)
from textcluster.encoders import cnn, rnn, transformer  # noqa: F401  (register cnn, rnn, transformer)

__all__ = ["Encoder", "TrainingContext"]
