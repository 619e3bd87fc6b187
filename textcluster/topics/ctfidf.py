"""Class-based TF-IDF (BERTopic's c-TF-IDF) on scikit-learn's CountVectorizer.

Every cluster is one class. The vectorizer is fitted on the individual
documents (so ``min_df``/``max_df`` count documents, and no n-gram spans two
documents); the term counts of a class are the sums over its documents, which
is the same as counting the class's documents joined into one. Then, as in
BERTopic's ``ClassTfidfTransformer``::

    W[t, c] = tf[t, c] / sum_t' tf[t', c]  *  log(1 + A / f[t])

with ``tf[t, c]`` the count of term t in class c, ``f[t]`` its count over all
classes and ``A`` the average number of words per (non-empty) class (a float
here; BERTopic rounds it down).

Shared words (:func:`shared_terms`): that IDF is too gentle with a word every
cluster uses a lot (a corpus' boilerplate: "edu", "writes" in newsgroup posts),
so such a word can top the keywords of most clusters. A shared word is
dropped from every topic's keywords (its IDF set to 0): one among the top
keywords of more than half of the clusters, or among the top keywords of two
or more clusters while it is common in most clusters (:func:`evenly_spread_terms`).
Both tests read only this corpus and its clusters; the drop is repeated until
no word is shared, and never takes a topic's last keyword.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from textcluster.errors import UserError
from textcluster.progress import track

if TYPE_CHECKING:  # scikit-learn is imported when a vectorizer is built: composing a config reads this module
    from sklearn.feature_extraction.text import CountVectorizer


def resolve_callable(path: str | Callable, what: str) -> Callable:
    """``"package.module:function"`` or ``"package.module.function"`` -> the function (callables pass through)."""
    if callable(path):
        return path
    text = str(path)
    module_name, _, attribute = text.partition(":") if ":" in text else text.rpartition(".")
    if not module_name or not attribute:
        raise UserError(f"{what}={text!r} is not an import path; write it as 'package.module:function'")
    try:
        target = importlib.import_module(module_name)
        for name in attribute.split("."):  # "module:Class.method" reaches nested attributes
            target = getattr(target, name)
    except (ImportError, AttributeError) as error:
        raise UserError(f"{what}={text!r} cannot be imported ({error}); install the package or fix the path") from None
    if not callable(target):
        raise UserError(f"{what}={text!r} is not callable; it must name a function str -> list of tokens")
    return target


def build_vectorizer(settings: Mapping[str, Any] | None) -> CountVectorizer:
    """A CountVectorizer from config keys (any CountVectorizer argument); ``tokenizer`` may be an import path."""
    from sklearn.feature_extraction.text import CountVectorizer

    params = dict(settings or {})
    if params.get("ngram_range") is not None:
        params["ngram_range"] = tuple(int(n) for n in params["ngram_range"])
    if params.get("tokenizer") is not None:
        params["tokenizer"] = resolve_callable(params["tokenizer"], "topics.vectorizer.tokenizer")
        params["token_pattern"] = None  # unused with a tokenizer; sklearn would warn
    try:
        return CountVectorizer(**params)
    except TypeError as error:
        raise UserError(
            f"topics.vectorizer: {error}; the keys are CountVectorizer's arguments "
            "(stop_words, ngram_range, min_df, max_df, max_features, token_pattern, tokenizer, ...)"
        ) from None


COUNTING_BLOCK = 10_000  # documents read between two progress updates (a bar's update costs far more than one)


def fit_document_terms(vectorizer: CountVectorizer, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
    """(documents x terms count matrix, the terms); bad vectorizer settings become one UserError line.
    The one pass over the documents is most of the topic stage's time (8 s of 12 at a million short texts), so
    it shows its progress."""
    try:
        with track(len(texts), "topics: counting words", "docs") as progress:
            doc_term = vectorizer.fit_transform(_counted(texts, progress))
    except ValueError as error:  # "empty vocabulary", "After pruning, no terms remain", max_df < min_df, ...
        raise UserError(
            f"topics.vectorizer could not build a vocabulary from {len(texts)} documents ({error}); "
            "lower topics.vectorizer.min_df, raise topics.vectorizer.max_df or "
            "set topics.vectorizer.stop_words=null"
        ) from None
    return sp.csr_matrix(doc_term), vectorizer.get_feature_names_out()


def _counted(texts: list[str], progress) -> Iterator[str]:
    """``texts`` one by one, counted into ``progress`` a block at a time as the vectorizer reads them."""
    for start in range(0, len(texts), COUNTING_BLOCK):
        block = texts[start : start + COUNTING_BLOCK]
        yield from block
        progress.update(len(block))


def class_term_counts(doc_term: sp.spmatrix, labels: np.ndarray, classes: np.ndarray) -> sp.csr_matrix:
    """(classes x terms): the term counts summed over each class's documents."""
    labels = np.asarray(labels)
    rows = np.searchsorted(classes, labels)
    member = labels == classes[np.clip(rows, 0, len(classes) - 1)]
    indicator = sp.csr_matrix(
        (np.ones(member.sum()), (rows[member], np.flatnonzero(member))), shape=(len(classes), len(labels))
    )
    return sp.csr_matrix(indicator @ doc_term, dtype=np.float64)


def class_idf(class_counts: sp.spmatrix) -> np.ndarray:
    """The IDF of c-TF-IDF, per term: ``log(1 + A / f[t])`` (0 for a term no class has); see the module docstring."""
    counts = sp.csr_matrix(class_counts, dtype=np.float64)
    term_totals = np.asarray(counts.sum(axis=0)).ravel()
    n_classes = int((np.asarray(counts.sum(axis=1)).ravel() > 0).sum())  # emptied rows (merged away) do not count
    average_words = counts.sum() / max(n_classes, 1)
    with np.errstate(divide="ignore"):
        return np.where(term_totals > 0, np.log1p(average_words / np.maximum(term_totals, 1e-300)), 0.0)


def c_tf_idf(class_counts: sp.spmatrix, idf: np.ndarray | None = None) -> sp.csr_matrix:
    """c-TF-IDF weights (classes x terms) from class term counts; ``idf``: one fitted on other classes (as
    BERTopic's ``transform``), by default the IDF of these classes."""
    from sklearn.preprocessing import normalize

    counts = sp.csr_matrix(class_counts, dtype=np.float64)
    if idf is None:
        idf = class_idf(counts)
    tf = normalize(counts, norm="l1", axis=1)
    return sp.csr_matrix(tf @ sp.diags(idf))


def row_top_indices(weights: sp.csr_matrix, row: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(term indices, weights) of the ``n`` highest-weighted terms of one row (weight > 0), ties broken
    alphabetically (the terms are sorted, so a lower index is earlier in the alphabet)."""
    start, end = weights.indptr[row], weights.indptr[row + 1]
    values, columns = weights.data[start:end], weights.indices[start:end]
    positive = values > 0
    values, columns = values[positive], columns[positive]
    order = np.lexsort((columns, -values))[:n]
    return columns[order], values[order]


def top_terms(weights: sp.spmatrix, row: int, terms: np.ndarray, n: int) -> list[tuple[str, float]]:
    """The ``n`` highest-weighted terms of one row (weight > 0), ties broken alphabetically."""
    columns, values = row_top_indices(sp.csr_matrix(weights), row, n)
    return [(str(terms[i]), float(value)) for i, value in zip(columns, values)]


# A word is common in a cluster when the share of the cluster's documents holding it is at least this part of
# its share in the cluster where it is most common: a word spread evenly passes in most clusters, a topical one
# only in the few it belongs to. Half, like the "more than half of the clusters" of the majority tests.
COMMON_SHARE_OF_PEAK = 0.5


def evenly_spread_terms(doc_term: sp.spmatrix, labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Per term: True when it is common (:data:`COMMON_SHARE_OF_PEAK`) in more than half of the clusters.

    Counted in documents, not occurrences, so a word repeated in a few long documents does not pass.
    """
    presence = sp.csr_matrix(doc_term, dtype=np.float64, copy=True)
    presence.data = (presence.data > 0).astype(np.float64)
    documents = class_term_counts(presence, labels, clusters)  # clusters x terms: documents holding the term
    sizes = class_term_counts(sp.csr_matrix(np.ones((len(labels), 1))), labels, clusters).toarray().ravel()
    share = sp.coo_matrix(sp.diags(1.0 / np.maximum(sizes, 1.0)) @ documents)
    peak = np.zeros(share.shape[1])
    np.maximum.at(peak, share.col, share.data)
    common = share.data >= COMMON_SHARE_OF_PEAK * peak[share.col]
    return np.bincount(share.col[common], minlength=share.shape[1]) > len(clusters) / 2


def shared_terms(
    counts: sp.spmatrix, idf: np.ndarray, top_n: int, evenly_spread: np.ndarray | None = None
) -> np.ndarray:
    """Per term: True for a word to drop from every keyword list (see the module docstring).

    ``counts``: one row per topic (noise left out); ``idf``: the c-TF-IDF IDF; ``evenly_spread``: from
    :func:`evenly_spread_terms` (None: the majority test alone). Rounds repeat until no word is shared,
    since dropping one lets the next most common word rise; a round that would leave a topic without
    any keyword is not taken. Under two topics nothing is shared.
    """
    counts = sp.csr_matrix(counts, dtype=np.float64)
    n_topics = int((np.asarray(counts.sum(axis=1)).ravel() > 0).sum())
    dropped = np.zeros(len(idf), dtype=bool)
    if n_topics < 2:
        return dropped
    present = counts.copy()
    present.data = (present.data > 0).astype(np.float64)
    while True:
        weights = c_tf_idf(counts, np.where(dropped, 0.0, idf))
        tops = [row_top_indices(weights, row, top_n)[0] for row in range(weights.shape[0])]
        hits = np.bincount(np.concatenate(tops), minlength=len(idf)) if tops else np.zeros(len(idf), dtype=int)
        shared = hits > n_topics / 2
        if evenly_spread is not None:
            shared |= evenly_spread & (hits >= 2)
        if not shared.any():
            return dropped
        kept = ~(dropped | shared) & (idf > 0)
        keywords_left = present @ kept.astype(np.float64)
        if any(len(top) and left == 0 for top, left in zip(tops, keywords_left)):
            return dropped
        dropped |= shared
