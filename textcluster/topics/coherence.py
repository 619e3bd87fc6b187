"""Topic quality: NPMI coherence on the corpus itself, and topic diversity (computed here, once, for
every reader: topics.json, the report and the ``npmi`` / ``topic_diversity`` evaluators).

NPMI of two words, from document co-occurrence in the N documents of the
corpus that was clustered (p(w) = D(w)/N, p(wi, wj) = D(wi, wj)/N, D = number
of documents that contain the word(s), a document counted once however often
the word occurs)::

    NPMI(wi, wj) = log(p(wi, wj) / (p(wi) p(wj))) / -log p(wi, wj)

in [-1, 1], with two conventions where the formula is undefined:

* the pair never occurs together (p(wi, wj) = 0, including a word absent
  from the corpus): NPMI = -1, its limit;
* the pair occurs in every document (p(wi, wj) = 1, so p(wi) = p(wj) = 1):
  NPMI = 1, complete co-occurrence (Bouma's definition).

A topic's coherence is the mean NPMI over all pairs of its top-N words; the
run's ``npmi`` is the mean over topics (noise left out; topics with fewer than
two words left out). No smoothing constant is added.

Topic diversity (Dieng et al., 2020): the number of distinct words among all
topics' top-N words divided by the number of those words (1.0 = no topic
shares a word with another).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp


def pair_npmi(n_both: int, n_first: int, n_second: int, n_documents: int) -> float:
    """NPMI of a word pair from document counts, with the conventions of the module docstring."""
    if n_both == 0:
        return -1.0
    if n_both == n_documents:
        return 1.0
    p_both = n_both / n_documents
    return float(np.log(p_both / ((n_first / n_documents) * (n_second / n_documents))) / -np.log(p_both))


def topic_npmi(
    topic_words: Sequence[Sequence[str]], doc_term: sp.spmatrix, vocabulary: Mapping[str, int]
) -> list[float]:
    """NPMI coherence of each topic (NaN for a topic with fewer than two words).

    ``doc_term``: documents x terms counts (any non-zero counts as present);
    ``vocabulary``: term -> column. A word not in the vocabulary occurs in no document.
    """
    import scipy.sparse as sp  # on use: composing a config reads the topic stage's defaults, not this

    matrix = sp.csc_matrix(doc_term)
    n_documents = matrix.shape[0]
    words = sorted({word for topic in topic_words for word in topic if word in vocabulary})
    column = {word: index for index, word in enumerate(words)}
    present = (matrix[:, [vocabulary[word] for word in words]] > 0).astype(np.int64) if words else None
    together = np.asarray((present.T @ present).toarray()) if words else np.zeros((0, 0))

    def count(first: str, second: str | None = None) -> int:
        if first not in column or (second is not None and second not in column):
            return 0
        return int(together[column[first], column[second if second is not None else first]])

    scores = []
    for topic in topic_words:
        pairs = list(combinations(list(dict.fromkeys(topic)), 2))
        if not pairs:
            scores.append(float("nan"))
            continue
        scores.append(float(np.mean([pair_npmi(count(a, b), count(a), count(b), n_documents) for a, b in pairs])))
    return scores


def topic_diversity(topic_words: Sequence[Sequence[str]]) -> float:
    """Distinct words / all words among the topics' top words."""
    total = sum(len(topic) for topic in topic_words)
    if total == 0:
        raise ValueError("topic diversity needs at least one word")
    return len({word for topic in topic_words for word in topic}) / total
