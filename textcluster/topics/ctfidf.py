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
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

from textcluster.errors import UserError


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


def fit_document_terms(vectorizer: CountVectorizer, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
    """(documents x terms count matrix, the terms); bad vectorizer settings become one UserError line."""
    try:
        doc_term = vectorizer.fit_transform(texts)
    except ValueError as error:  # "empty vocabulary", "After pruning, no terms remain", max_df < min_df, ...
        raise UserError(
            f"topics.vectorizer could not build a vocabulary from {len(texts)} documents ({error}); "
            "lower topics.vectorizer.min_df, raise topics.vectorizer.max_df or "
            "set topics.vectorizer.stop_words=null"
        ) from None
    return sp.csr_matrix(doc_term), vectorizer.get_feature_names_out()


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
    counts = sp.csr_matrix(class_counts, dtype=np.float64)
    if idf is None:
        idf = class_idf(counts)
    tf = normalize(counts, norm="l1", axis=1)
    return sp.csr_matrix(tf @ sp.diags(idf))


def top_terms(weights: sp.spmatrix, row: int, terms: np.ndarray, n: int) -> list[tuple[str, float]]:
    """The ``n`` highest-weighted terms of one row (weight > 0), ties broken alphabetically."""
    values = np.asarray(sp.csr_matrix(weights)[row].toarray()).ravel()
    positive = np.flatnonzero(values > 0)
    order = positive[np.argsort(-values[positive], kind="stable")][:n]  # terms are sorted, so ties go a-z
    return [(str(terms[i]), float(values[i])) for i in order]
