"""A small Transformer text encoder trained from scratch (``torch.nn.TransformerEncoder``).

Token embeddings plus a positional encoding (``positional: learned`` or
``sinusoidal``), pre-norm encoder layers with a key padding mask (padded
positions are never attended to), mean pooling over the real positions and a
linear code; trained on the bag-of-words objective of
:mod:`textcluster.encoders.sequence`. Text only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textcluster.dataset import TEXT
from textcluster.encoders.dense import DROPOUT
from textcluster.encoders.sequence import SEQUENCE_SETTINGS, SequenceEncoder
from textcluster.errors import UserError
from textcluster.params import Choice, Int
from textcluster.registry import encoders

if TYPE_CHECKING:  # torch is imported when a network is built, not when a config is checked
    from textcluster.encoders.transformer_network import TextTransformer

POSITIONALS = ("learned", "sinusoidal")


@encoders.register("transformer")
class TransformerEncoderPlugin(SequenceEncoder):
    """Transformer over token sequences, trained from scratch on the bag-of-words objective."""

    modalities = (TEXT,)
    parameters = {
        "num_layers": Int(min=1),
        "num_heads": Int(min=1),
        "feedforward_dim": Int(min=1),
        "dropout": DROPOUT,
        "positional": Choice(*POSITIONALS),
        **{key: value for key, value in SEQUENCE_SETTINGS.items() if key != "image"},
    }

    def __init__(
        self,
        num_layers: int = 2,
        num_heads: int = 4,
        feedforward_dim: int = 128,
        dropout: float = 0.1,
        positional: str = "learned",
        embedding_dim: int = 32,
        token_dim: int = 64,
        token_dropout: float = 0.5,
        objective: str = "softmax_ce",
        lr: float = 0.01,
        weight_decay: float = 0.0,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        early_stopping_patience: int = 3,
        max_epochs: int | None = 10,
        normalize: bool = True,
        tokenizer: dict | None = None,
        features: dict | None = None,
    ):
        if token_dim % num_heads:  # nn.MultiheadAttention splits the token width between the heads
            raise UserError(f"encoder.token_dim ({token_dim}) must be a multiple of encoder.num_heads ({num_heads})")
        super().__init__(
            embedding_dim=embedding_dim,
            token_dim=token_dim,
            token_dropout=token_dropout,
            objective=objective,
            lr=lr,
            weight_decay=weight_decay,
            batch_size=batch_size,
            val_fraction=val_fraction,
            early_stopping_patience=early_stopping_patience,
            max_epochs=max_epochs,
            normalize=normalize,
            tokenizer=tokenizer,
            features=features,
        )
        self.num_layers, self.num_heads, self.feedforward_dim = num_layers, num_heads, feedforward_dim
        self.dropout, self.positional = dropout, positional

    def build_text_network(self, vocab_size: int, target_dim: int, pad_id: int, mask_id: int) -> TextTransformer:
        from textcluster.encoders.transformer_network import TextTransformer

        return TextTransformer(
            max_length=self.tokenizer_.max_length,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            feedforward_dim=self.feedforward_dim,
            dropout=self.dropout,
            positional=self.positional,
            **self.network_params(vocab_size, target_dim, pad_id, mask_id),
        )
