"""Topics over time and per group (BERTopic's ``topics_over_time`` and ``topics_per_class``) from fitted topics.

``topics_over_time(topics, labels, times, bins="auto")`` and ``topics_per_group(topics, labels, groups)``
return one row per (bin or group, topic): how many of that bin's documents the topic holds (``count``),
their part of the bin's documents (``share``) and the topic's keywords in that bin. Every bin from the first
time to the last is listed, empty ones too, and every topic in each, so that a topic absent from a bin reads
0 rather than missing.

Keywords per bin, as BERTopic's topics_over_time computes them: the c-TF-IDF of the topic's documents in that
bin, i.e. their summed term counts (rows of the fit's document-term matrix, so the run's fitted vectorizer)
weighted by the IDF fitted on the whole corpus's topics (words the clusters share stay at 0). With one bin
holding every document they are the topic's own keywords. Documents without a time (or a group) are left
out of the table.

``labels``: each fitted document's topic (``Pipeline.labels_`` or ``Topics.labels``), one per row of the
corpus the topics were fitted on; ``times`` / ``groups`` in the same order.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from textcluster.dataset import parse_times
from textcluster.errors import UserError
from textcluster.topics.ctfidf import c_tf_idf, class_idf, class_term_counts, top_terms
from textcluster.topics.model import Topics

log = logging.getLogger(__name__)

FREQUENCIES = ("D", "W", "M", "Q", "Y")
"""Calendar bins, finest first: day, week, month, quarter, year (pandas period aliases)."""
TARGET_BINS = (10, 30)
"""How many bins ``bins="auto"`` aims for. Under about 10 a trend is two or three points; over about 30 the
bins are thin (a topic's share of a bin holding a handful of documents is noise) and the chart's lines
cannot be told apart."""
KEYWORDS_PER_BIN = 5  # as BERTopic's topics_over_time "Words" column


def choose_frequency(times: pd.Series) -> str:
    """The calendar frequency whose number of bins from the first to the last time is nearest TARGET_BINS.

    Nearness is by ratio (``max(n / 30, 10 / n)``: 40 daily bins are nearer than 6 weekly ones); inside the
    range it prefers the bin count nearest the range's middle. Calendar units, not equal slices of the span,
    so that a bin is something a reader names (March 2021, 2021Q1) and two runs over the same months agree.
    """
    first, last = times.min(), times.max()
    low, high = TARGET_BINS

    def distance(frequency: str) -> float:
        n_bins = last.to_period(frequency).ordinal - first.to_period(frequency).ordinal + 1
        return max(n_bins / high, low / n_bins)

    return min(FREQUENCIES, key=distance)  # the finer of two equally near


def time_bins(times: Any, bins: str | int = "auto") -> pd.Categorical:
    """Each document's time bin as an ordered Categorical (NaN where the time is missing).

    ``bins``: ``"auto"`` (:func:`choose_frequency`), a frequency of FREQUENCIES, or a number of equal-width
    bins from the first time to the last. The categories are every bin in that span, empty ones included,
    named so that their text sorts in time order: ``2021-03-15`` (day; a week by its Monday), ``2021-03``,
    ``2021Q1``, ``2021``; equal-width bins by their start.
    """
    series = pd.Series(parse_times(times, "times"))
    known = series.dropna()
    if known.empty:
        raise UserError("no document has a time; give at least one date")
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        return _equal_width_bins(series, int(bins))
    frequency = choose_frequency(known) if bins == "auto" else bins
    if frequency not in FREQUENCIES:
        raise UserError(f"bins={bins!r} is not valid: use 'auto', one of {', '.join(FREQUENCIES)} or a number")
    span = pd.period_range(known.min(), known.max(), freq=frequency)
    names = [_period_name(period) for period in span]
    codes = np.full(len(series), -1)
    present = series.notna().to_numpy()
    codes[present] = pd.DatetimeIndex(series[present]).to_period(frequency).asi8 - span[0].ordinal
    return pd.Categorical.from_codes(codes, categories=names, ordered=True)


def _period_name(period: pd.Period) -> str:
    if period.freqstr.startswith("W"):  # pandas names a week "2021-03-15/2021-03-21"; its first day says it
        return period.start_time.strftime("%Y-%m-%d")
    return str(period)


def _equal_width_bins(series: pd.Series, n_bins: int) -> pd.Categorical:
    if n_bins < 1:
        raise UserError(f"bins={n_bins} is not valid: use a number of bins >= 1")
    nanoseconds = series.to_numpy(dtype="datetime64[ns]").astype("int64").astype(np.float64)
    present = series.notna().to_numpy()
    first, last = nanoseconds[present].min(), nanoseconds[present].max()
    n_bins = n_bins if last > first else 1  # every document at one moment: one bin
    edges = np.linspace(first, last, n_bins + 1)
    codes = np.full(len(series), -1)
    # a time on an inner edge opens the next bin; the last time closes the last bin
    codes[present] = np.clip(np.searchsorted(edges, nanoseconds[present], side="right") - 1, 0, n_bins - 1)
    starts = pd.DatetimeIndex(edges[:-1].astype("int64")).floor("s")
    layout = "%Y-%m-%d" if (starts == starts.normalize()).all() else "%Y-%m-%d %H:%M:%S"
    names = list(starts.strftime(layout))
    if len(set(names)) < len(names):  # bins under a second wide: number them instead
        names = [f"{name} #{index}" for index, name in enumerate(names)]
    return pd.Categorical.from_codes(codes, categories=names, ordered=True)


def topics_over_time(
    topics: Topics, labels: Any, times: Any, bins: str | int = "auto", top_n: int = KEYWORDS_PER_BIN
) -> pd.DataFrame:
    """One row per (time bin, topic): ``bin, topic, label, count, share, keywords`` (see the module docstring)."""
    buckets = time_bins(times, bins)
    return bucket_table(topics, labels, buckets, "bin", top_n)


def topics_per_group(topics: Topics, labels: Any, groups: Any, top_n: int = KEYWORDS_PER_BIN) -> pd.DataFrame:
    """One row per (group, topic): ``group, topic, label, count, share, keywords``; groups in sorted order."""
    values = pd.Series(np.asarray(groups, dtype=object))
    values = values.mask(values.isna() | values.astype(str).str.strip().eq(""))  # a blank cell is no group
    try:
        buckets = pd.Categorical(values)
    except TypeError:  # numbers beside text cannot be sorted together: sort them all as text
        buckets = pd.Categorical(values.astype(str).mask(values.isna()))
    return bucket_table(topics, labels, buckets, "group", top_n)


def bucket_table(topics: Topics, labels: Any, buckets: pd.Categorical, column: str, top_n: int) -> pd.DataFrame:
    """The table of :func:`topics_over_time` / :func:`topics_per_group` for documents already put in buckets."""
    labels = np.asarray(labels)
    topic_ids = _checked_topic_ids(topics, labels, len(buckets), column)
    codes = np.asarray(buckets.codes, dtype=np.int64)  # pandas keeps them in int8 under 128 buckets
    placed = codes >= 0
    if not placed.all():
        log.info("topics per %s: %d of %d documents have no %s, left out", column, (~placed).sum(), len(codes), column)
    n_buckets, n_topics = len(buckets.categories), len(topic_ids)
    pairs = codes[placed] * n_topics + np.searchsorted(topic_ids, labels[placed])  # one class per (bucket, topic)
    classes = np.arange(n_buckets * n_topics)
    counts = np.bincount(pairs, minlength=len(classes)).reshape(n_buckets, n_topics)
    weights = c_tf_idf(class_term_counts(topics.doc_term[np.flatnonzero(placed)], pairs, classes), global_idf(topics))
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    names = {topic.id: topic.label for topic in topics.topics}
    rows = [
        {
            column: bucket,
            "topic": int(topic_id),
            "label": names[topic_id],
            "count": int(counts[b, t]),
            "share": float(shares[b, t]),
            "keywords": _keywords(weights, b * n_topics + t, topics.terms, top_n) if counts[b, t] else "",
        }
        for b, bucket in enumerate(buckets.categories)
        for t, topic_id in enumerate(topic_ids)
    ]
    return pd.DataFrame(rows, columns=[column, "topic", "label", "count", "share", "keywords"])


def _keywords(weights: sp.csr_matrix, row: int, terms: np.ndarray, top_n: int) -> str:
    return ", ".join(word for word, _ in top_terms(weights, row, terms, top_n))


def global_idf(topics: Topics) -> np.ndarray:
    """The IDF the fit weighted the topics' keywords with: c-TF-IDF's over every topic (noise included), 0 for a
    word the clusters share (``Topics.shared_words``), as :class:`~textcluster.topics.model.TopicModeler` has it."""
    topic_ids = np.array(sorted(topic.id for topic in topics.topics), dtype=np.int64)
    idf = class_idf(class_term_counts(topics.doc_term, topics.labels, topic_ids))
    return np.where(np.isin(topics.terms, topics.shared_words), 0.0, idf)


def _checked_topic_ids(topics: Topics, labels: np.ndarray, n_values: int, column: str) -> np.ndarray:
    """The topics' ids, sorted, once the labels and values are known to be one per fitted document."""
    if not isinstance(topics.doc_term, sp.spmatrix):
        raise UserError(
            "these topics carry no document-term counts (a model loaded from a folder keeps no corpus); "
            "pass the topics of a fit (Pipeline.topics_ after fit)"
        )
    n_fitted = topics.doc_term.shape[0]
    what = "times" if column == "bin" else "groups"
    if len(labels) != n_fitted or n_values != n_fitted:
        raise UserError(
            f"the topics were fitted on {n_fitted} documents but got {len(labels)} labels and {n_values} {what}; "
            "give one label and one value per fitted document, in the fit's order"
        )
    topic_ids = np.array(sorted(topic.id for topic in topics.topics), dtype=np.int64)
    unknown = sorted(set(np.unique(labels).tolist()) - set(topic_ids.tolist()))
    if unknown:
        raise UserError(f"labels hold {unknown[:5]}, which are no topic ids of these topics; pass the fit's labels")
    return topic_ids
