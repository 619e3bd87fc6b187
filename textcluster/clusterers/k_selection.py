"""Choosing the number of clusters: ``clusterer.n_clusters=auto``.

:class:`KSearch` fits the run's own clusterer for each k in a range that grows
with the corpus, on a sample of the clustered space, and scores each
partition by its silhouette there (the distances of the sample are computed
once, so each k costs one fit on the sample and one pass over that matrix).
The pick is the largest k whose silhouette is within ``tolerance`` (1%) of
the best one: differences that small are within what another sample gives,
and between near-equal partitions the finer one serves a reader better, since
the topic tree (and ``topics.n_topics``) can merge topics but nothing splits
them. The search stops ``patience`` values of k after the best one. k
goes no higher than the number of distinct points in the sample (all
identical: one cluster, no search), and a k whose fit came out with fewer
clusters than asked for is not picked, so the chosen k is one the
clustering has; the record says when the distinct points capped it. The
curves behind these choices (embedding-space silhouettes, BIC, stability) are
in ``benchmarks/results/k-selection.md``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from textcluster.contracts import Clusterer
from textcluster.errors import UserError
from textcluster.params import NULL, Block, Float, Int
from textcluster.progress import track

log = logging.getLogger(__name__)

AUTO = "auto"

K_SEARCH_SETTINGS = Block(
    {
        "k_min": Int(min=2),
        "k_max": Int(min=2) | NULL,
        "sample_size": Int(min=100),
        "patience": Int(min=1),
        "tolerance": Float(min=0, max=1),
    }
)
"""``k_search.*``: the range of k (``k_max: null`` grows with the corpus), the sample, early stopping."""


def default_k_max(n_samples: int) -> int:
    """The largest k tried when none is given: sqrt(n / 5), at least 10 and at most 100 (and below n)."""
    return max(2, min(n_samples - 1, max(10, min(100, round(math.sqrt(n_samples / 5))))))


@dataclass
class KSelection:
    """The curve and the pick: ``scores[i]`` is the silhouette of a partition into ``ks[i]`` clusters."""

    ks: list[int]
    scores: list[float]
    chosen: int
    criterion: str
    sample_size: int
    k_range: tuple[int, int]
    seconds: float
    note: str | None = None

    @property
    def stopped_early(self) -> bool:
        """The search stopped before ``k_range``'s end (``patience`` values of k after the best)."""
        return self.ks[-1] < self.k_range[1]

    def as_dict(self) -> dict:
        return {
            "chosen_k": self.chosen,
            "criterion": self.criterion,
            "k_range": list(self.k_range),
            "sample_size": self.sample_size,
            "stopped_early": self.stopped_early,
            "seconds": round(self.seconds, 3),
            "curve": [{"k": k, "score": round(s, 6)} for k, s in zip(self.ks, self.scores)],
            **({"note": self.note} if self.note else {}),
        }


@dataclass
class KSearch:
    """Search k for a clusterer whose ``n_clusters`` is ``auto`` (see the module docstring)."""

    k_min: int = 2
    k_max: int | None = None
    sample_size: int = 5000
    patience: int = 10
    tolerance: float = 0.01

    def k_range(self, n_samples: int) -> tuple[int, int]:
        k_max = default_k_max(n_samples) if self.k_max is None else min(self.k_max, n_samples - 1)
        if n_samples < 3 or k_max < self.k_min:
            raise UserError(
                f"clusterer.n_clusters=auto needs at least {self.k_min + 1} documents and k_search.k_max >= "
                f"k_search.k_min (got {n_samples} documents, k from {self.k_min} to {k_max}); "
                "give clusterer.n_clusters=<k> or more data"
            )
        return self.k_min, k_max

    def select(self, clusterer: Clusterer, space: np.ndarray, seed: int = 0) -> KSelection:
        """Fit ``clusterer`` with each k on a sample of ``space`` and pick k by silhouette (module docstring)."""
        from sklearn.metrics import pairwise_distances, silhouette_score

        start = time.perf_counter()
        k_min, k_max = self.k_range(len(space))
        rows = np.sort(np.random.default_rng(seed).choice(len(space), min(len(space), self.sample_size), replace=False))
        sample = np.asarray(space[rows], dtype=np.float32)  # only the sample is read (space may be memory-mapped)
        criterion = f"silhouette (largest k within {self.tolerance:.0%} of the best)"
        # k clusters need k distinct points: beyond them a clusterer returns fewer clusters than asked for,
        # and a pick among those would claim a k the clustering does not have
        distinct = len(np.unique(sample, axis=0))
        note = None
        if distinct == 1:
            note = f"all {len(rows)} documents searched are the same point: one cluster"
            log.warning("clusterer.n_clusters=auto: %s (identical documents?)", note)
            seconds = time.perf_counter() - start
            return KSelection([1], [-1.0], 1, criterion, len(rows), k_range=(1, 1), seconds=seconds, note=note)
        if distinct < k_max:
            note = f"k at most {distinct}, the number of distinct points among the {len(rows)} documents searched"
            log.warning("clusterer.n_clusters=auto: %s (k_search.k_max %d)", note, k_max)
            k_min, k_max = min(k_min, distinct), distinct
        distances = pairwise_distances(sample)
        ks, scores, complete = [], [], []
        with track(k_max - k_min + 1, "choosing k", "values of k") as progress:
            for k in range(k_min, k_max + 1):
                labels = np.asarray(clusterer.clone(n_clusters=k).fit(sample).labels_)
                found = len(np.unique(labels))
                scores.append(
                    float(silhouette_score(distances, labels, metric="precomputed")) if 1 < found < len(rows) else -1.0
                )
                ks.append(k)
                complete.append(found >= k)
                progress.update(1)
                if k - ks[int(np.argmax(scores))] >= self.patience:
                    break
        # a k whose partition came out with fewer clusters is no candidate (unless no k gave all of its clusters)
        candidates = [i for i, ok in enumerate(complete) if ok] or list(range(len(ks)))
        best = max(scores[i] for i in candidates)
        chosen = max(ks[i] for i in candidates if scores[i] >= best - self.tolerance * abs(best))
        selection = KSelection(
            ks=ks,
            scores=scores,
            chosen=chosen,
            criterion=criterion,
            sample_size=len(rows),
            k_range=(k_min, k_max),
            seconds=time.perf_counter() - start,
            note=note,
        )
        log.info(
            "clusterer.n_clusters=auto: k=%d (silhouette %.3f, best %.3f; k from %d to %d on %d documents, %.1f s)",
            chosen,
            scores[ks.index(chosen)],
            best,
            k_min,
            ks[-1],
            len(rows),
            selection.seconds,
        )
        return selection
