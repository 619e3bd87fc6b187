"""How stable is ``clusterer.n_clusters=auto``'s k under perturbations that should not matter?

    python benchmarks/k_stability.py                  # writes benchmarks/results/k-stability.md
    python benchmarks/k_stability.py --build-only     # only embed + reduce the corpora (cached)

Each corpus (a seeded random subset of ``--sizes`` documents) is embedded and reduced
once by the default text recipe, the pipeline's own stages (hybrid encoder, then the
``umap_text`` reducer), and the reduced space, the one :class:`KSearch` searches, is
cached as ``.npz`` under ``--work``. On that fixed space the k search runs under
perturbations that should not change its answer:

* ``noise``: Gaussian noise of ``--noise`` (1e-6) times the space's standard deviation
  added to every coordinate (two draws);
* ``fit``: another ``random_state`` for the k search's k-means fits (1 to ``--seeds`` - 1);
* ``umap``: the same relative noise on the embeddings, and the reducer fitted again (two draws): the route of
  the flips seen at 1M texts and with bfloat16 MiniLM;
* ``sample``: another 5,000-document sample (seeds 1, 2; only where the corpus has more).

The silhouette curve of each variant is computed once, by KSearch's own ``_curve``
(k-means, the default clusterer, n_init 10; its grid and early stopping), cached as
JSON, and each pick rule reads it: the one-fit rule as ``KSearch(fits=1).select`` does
(checked against it on the base space), a pooled rule on the median or mean of a few
fits' curves with the early stopping replayed on it (the median of 3 is
``KSearch(fits=3).select``'s own: its pick on the base space is on the page beside it). NMI is
k-means on all the corpus' documents at the chosen k against the labels, which nothing
else sees. Cost: about 25 min on 2 shared cores with nothing cached (encoding and UMAP
included), about 4 min to rewrite the page from the cache (the NMI fits and the package checks).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from corpora import SNIPPETS, STACKOVERFLOW, Corpus, read_lines, read_table
from run import HERE, data_dir

WORK = HERE / "runs" / "k-stability"
OUT = HERE / "results" / "k-stability.md"
SIZES = (2000, 10000)
FEW_STARTS = 3  # k-means starts per fit when fits are pooled: 3 fits x 3 starts ~ one fit's 10 starts


def load_corpora(data: Path) -> list[Corpus]:
    banking = [data / "banking77/train.csv", data / "banking77/test.csv"]
    return [
        Corpus("searchsnippets", *read_lines(data, *SNIPPETS)),
        Corpus("stackoverflow", *read_lines(data, *STACKOVERFLOW)),
        Corpus("banking77", *read_table(banking, "category")),
        Corpus("newsgroups-test", *read_table(data / "20newsgroups/test.csv", "label")),
    ]


def subset(corpus: Corpus, size: int) -> tuple[list[str], np.ndarray]:
    """A seeded random subset (the whole corpus when it is smaller)."""
    if size >= len(corpus.texts):
        return corpus.texts, corpus.labels
    rows = np.sort(np.random.default_rng(0).choice(len(corpus.texts), size, replace=False))
    return [corpus.texts[i] for i in rows], corpus.labels[rows]


def default_stages(texts: list[str]):
    """The default run's own encoder and reducer for these texts (the text recipe) and its dataset."""
    from textcluster.api import Pipeline
    from textcluster.dataset import Dataset

    pipeline = Pipeline.from_config({"cache": False, "topics": None})
    dataset = Dataset.from_documents(texts)
    pipeline._prepare(dataset)  # settles the text recipe: hybrid encoder, umap_text reducer
    return pipeline, dataset


def build_space(corpus: Corpus, size: int, work: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """The space the default run searches k in (cached): ``(reduced, labels, seconds to build)``."""
    texts, labels = subset(corpus, size)
    path = work / f"{corpus.name}-{len(texts)}.npz"
    if path.is_file():
        cached = np.load(path, allow_pickle=True)  # our own file: labels may be an object array of str
        return cached["reduced"], cached["labels"], float(cached["seconds"])
    start = time.perf_counter()
    pipeline, dataset = default_stages(texts)
    embeddings, _ = pipeline._encode(dataset)
    reduced = np.asarray(pipeline.reducer_.fit_transform(embeddings), dtype=np.float32)
    seconds = time.perf_counter() - start
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / f"{corpus.name}-{len(texts)}-embeddings.npy", np.asarray(embeddings, dtype=np.float32))
    np.savez(path, reduced=reduced, labels=np.asarray(labels, dtype=str), seconds=seconds)
    return reduced, labels, seconds


def reduced_after_noise(corpus: Corpus, size: int, draw: int, noise: float, work: Path) -> np.ndarray:
    """The reducer re-fitted on the embeddings plus noise of ``noise`` times their standard deviation: the route of
    the flips seen (a 5e-7 change in UMAP's neighbour distances at 1M texts; bfloat16 against float32 MiniLM)."""
    texts, _ = subset(corpus, size)
    path = work / f"{corpus.name}-{len(texts)}-umapnoise{draw}.npy"
    if path.is_file():
        return np.load(path)
    pipeline, dataset = default_stages(texts)
    source = work / f"{corpus.name}-{len(texts)}-embeddings.npy"
    embeddings = np.load(source) if source.is_file() else pipeline._encode(dataset)[0]
    np.save(source, np.asarray(embeddings, dtype=np.float32))
    jitter = np.random.default_rng(2000 + draw).normal(size=embeddings.shape) * (noise * embeddings.std())
    reduced = np.asarray(pipeline.reducer_.fit_transform((embeddings + jitter).astype(np.float32)), dtype=np.float32)
    np.save(path, reduced)
    return reduced


def spaces(args) -> list[tuple[Corpus, int, np.ndarray, np.ndarray]]:
    found = []
    for corpus in load_corpora(data_dir()):
        if args.only and corpus.name not in args.only:
            continue
        for size in sorted({min(size, len(corpus.texts)) for size in args.sizes}):
            reduced, labels, seconds = build_space(corpus, size, args.work)
            print(f"{corpus.name}-{size}: {reduced.shape} built in {seconds:.0f} s", flush=True)
            found.append((corpus, size, reduced, labels))
    return found


@dataclass(frozen=True)
class Variant:
    """One perturbation of the base search: noise draw on the searched space (0: none), sample seed, k-means seed
    of the k search, noise draw on the embeddings before the reducer (0: none)."""

    noise: int = 0
    sample: int = 0
    fit: int = 0
    umap: int = 0
    n_init: int = 10  # k-means starts per fit (the default clusterer's 10)

    @property
    def key(self) -> str:
        key = f"noise{self.noise}-sample{self.sample}-fit{self.fit}" + (f"-umap{self.umap}" if self.umap else "")
        return key + (f"-init{self.n_init}" if self.n_init != 10 else "")


def searched(space: np.ndarray, variant: Variant, noise: float, sample_size: int) -> np.ndarray:
    """The sample the k search fits, as KSearch.select draws it, after the variant's noise."""
    if variant.noise:
        jitter = np.random.default_rng(1000 + variant.noise).normal(size=space.shape) * (noise * space.std())
        space = (space + jitter).astype(np.float32)
    rows = np.sort(
        np.random.default_rng(variant.sample).choice(len(space), min(len(space), sample_size), replace=False)
    )
    return np.asarray(space[rows], dtype=np.float32)


def curve(space: np.ndarray, variant: Variant, args, cache: Path) -> dict:
    """The silhouette curve KSearch computes for ``variant`` (its own grid and early stopping), cached."""
    from sklearn.metrics import pairwise_distances

    from textcluster.clusterers.builtin import KMeansClusterer
    from textcluster.clusterers.k_selection import KSearch, k_grid

    path = cache / f"{variant.key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    search = KSearch(fits=1)  # one fit per curve: the rules pool the curves themselves
    sample = searched(space, variant, args.noise, search.sample_size)
    k_min, k_max = search.k_range(len(space))
    start = time.perf_counter()
    clusterer = KMeansClusterer(n_clusters=k_min, random_state=variant.fit, n_init=variant.n_init)
    ks, scores = search._curve(
        clusterer, sample, pairwise_distances(sample), k_grid(k_min, k_max, search.steps_per_doubling)
    )
    found = {"ks": ks, "scores": scores, "seconds": time.perf_counter() - start}
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(found))
    return found


def variants(n: int, sample_size: int, fits: int, seeds: int) -> list[Variant]:
    """Every curve measured on a space: each perturbation at ``fits`` k-means seeds (a pooled rule's pool), the
    base at ``seeds`` seeds (the fit-seed perturbation, and several pools)."""
    bases = [Variant(), Variant(noise=1), Variant(noise=2), Variant(umap=1), Variant(umap=2)]
    if n > sample_size:
        bases += [Variant(sample=1), Variant(sample=2)]
    found = [Variant(b.noise, b.sample, fit, b.umap) for b in bases for fit in range(fits)]
    found += [Variant(fit=fit) for fit in range(fits, seeds)]
    # the same fits with fewer starts each: the pooled rules at about one fit's k-means cost
    found += [Variant(v.noise, v.sample, v.fit, v.umap, FEW_STARTS) for v in found if not v.noise]
    return found


def measure(corpus: Corpus, size: int, space: np.ndarray, args) -> dict[str, dict]:
    from textcluster.clusterers.k_selection import KSearch

    name = corpus.name
    cache = args.work / "curves" / f"{name}-{size}"
    curves = {}
    for variant in variants(len(space), KSearch().sample_size, args.fits, args.seeds):
        searched_space = (
            space if not variant.umap else reduced_after_noise(corpus, size, variant.umap, args.noise, args.work)
        )
        curves[variant.key] = curve(searched_space, variant, args, cache)
        print(
            f"  {name}-{size} {variant.key}: {len(curves[variant.key]['ks'])} k, "
            f"{curves[variant.key]['seconds']:.1f} s",
            flush=True,
        )
    return curves


# ------------------------------------------------------------------------------------------------ pick rules
# A rule reads the curves of one draw (one fit, or a pool of fits) and returns (k, {level k: prominence}).

VIEWS = {  # the one-fit rule's columns: the variant whose curve it reads
    "base": Variant(),
    "noise 1": Variant(noise=1),
    "noise 2": Variant(noise=2),
    "umap 1": Variant(umap=1),
    "umap 2": Variant(umap=2),
    "fit 1": Variant(fit=1),
    "fit 2": Variant(fit=2),
    "sample 1": Variant(sample=1),
    "sample 2": Variant(sample=2),
}


def stop(ks: list[int], scores: list[float]) -> int:
    """How much of the curve the search reads: KSearch's early stopping replayed on its prefixes."""
    from textcluster.clusterers.k_selection import KSearch

    search = KSearch()
    return next((j + 1 for j in range(len(ks)) if search.stops(ks[: j + 1], scores[: j + 1])), len(ks))


def finest_clear(ks: list[int], scores: list[float]) -> tuple[int, dict[int, float]]:
    """KSearch.select's pick on a curve, and the curve's levels (k: prominence)."""
    from textcluster.clusterers.k_selection import KSearch

    chosen, found, _ = KSearch().pick(ks, scores)
    return chosen, {ks[i]: p for i, p in found.items()}


def pooled(curves: list[dict], statistic) -> tuple[list[int], list[float]]:
    """``statistic`` of the fits' silhouettes at each k all of them reached, then the early stopping on it."""
    common = [k for k in curves[0]["ks"] if all(k in c["ks"] for c in curves)]
    common = common[: min(len(c["ks"]) for c in curves)]
    scores = [float(statistic([c["scores"][c["ks"].index(k)] for c in curves])) for k in common]
    end = stop(common, scores)
    return common[:end], scores[:end]


def smoothed(scores: list[float]) -> list[float]:
    """Each score averaged with its grid neighbours (one each side; the ends with their one neighbour)."""
    values = np.asarray(scores)
    return [float(values[max(0, i - 1) : i + 2].mean()) for i in range(len(values))]


@dataclass(frozen=True)
class Rule:
    name: str
    pool: bool  # reads a pool of ``--fits`` fits (else one fit's curve)
    n_init: int  # k-means starts per fit
    read: object  # curves -> (k, levels)
    cost: str  # k-means starts and silhouettes per k, against one fit's 10 and 1
    package_fits: int | None = None  # KSearch(fits=...) searches the same way: its pick on the base is shown


RULES = [
    Rule("one fit (before)", False, 10, lambda cs: finest_clear(cs[0]["ks"], cs[0]["scores"]), "1x", 1),
    Rule(
        "one fit, curve smoothed over neighbouring k",
        False,
        10,
        lambda cs: finest_clear(cs[0]["ks"], smoothed(cs[0]["scores"])),
        "1x",
    ),
    Rule("mean of 3 fits", True, 10, lambda cs: finest_clear(*pooled(cs, np.mean)), "3x"),
    Rule("median of 3 fits", True, 10, lambda cs: finest_clear(*pooled(cs, np.median)), "3x", 3),
    Rule(
        "median of 3 fits of 3 starts",
        True,
        FEW_STARTS,
        lambda cs: finest_clear(*pooled(cs, np.median)),
        "~1x starts, 3x silhouettes",
    ),
]


def draws(curves: dict, rule: Rule, fits: int, seeds: int) -> list[list[dict]]:
    """The re-runs a rule is judged on, each one search under a perturbation that should not matter: every k-means
    seed of the base, and the first ``fits`` seeds of each noise draw on the searched space, each re-fitted reducer
    and each other sample. A pooled rule reads the seeds in pools of ``fits``."""
    groups = [[Variant(fit=f) for f in range(seeds)]]
    groups += [[Variant(noise=n, fit=f) for f in range(fits)] for n in (1, 2)]
    groups += [[Variant(umap=u, fit=f) for f in range(fits)] for u in (1, 2)]
    groups += [[Variant(sample=s, fit=f) for f in range(fits)] for s in (1, 2)]
    found = []
    for group in groups:
        group = [Variant(v.noise, v.sample, v.fit, v.umap, rule.n_init) for v in group]
        group = [v for v in group if v.key in curves]  # the seeds measured (``--seeds`` may have grown since)
        chunks = [group[i : i + fits] for i in range(0, len(group), fits)] if rule.pool else [[v] for v in group]
        found += [[curves[v.key] for v in chunk] for chunk in chunks if len(chunk) == len(chunks[0])]
    return found


def nmi_at(name: str, space: np.ndarray, labels: np.ndarray, k: int, work: Path) -> float:
    """NMI of k-means (the default clusterer, seed 0) on every document of the space at k, against the labels."""
    from sklearn.metrics import normalized_mutual_info_score

    from textcluster.clusterers.builtin import KMeansClusterer

    path = work / "nmi" / f"{name}.json"
    known = json.loads(path.read_text()) if path.is_file() else {}
    if str(k) not in known:
        found = np.asarray(KMeansClusterer(n_clusters=k, random_state=0).fit(space).labels_)
        known[str(k)] = float(normalized_mutual_info_score(labels, found))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known))
    return known[str(k)]


# ------------------------------------------------------------------------------------------------ the page


def level_text(pick: tuple[int, dict[int, float]]) -> str:
    return ", ".join(f"{k}: {p:.3f}" for k, p in sorted(pick[1].items()))


def fit_spread(curves: dict, seeds: int) -> tuple[float, float]:
    """Median and largest standard deviation, over k, of the silhouette across the base's k-means seeds."""
    group = [curves[Variant(fit=i).key] for i in range(seeds) if Variant(fit=i).key in curves]
    ks = [k for k in group[0]["ks"] if all(k in c["ks"] for c in group)]
    spread = [float(np.std([c["scores"][c["ks"].index(k)] for c in group])) for k in ks]
    return float(np.median(spread)), float(np.max(spread))


def package_pick(space: np.ndarray, fits: int) -> int:
    """KSearch.select's own pick on the base space (seed 0 for the sample and the first fit) with ``fits`` fits."""
    from textcluster.clusterers.builtin import KMeansClusterer
    from textcluster.clusterers.k_selection import KSearch

    return KSearch(fits=fits).select(KMeansClusterer(n_clusters=2, random_state=0), space, seed=0).chosen


def one_fit_table(found, measured: dict, args) -> list[str]:
    """The one-fit rule's pick under each perturbation, with the levels it read and the NMI at the pick."""
    lines = [
        "| space | classes | " + " | ".join(VIEWS) + " | NMI at the picks |",
        "| --- | --- | " + " | ".join("---" for _ in VIEWS) + " | --- |",
    ]
    details = ["| space | view | pick | levels (k: prominence) |", "| --- | --- | --- | --- |"]
    for corpus, size, space, labels in found:
        name, curves = f"{corpus.name}-{size}", measured[f"{corpus.name}-{size}"]
        picks = {view: RULES[0].read([curves[v.key]]) for view, v in VIEWS.items() if v.key in curves}
        if package_pick(space, 1) != picks["base"][0]:
            raise SystemExit(f"{name}: the replayed single-fit rule is not KSearch.select's (fits=1)")
        nmi = {k: nmi_at(name, space, labels, k, args.work) for k in sorted({pick[0] for pick in picks.values()})}
        cells = [str(picks[view][0]) if view in picks else "" for view in VIEWS]
        nmis = ", ".join(f"{k}: {v:.3f}" for k, v in nmi.items())
        lines.append(f"| {name} | {corpus.true_k} | " + " | ".join(cells) + f" | {nmis} |")
        details += [f"| {name} | {view} | {pick[0]} | {level_text(pick)} |" for view, pick in picks.items()]
    return lines + ["", *details]


def rule_table(found, measured: dict, args) -> list[str]:
    """Each rule over its draws: how often the pick stays put, lands in 0.5x-2x of the classes, and its NMI."""
    lines = [
        "| space | classes | rule | cost | picks over the draws | within 1.5x of the commonest | 0.5x-2x of "
        "the classes | NMI mean (min) | search s (median) | KSearch.select on the base |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for corpus, size, space, labels in found:
        name, curves = f"{corpus.name}-{size}", measured[f"{corpus.name}-{size}"]
        for rule in RULES:
            runs = draws(curves, rule, args.fits, args.seeds)
            picks = [rule.read(draw)[0] for draw in runs]
            seconds = np.median([sum(c["seconds"] for c in draw) for draw in runs]) if runs else 0.0
            if not picks:
                continue
            mode = max(set(picks), key=picks.count)
            near = sum(mode / 1.5 <= k <= mode * 1.5 for k in picks)
            fits = sum(corpus.true_k / 2 <= k <= corpus.true_k * 2 for k in picks)
            nmis = [nmi_at(name, space, labels, k, args.work) for k in picks]
            lines.append(
                f"| {name} | {corpus.true_k} | {rule.name} | {rule.cost} | {' '.join(map(str, picks))} | "
                f"{near}/{len(picks)} | {fits}/{len(picks)} | {np.mean(nmis):.3f} ({min(nmis):.3f}) | {seconds:.1f} | "
                + ("" if rule.package_fits is None else str(package_pick(space, rule.package_fits)))
                + " |"
            )
    return lines


def write_page(found, measured: dict, args) -> None:
    lines = [
        "# Stability of `clusterer.n_clusters=auto`: the chosen k under perturbations that should not matter",
        "",
        "`python benchmarks/k_stability.py` (the curves, encoding and UMAP about 25 min; this page from the "
        "cached curves about 4 min: the NMI fits and the package's own searches; 2 shared CPU cores, two "
        "processes at once; seed 0). Each corpus is "
        "a seeded random subset, embedded and reduced once by the default text recipe "
        "(hybrid encoder, `umap_text`): the space KSearch searches. On it the k search (k-means with the "
        "default 10 starts, silhouette on a 5,000-document sample, KSearch's grid and early stopping) runs "
        f"again with: `noise i` Gaussian noise of {args.noise:g} x the space's standard deviation added to "
        "the searched space; `umap i` the same relative noise added to the embeddings and the reducer fitted "
        "again (the route of the flips seen at 1M texts and with bfloat16 MiniLM); `fit i` another k-means "
        "seed for the search's fits; `sample i` another 5,000-document sample (only where there are more). "
        "NMI: k-means (seed 0) on all documents of the base space at that k, against the labels. The base "
        "pick is checked against `KSearch(fits=1).select`'s own.",
        "",
        "## One fit per k (the search before `k_search.fits`) under each perturbation",
        "",
        *one_fit_table(found, measured, args),
        "",
        "## How noisy the curve is: the silhouette's spread over the search's k-means seeds",
        "",
        f"Standard deviation of the silhouette at each k over {args.seeds} k-means seeds (base space and "
        "sample), median and largest over k, beside `min_prominence` (0.03).",
        "",
        "| space | median sd | largest sd |",
        "| --- | --- | --- |",
    ]
    for name, curves in measured.items():
        median, largest = fit_spread(curves, args.seeds)
        lines.append(f"| {name} | {median:.4f} | {largest:.4f} |")
    lines += [
        "",
        "## Stabilisations tried, each over its draws",
        "",
        f"Draws: every k-means seed of the base ({args.seeds}), and {args.fits} seeds of each noise draw, "
        "each re-fitted reducer and each other sample; a pooled rule reads them in pools of "
        f"{args.fits} (so it has a third as many draws). `within 1.5x`: picks within a factor 1.5 of the "
        "commonest pick (a move along one peak, not to another level). Search seconds: the fits' curves "
        "summed (two processes on 2 shared cores). The last column: `KSearch(fits=1 or 3).select` on the base "
        "space, the package's own search (median of 3 fits: `k_search.fits`, 3 by default).",
        "",
        *rule_table(found, measured, args),
    ]
    notes = ""
    if args.out.is_file() and NOTES_MARKER in args.out.read_text():
        notes = args.out.read_text().split(NOTES_MARKER, 1)[1]
    args.out.write_text("\n".join(lines) + "\n\n" + NOTES_MARKER + notes)


NOTES_MARKER = "<!-- written by hand below: kept when the tables are rewritten -->"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--only", nargs="+", help="corpus names")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--noise", type=float, default=1e-6)
    parser.add_argument("--fits", type=int, default=3, help="k-means seeds averaged by the averaged rule")
    parser.add_argument("--seeds", type=int, default=12, help="k-means seeds of the k search on the base space")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--curves-only", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    found = spaces(args)
    if args.build_only:
        return
    measured = {f"{corpus.name}-{size}": measure(corpus, size, space, args) for corpus, size, space, _ in found}
    if args.curves_only:
        return
    write_page(found, measured, args)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
