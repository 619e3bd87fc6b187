"""Choosing the number of clusters: ``clusterer.n_clusters=auto``.

:class:`KSearch` fits the run's own clusterer for each k of a logarithmic
grid (``steps_per_doubling`` values of k per doubling, every k at the small
end) on a sample of the clustered space, and scores each partition by its
silhouette there (the sample's distances are computed once, so each k costs
``fits`` fits on the sample and as many passes over that matrix). The grid reaches a
tenth of the documents searched: a corpus of 3,000 short queries may hold
a hundred intents, and nothing caps the answer below that.

A corpus has structure at several scales (20 Newsgroups: three families of
groups, twenty groups, threads within them; search snippets: eight
domains, then the query each snippet answers), and the silhouette curve shows
each scale as a peak. The highest peak is not the answer: silhouette favours
a few well-separated families, and on clumpy spaces it creeps up again at
very fine k, where every small group of near-duplicates is its own cluster.
So the search reads *levels* off the curve: a k is a level when no k within a
factor of two either side scores higher, and its *prominence* is how far the
curve falls within that window (the smaller fall of the two sides; a slow
rise with no fall is no level). The grid's two ends are alike: where the
window runs past k_min or k_max, the fall on the side searched counts (a
peak just below k_max that the curve falls from is as much a level as k_min
falling to its right; nothing beyond k_max could be picked anyway). The pick
is the finest level whose prominence is at least ``min_prominence``, a clear
level (the finer one serves a reader better: the topic tree merges topics,
nothing splits them); the others are recorded as alternatives, one
``clusterer.n_clusters=<k>`` away. Without any clear level the pick is the
best silhouette, and the record says so. k_min's level is weaker evidence
than the others: its fall is seen on one side only, and almost every curve
falls from its first k (silhouette favours a few large clusters). So where
it is the only clear level and a finer level reaches half the prominence,
the curve has no clear level, and the best silhouette decides between them
(``benchmarks/results/scale-default.md``: the million short texts). The
search stops ``patience`` doublings of k past the finest level found
(counting levels of half the prominence). k goes no higher than the number of distinct points in the
sample (all identical: one cluster, no search), and a k whose fits all came
out with fewer clusters than asked for is not picked, so the chosen k is one
the clustering has. Measurements: ``benchmarks/results/granularity.md``.

With ``fits`` above 1 each k is fitted that many times (the clusterer's seed
and the next ones; once for a clusterer without a seed) and scored by the
median of their silhouettes. k-means lands in a different local optimum from
one seed to the next, and one fit's silhouette at a k moves by as much as a
level's prominence: one bad optimum can make a level or hide one. The median
of three keeps a single bad fit from doing either, and was steadier over many
draws of the dev spaces; but it costs two to three times the search, the
pick still falls between a coarse and a fine level wherever the fine one's
prominence sits near ``min_prominence``, and on the plain default's seed-0
runs it went coarse on a corpus one fit gets right. So one fit stays the
default, three are an option. What neither removes: a UMAP fitted again on
slightly changed input is another layout, whose curve may put its levels
elsewhere. Measured: ``benchmarks/results/k-stability.md``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from textcluster.contracts import Clusterer
from textcluster.errors import UserError
from textcluster.params import NULL, Block, Float, Int
from textcluster.progress import track

log = logging.getLogger(__name__)

AUTO = "auto"
LEVEL_WINDOW = 2.0  # a level beats every k within this factor either side; a fall is measured inside it

K_SEARCH_SETTINGS = Block(
    {
        "k_min": Int(min=2),
        "k_max": Int(min=2) | NULL,
        "sample_size": Int(min=100),
        "steps_per_doubling": Int(min=1),
        "min_prominence": Float(min=0, max=2),
        "patience": Int(min=1),
        "fits": Int(min=1),
    }
)
"""``k_search.*``: the range and grid of k, the sample, what makes a level clear, early stopping, fits per k."""


def default_k_max(n_samples: int) -> int:
    """The largest k tried when none is given: a tenth of the documents searched, at least 10 (and below n)."""
    return max(2, min(n_samples - 1, max(10, n_samples // 10)))


def k_grid(k_min: int, k_max: int, steps_per_doubling: int) -> list[int]:
    """k_min to k_max, each k about 2^(1/steps) times the one before (every k while that step is below 1)."""
    ratio = 2.0 ** (1.0 / steps_per_doubling)
    ks, k = [k_min], float(k_min)
    while ks[-1] < k_max:
        k *= ratio
        ks.append(min(k_max, max(ks[-1] + 1, round(k))))
    return ks


def levels(ks: list[int], scores: list[float]) -> dict[int, float]:
    """``{index in ks: prominence}`` of each level of the curve (module docstring). Where the curve ends inside a
    peak's window (the grid's first k, its last, or a search still running) the part of the window it has counts."""
    found = {}
    for i, k in enumerate(ks):
        left = [scores[j] for j in range(i) if ks[j] >= k / LEVEL_WINDOW]
        right = [scores[j] for j in range(i + 1, len(ks)) if ks[j] <= k * LEVEL_WINDOW]
        if max(left + right, default=-np.inf) > scores[i] or not right:  # no k to its right: no fall seen yet
            continue
        # k_min has no left side: its fall to the right alone
        falls = [scores[i] - min(right)] + ([scores[i] - min(left)] if left else [])
        found[i] = min(falls)
    return found


def how_chosen(clear: bool) -> str:
    """How the pick was made, as the log, the summary and the report say it."""
    return "the finest clear level" if clear else "no clear level above k_min: the best silhouette"


@dataclass
class KSelection:
    """The curve and the pick: ``scores[i]`` is the silhouette of a partition into ``ks[i]`` clusters;
    ``levels`` maps each level's k to its prominence, ``clear`` says whether the pick is a clear level."""

    ks: list[int]
    scores: list[float]
    chosen: int
    criterion: str
    sample_size: int
    k_range: tuple[int, int]
    seconds: float
    levels: dict[int, float] = field(default_factory=dict)
    clear: bool = False
    min_prominence: float = 0.0
    note: str | None = None

    @property
    def stopped_early(self) -> bool:
        """The search stopped before ``k_range``'s end (``patience`` doublings past the finest clear level)."""
        return self.ks[-1] < self.k_range[1]

    @property
    def alternatives(self) -> list[int]:
        """The other clear levels and the best silhouette's k, coarse to fine: one override away each."""
        clear = {k for k, prominence in self.levels.items() if prominence >= self.min_prominence}
        best = self.ks[int(np.argmax(self.scores))]
        return sorted((clear | {best}) - {self.chosen})

    def describe(self) -> str:
        """One line for the summary and the log: the pick, how sure, the alternatives."""
        how = how_chosen(self.clear)
        others = ", ".join(map(str, self.alternatives)) or "none"
        return f"{self.chosen} ({how}; other levels: {others}; k from {self.ks[0]} to {self.ks[-1]})"

    def as_dict(self) -> dict:
        return {
            "chosen_k": self.chosen,
            "clear": self.clear,
            "alternatives": self.alternatives,
            "criterion": self.criterion,
            "levels": [
                {"k": k, "score": round(self.scores[self.ks.index(k)], 6), "prominence": round(p, 6)}
                for k, p in sorted(self.levels.items())
            ],
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
    steps_per_doubling: int = 6
    min_prominence: float = 0.03
    patience: int = 3
    fits: int = 1  # fits per k, scored by their median silhouette (module docstring: why 1 by default)

    def k_range(self, n_samples: int) -> tuple[int, int]:
        """k_min to k_max, both below the number of documents searched (the sample)."""
        searched = min(n_samples, self.sample_size)
        k_max = default_k_max(searched) if self.k_max is None else min(self.k_max, n_samples - 1)
        if n_samples < 3 or k_max < self.k_min:
            raise UserError(
                f"clusterer.n_clusters=auto needs at least {self.k_min + 1} documents and k_search.k_max >= "
                f"k_search.k_min (got {n_samples} documents, k from {self.k_min} to {k_max}); "
                "give clusterer.n_clusters=<k> or more data"
            )
        return self.k_min, k_max

    @property
    def criterion(self) -> str:
        pooled = f" (median of {self.fits} fits)" if self.fits > 1 else ""
        return f"silhouette{pooled}: the finest level whose curve falls by {self.min_prominence} either side"

    def _fits(self, clusterer: Clusterer, k: int) -> list[Clusterer]:
        """The clusterers fitted at ``k``: ``fits`` seeds from the clusterer's own ``random_state`` on (one where it
        has no seed: its fits would all be the same)."""
        if "random_state" not in (clusterer.parameter_names() or ()):
            return [clusterer.clone(n_clusters=k)]
        seed = clusterer.random_state or 0
        return [clusterer.clone(n_clusters=k, random_state=seed + i) for i in range(self.fits)]

    def select(
        self,
        clusterer: Clusterer,
        space: np.ndarray,
        seed: int = 0,
        project: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> KSelection:
        """Fit ``clusterer`` with each k on a sample of ``space`` and pick a level of the silhouette curve.
        ``project``: maps the sample into the space searched (the pipeline's UMAP of the sample, where the
        clustered space is raw vectors whose distances are all alike)."""
        from sklearn.metrics import pairwise_distances

        start = time.perf_counter()
        k_min, k_max = self.k_range(len(space))
        rows = np.sort(np.random.default_rng(seed).choice(len(space), min(len(space), self.sample_size), replace=False))
        sample = np.asarray(space[rows], dtype=np.float32)  # only the sample is read (space may be memory-mapped)
        # k clusters need k distinct points: beyond them a clusterer returns fewer clusters than asked for,
        # and a pick among those would claim a k the clustering does not have
        distinct = len(np.unique(sample, axis=0))
        note = None
        if distinct == 1:
            note = f"all {len(rows)} documents searched are the same point: one cluster"
            log.warning("clusterer.n_clusters=auto: %s (identical documents?)", note)
            seconds = time.perf_counter() - start
            return KSelection([1], [-1.0], 1, self.criterion, len(rows), k_range=(1, 1), seconds=seconds, note=note)
        if distinct < k_max:
            note = f"k at most {distinct}, the number of distinct points among the {len(rows)} documents searched"
            log.warning("clusterer.n_clusters=auto: %s (k_search.k_max %d)", note, k_max)
            k_min, k_max = min(k_min, distinct), distinct
        if project is not None:
            sample = np.asarray(project(sample), dtype=np.float32)
        grid = k_grid(k_min, k_max, self.steps_per_doubling)
        ks, scores = self._curve(clusterer, sample, pairwise_distances(sample), grid)
        chosen, found, clear = self.pick(ks, scores)
        selection = KSelection(
            ks=ks,
            scores=scores,
            chosen=chosen,
            criterion=self.criterion,
            sample_size=len(rows),
            k_range=(k_min, k_max),
            seconds=time.perf_counter() - start,
            levels={ks[i]: prominence for i, prominence in found.items()},
            clear=clear,
            min_prominence=self.min_prominence,
            note=note,
        )
        log.info(
            "clusterer.n_clusters=auto: k=%s on %d documents, %.1f s",
            selection.describe(),
            len(rows),
            selection.seconds,
        )
        return selection

    def pick(self, ks: list[int], scores: list[float]) -> tuple[int, dict[int, float], bool]:
        """``(chosen k, {index in ks: prominence} of the curve's levels, whether the pick is a clear level)``: the
        finest level of prominence >= ``min_prominence``, else the best silhouette."""
        found = levels(ks, scores)
        clear = [i for i, prominence in found.items() if prominence >= self.min_prominence]
        if clear == [0] and self._nearly_clear_past_k_min(found):
            clear = []  # k_min's one-sided level against a finer one nearly as clear (module docstring)
        return (ks[max(clear)] if clear else ks[int(np.argmax(scores))]), found, bool(clear)

    def stops(self, ks: list[int], scores: list[float]) -> bool:
        """Whether the search ends after the curve so far: ``patience`` doublings of k past its finest level."""
        # half the prominence counts, so that a level still forming past a clear one keeps the search going
        found = [ks[i] for i in self._nearly_clear_past_k_min(levels(ks, scores))]
        return bool(found) and ks[-1] >= max(found) * 2**self.patience

    def _nearly_clear_past_k_min(self, found: dict[int, float]) -> list[int]:
        """The indices of ``found``'s levels above k_min with at least half of ``min_prominence``. k_min's fall to
        one side makes it a level on most curves, so it neither stops the search nor outweighs these."""
        return [i for i, prominence in found.items() if i > 0 and prominence >= self.min_prominence / 2]

    def _curve(
        self, clusterer: Clusterer, sample: np.ndarray, distances: np.ndarray, grid: list[int]
    ) -> tuple[list[int], list[float]]:
        """The silhouette of each k of ``grid`` (the median over the k's fits), stopping ``patience`` doublings past
        the finest clear level. A k whose fits gave fewer clusters than asked for is left out (kept only when every
        k did); a fit that gave fewer is left out of its k's median."""
        ks, scores, short = [], [], []  # short: the fits gave fewer clusters than asked for
        with track(len(grid), "choosing k", "values of k") as progress:
            for k in grid:
                fits = [_silhouette(fit, sample, distances) for fit in self._fits(clusterer, k)]
                progress.update(1)
                whole = [score for found, score in fits if found >= k]
                if not whole:
                    short.append((k, float(np.median([score for _, score in fits]))))
                    continue
                score = float(np.median(whole))
                ks.append(k)
                scores.append(score)
                if self.stops(ks, scores):
                    break
        if not ks:  # no k gave all of its clusters: the curve of what the fits gave
            return [k for k, _ in short], [score for _, score in short]
        return ks, scores


def _silhouette(clusterer: Clusterer, sample: np.ndarray, distances: np.ndarray) -> tuple[int, float]:
    """``(clusters found, silhouette)`` of one fit on the sample (-1 where there is no partition to score)."""
    from sklearn.metrics import silhouette_score

    labels = np.asarray(clusterer.fit(sample).labels_)
    found = len(np.unique(labels))
    if not 1 < found < len(sample):
        return found, -1.0
    return found, float(silhouette_score(distances, labels, metric="precomputed"))
