"""Reducers and HDBSCAN at a million documents: sampled UMAP, PCA solvers, HDBSCAN backends.

    python benchmarks/reducers_hdbscan_scale.py prepare           # MiniLM vectors under /tmp (once, ~5 min)
    python benchmarks/reducers_hdbscan_scale.py all               # every measurement; writes the .md
    python benchmarks/reducers_hdbscan_scale.py all --quick       # small sizes, minutes
    python benchmarks/reducers_hdbscan_scale.py umap|pca|hdbscan  # one part (results kept in --work)

Real vectors: all-MiniLM-L6-v2 (textcluster's ``encoder=pretrained``) of 50,000
25-word chunks of 20 Newsgroups posts (label: the post's group) and of the
20,000 StackOverflow titles. Sizes beyond 50,000 tile the chunks with small
Gaussian jitter (sd 0.01 per coordinate, then L2-normalised again), stored as
a float32 .npy and read memory-mapped, as ``data=embeddings`` reads it.

Every measurement is its own child process (``cell``), so its wall time is
the stage alone and its peak memory (max RSS) is that process'; ``base_mb``
is the RSS after imports and before the stage.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORK = Path("/tmp/textcluster-scale")
RESULTS = HERE / "results" / "reducers-hdbscan-scale.md"
CHUNK_WORDS, N_CHUNKS, JITTER = 25, 50_000, 0.01


def data_dir() -> Path:
    return Path(os.environ.get("TEXTCLUSTER_DATA_DIR", HERE.parent.parent / "shared" / "data")).resolve()


# ----------------------------------------------------------------------------------------- vectors


def newsgroup_chunks(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` 25-word chunks (a seeded sample of all full chunks) of the 18,821 posts, with their group."""
    import pandas as pd

    posts = pd.concat([pd.read_csv(data_dir() / "20newsgroups" / f"{part}.csv") for part in ("train", "test")])
    chunks, labels = [], []
    for text, label in zip(posts["text"].fillna("").astype(str), posts["label"]):
        words = text.split()
        for start in range(0, len(words) - CHUNK_WORDS + 1, CHUNK_WORDS):
            chunks.append(" ".join(words[start : start + CHUNK_WORDS]))
            labels.append(label)
    chosen = np.sort(np.random.default_rng(seed).choice(len(chunks), size=n, replace=False))
    names = np.unique(labels, return_inverse=True)[1]
    return [chunks[i] for i in chosen], names[chosen]


def stackoverflow_titles() -> tuple[list[str], np.ndarray]:
    folder = data_dir() / "stackoverflow"
    texts = (folder / "StackOverflow.txt").read_text(encoding="utf-8-sig").splitlines()
    return texts, np.array((folder / "StackOverflow_gnd.txt").read_text().split(), dtype=int)


def encode(texts: list[str]) -> np.ndarray:
    from textcluster.encoders.pretrained import PretrainedEncoder

    return PretrainedEncoder(max_length=64, batch_size=128, device="cpu").embed_texts(texts)


def prepare(work: Path, quick: bool = False) -> None:
    """Encode the corpora once (the slow part), keep vectors and labels under ``work``; quick: StackOverflow."""
    work.mkdir(parents=True, exist_ok=True)
    corpora = (("stackoverflow", stackoverflow_titles), ("newsgroups", lambda: newsgroup_chunks(N_CHUNKS)))
    for name, load in corpora[:1] if quick else corpora:
        if (work / f"{name}.npy").exists():
            continue
        texts, labels = load()
        start = time.perf_counter()
        vectors = encode(texts)
        print(f"{name}: {len(texts)} texts encoded in {time.perf_counter() - start:.0f} s", flush=True)
        np.save(work / f"{name}.npy", vectors.astype(np.float32))
        np.save(work / f"{name}-labels.npy", labels)


def tiled(work: Path, n: int, corpus: str = "newsgroups") -> Path:
    """A corpus' vectors tiled to ``n`` rows with jitter, as a .npy for memory-mapping (written once)."""
    path = work / f"{corpus}-tiled-{n}.npy"
    if path.exists():
        return path
    base = np.load(work / f"{corpus}.npy")
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, base.shape[1]))
    rng = np.random.default_rng(0)
    for start in range(0, n, len(base)):
        rows = min(len(base), n - start)
        block = base[:rows] + rng.normal(scale=JITTER, size=(rows, base.shape[1])).astype(np.float32)
        out[start : start + rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    out.flush()
    return path


# ----------------------------------------------------------------------------------------- cells (child processes)


class Memory:
    """Peak anonymous RSS (the heap, not the pages of a memory-mapped input), sampled every 50 ms."""

    def __init__(self):
        import threading

        self.peak, self.running = self.anon_mb(), True
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    @staticmethod
    def anon_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def _watch(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.anon_mb())
            time.sleep(0.05)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return max(self.peak, self.anon_mb())


def measured(stage, *args) -> tuple[object, dict]:
    """``stage(*args)`` with its wall time, the heap before it, its peak heap, the process' max RSS and the
    machine's load average when it started (other processes share the 2 cores)."""
    load = os.getloadavg()[0]
    base = Memory.anon_mb()
    memory = Memory()
    start = time.perf_counter()
    result = stage(*args)
    wall = time.perf_counter() - start
    peak = memory.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result, {"wall_s": wall, "base_mb": base, "peak_mb": peak, "max_rss_mb": max_rss, "load": load}


def warm_up(build, X: np.ndarray) -> float:
    """Run a stage once on 5,000 rows so numba's compilation (once per process) stays out of the timing
    (5,000: UMAP searches neighbours with pynndescent from 4,096 points on, another compilation)."""
    start = time.perf_counter()
    stage = build()
    rows = np.random.default_rng(1).choice(len(X), size=min(len(X), 5_000), replace=False)
    sample = np.asarray(X[np.sort(rows)])
    (stage.fit_transform if hasattr(stage, "fit_transform") else stage.fit)(sample)
    if hasattr(stage, "transform"):
        stage.transform(sample[:200] + 0.01)
    else:
        stage.predict_scores(sample[:200])
    return time.perf_counter() - start


def vectors(path: str, n: int) -> np.ndarray:
    """The first ``n`` rows of a .npy, memory-mapped (as ``data=embeddings`` reads it)."""
    return np.load(path, mmap_mode="r")[:n]


def cell_umap(args) -> dict:
    from textcluster import registry

    X = vectors(args.input, args.n)
    config = {"name": "umap", "n_components": 10, "n_neighbors": 30, "min_dist": 0.0, "metric": "cosine"}
    build = lambda: registry.reducers.build({**config, "fit_size": args.fit_size}, random_state=args.seed)
    compile_s = warm_up(build, X)
    reducer = build()
    embedding, record = measured(reducer.fit_transform, X)
    np.save(args.output, embedding)
    return {**record, "warm_up_s": compile_s, "training_points": len(reducer.get_state()["training_points"])}


def cell_pca(args) -> dict:
    from textcluster import registry

    X = vectors(args.input, args.n)
    if args.solver == "sklearn-ipca":  # the rejected alternative: scikit-learn's IncrementalPCA, same batches
        from sklearn.decomposition import IncrementalPCA

        model = IncrementalPCA(n_components=10, batch_size=10_000)
        _, record = measured(lambda: (model.fit(X), model.transform(X)))
        np.save(args.output, model.components_)
        return {**record, "explained": float(model.explained_variance_ratio_.sum())}
    reducer = registry.reducers.build({"name": "pca", "n_components": 10, "svd_solver": args.solver}, random_state=0)
    reduced, record = measured(reducer.fit_transform, X)
    np.save(args.output, reducer.get_state()["components_"])
    return {**record, "explained": float(reducer.get_state()["explained_variance_ratio_"].sum())}


def library_reference(backend: str, X: np.ndarray) -> np.ndarray:
    """The libraries called directly (fit only): hdbscan with its exact minimum spanning tree (its default,
    approx_min_span_tree=True, is what backend=hdbscan runs), fast_hdbscan without its reproducible order."""
    import fast_hdbscan
    import hdbscan

    from textcluster.clusterers.builtin import HDBSCANClusterer

    size = HDBSCANClusterer().resolved_min_cluster_size(len(X))
    if backend == "hdbscan-exact":
        return hdbscan.HDBSCAN(min_cluster_size=size, approx_min_span_tree=False).fit(X).labels_
    return fast_hdbscan.HDBSCAN(min_cluster_size=size, reproducible=False).fit(X).labels_


def cell_hdbscan(args) -> dict:
    from textcluster import registry

    X = np.load(args.input)[: args.n]
    if args.backend in ("hdbscan-exact", "fast-parallel"):
        library_reference(args.backend, X[:5_000].astype(np.float64))  # numba's compilation, outside the timing
        labels, record = measured(library_reference, args.backend, X.astype(np.float64))
        np.save(args.output, labels)
        return {**record, "n_clusters": int(len(set(labels.tolist()) - {-1})), "noise": float((labels == -1).mean())}
    config = {"name": "hdbscan", "backend": args.backend, "fit_size": args.fit_size}
    build = lambda: registry.clusterers.build(config, random_state=0)
    compile_s = warm_up(build, X)
    clusterer = build()
    _, record = measured(clusterer.fit, X)
    record["warm_up_s"] = compile_s
    labels = clusterer.labels_
    np.save(args.output, labels)
    n_clusters = int(len(set(labels.tolist()) - {-1}))
    result = {**record, "n_clusters": n_clusters, "noise": float((labels == -1).mean())}
    if args.soft:
        _, soft = measured(clusterer.soft_membership)
        result.update(soft_s=soft["wall_s"], soft_peak_mb=soft["peak_mb"])
    _, predict = measured(clusterer.predict_scores, X[:10_000])
    return {**result, "predict_10k_s": predict["wall_s"]}


CELLS = {"umap": cell_umap, "pca": cell_pca, "hdbscan": cell_hdbscan}


def run_cell(kind: str, timeout: float, **options) -> dict:
    """One measurement in its own process; ``{"failed": reason}`` when it fails or runs past ``timeout``."""
    command = [sys.executable, __file__, "cell", kind]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)] if value is not True else [f"--{key}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failed": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        return {"failed": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"rc {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------- studies


class Study:
    """The cells of one run, kept in ``<work>/results.json`` so a part can be rerun alone."""

    def __init__(self, work: Path, quick: bool, timeout: float):
        self.work, self.quick, self.timeout = work, quick, timeout
        self.base = "stackoverflow" if quick else "newsgroups"  # the corpus tiled to the large sizes
        self.path = work / ("results-quick.json" if quick else "results.json")
        self.results = json.loads(self.path.read_text()) if self.path.exists() else {}

    def cell(self, name: str, kind: str, **options) -> dict:
        if name in self.results and "failed" not in self.results[name]:
            return self.results[name]
        print(f"{name} ...", flush=True)
        result = run_cell(kind, self.timeout, **options)
        print(f"  {result}", flush=True)
        self.results[name] = result
        self.path.write_text(json.dumps(self.results, indent=1))
        return result

    def file(self, name: str) -> str:
        return str(self.work / f"{name}.npy")


def kmeans_scores(embedding: np.ndarray, labels: np.ndarray, k: int = 20) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=3, random_state=0).fit(embedding).labels_


def umap_study(study: Study) -> None:
    """Sampled vs full UMAP fits: agreement where both fit, time and memory where only one does."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    corpora = {"stackoverflow": (20_000, [5_000, 10_000]), "newsgroups": (50_000, [10_000, 25_000])}
    if study.quick:
        corpora = {"stackoverflow": (5_000, [2_000])}
    for corpus, (n, fit_sizes) in corpora.items():
        truth = np.load(study.work / f"{corpus}-labels.npy")[:n]
        routes = {}
        for fit_size, seed in [(None, 0), (None, 1), *((size, 0) for size in fit_sizes)]:
            name = f"umap-{corpus}-{n}-fit{fit_size or 'all'}" + ("-seed1" if seed else "")
            options = {"input": study.file(corpus), "n": n, "fit_size": fit_size or "none", "seed": seed}
            study.cell(name, "umap", **options, output=study.file(name))
            if Path(study.file(name)).exists():
                routes[name] = kmeans_scores(np.load(study.file(name)), truth)
        full = f"umap-{corpus}-{n}-fitall"  # seed1: the same full fit with another seed, the spread to compare to
        for name, labels in routes.items():
            study.results[name]["kmeans20_nmi"] = normalized_mutual_info_score(truth, labels)
            if full in routes:
                study.results[name]["kmeans20_ari_vs_full"] = adjusted_rand_score(routes[full], labels)
    sizes = [(20_000, [None, 5_000])] if study.quick else [(100_000, [None, 50_000]), (1_000_000, [50_000])]
    for n, fit_sizes in sizes:
        source = tiled(study.work, n, study.base)
        for fit_size in fit_sizes:
            name = f"umap-tiled-{n}-fit{fit_size or 'all'}"
            study.cell(name, "umap", input=source, n=n, fit_size=fit_size or "none", output=study.file(name))
    study.path.write_text(json.dumps(study.results, indent=1))


def pca_study(study: Study) -> None:
    n = 20_000 if study.quick else 1_000_000
    source = tiled(study.work, n, study.base)
    solvers = ("auto", "full", "randomized", "incremental", "sklearn-ipca")
    for solver in solvers:
        name = f"pca-tiled-{n}-{solver}"
        study.cell(name, "pca", input=source, n=n, solver=solver, output=study.file(name))
    reference = np.load(study.file(f"pca-tiled-{n}-auto"))
    for solver in solvers[1:]:
        name = f"pca-tiled-{n}-{solver}"
        if Path(study.file(name)).exists():  # cosines of the principal angles between the two 10-d subspaces
            angles = np.linalg.svd(reference @ np.load(study.file(name)).T, compute_uv=False)
            study.results[name]["subspace_min_cos"] = float(angles.min())
    study.path.write_text(json.dumps(study.results, indent=1))


HDBSCAN_INPUTS = {  # label: (UMAP output, corpus of its true labels, rows)
    "stackoverflow-20000": ("umap-stackoverflow-20000-fitall", "stackoverflow", 20_000),
    "newsgroups-50000": ("umap-newsgroups-50000-fitall", "newsgroups", 50_000),
    "tiled-100000": ("umap-tiled-100000-fit50000", "newsgroups", 100_000),
    "tiled-1000000": ("umap-tiled-1000000-fit50000", "newsgroups", 1_000_000),
}
REFERENCES = [("hdbscan-exact", None), ("fast-parallel", None)]
HDBSCAN_CELLS = {  # label: [(backend, fit_size), ...]; at 1M a fit on all points needs n x min_samples = 5e9 neighbours
    "stackoverflow-20000": [("hdbscan", None), ("fast", None), ("hdbscan", 10_000), ("fast", 10_000), *REFERENCES],
    "newsgroups-50000": [("hdbscan", None), ("fast", None), ("hdbscan", 20_000), ("fast", 20_000), *REFERENCES],
    "tiled-100000": [("hdbscan", None), ("fast", None), ("hdbscan", 50_000), ("fast", 50_000), *REFERENCES],
    "tiled-1000000": [("hdbscan", 50_000), ("fast", 50_000)],
}


def hdbscan_study(study: Study) -> None:
    """Both backends, on all points and on a sample, on the recipe's UMAP output (10-d): time, memory, agreement."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    inputs, cells = HDBSCAN_INPUTS, HDBSCAN_CELLS
    if study.quick:
        inputs = {"stackoverflow-5000": ("umap-stackoverflow-5000-fitall", "stackoverflow", 5_000)}
        cells = {"stackoverflow-5000": [("hdbscan", None), ("fast", None), ("fast", 2_000)]}
    for label, (source, corpus, n) in inputs.items():
        if not Path(study.file(source)).exists():
            print(f"skipping {label}: run the umap part first ({source}.npy)")
            continue
        truth = np.resize(np.load(study.work / f"{corpus}-labels.npy"), n)  # tiled rows repeat the labels
        found = {}
        for backend, fit_size in cells[label]:
            name = f"hdbscan-{label}-{backend}-fit{fit_size or 'all'}"
            options = {"input": study.file(source), "n": n, "backend": backend, "fit_size": fit_size or "none"}
            study.cell(name, "hdbscan", **options, soft=True, output=study.file(name))
            if Path(study.file(name)).exists():
                found[backend, fit_size] = np.load(study.file(name))
                study.results[name]["nmi"] = normalized_mutual_info_score(truth, found[backend, fit_size])
        names = {key: f"{key[0]}-fit{key[1] or 'all'}" for key in found}
        study.results[f"ari-{label}"] = {  # every pair of cells on this input
            names[a]: {names[b]: adjusted_rand_score(found[a], found[b]) for b in found} for a in found
        }
    study.path.write_text(json.dumps(study.results, indent=1))


# ----------------------------------------------------------------------------------------- tables


def number(value, digits: int = 0) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) else str(value)


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def umap_tables(results: dict) -> str:
    rows = []
    for name, cell in results.items():
        if name.startswith("umap-") and "wall_s" in cell:
            _, corpus, n, route, *seed = name.split("-")
            rows.append(
                [
                    corpus,
                    number(int(n)),
                    route.replace("fit", "fit_size=").replace("=all", "=null") + (" (seed 1)" if seed else ""),
                    number(cell["wall_s"]),
                    number(cell["peak_mb"]),
                    number(cell.get("kmeans20_nmi"), 3),
                    number(cell.get("kmeans20_ari_vs_full"), 3),
                    number(cell["load"], 1),
                ]
            )
    header = ["corpus", "n", "route", "fit+transform s", "peak heap MB", "k-means NMI", "ARI vs full", "load"]
    return markdown(header, rows)


def pca_table(results: dict) -> str:
    rows = [
        [
            name.split("-", 3)[3],
            number(cell["wall_s"]),
            number(cell["peak_mb"]),
            number(cell["explained"], 4),
            number(cell.get("subspace_min_cos"), 3),
            number(cell["load"], 1),
        ]
        for name, cell in results.items()
        if name.startswith("pca-") and "wall_s" in cell
    ]
    header = ["svd_solver", "fit+transform s", "peak heap MB", "explained (10 comp.)", "min cos vs auto", "load"]
    return markdown(header, rows)


def hdbscan_table(results: dict) -> str:
    rows = []
    for name, cell in results.items():
        if not name.startswith("hdbscan-") or "wall_s" not in cell:
            continue
        parts = name.split("-")  # hdbscan-<corpus>-<n>-<backend>-fit<size>; a backend may hold a dash
        corpus, n, backend, route = parts[1], parts[2], "-".join(parts[3:-1]), parts[-1]
        ari = results.get(f"ari-{corpus}-{n}", {}).get(f"{backend}-{route}", {})
        rows.append(
            [
                f"{corpus} {number(int(n))}",
                backend,
                route.replace("fit", "").replace("all", "null"),
                number(cell["wall_s"], 1),
                number(cell["peak_mb"]),
                str(cell["n_clusters"]),
                number(cell["noise"], 3),
                number(cell.get("nmi"), 3),
                number(ari.get("hdbscan-exact-fitall"), 3),
                number(ari.get(f"{backend}-fitall"), 3) if route != "fitall" else "",
                number(cell.get("soft_s"), 1),
                number(cell.get("predict_10k_s"), 2),
                number(cell["load"], 1),
            ]
        )
    header = [
        "input",
        "backend",
        "fit_size",
        "fit s",
        "peak heap MB",
        "clusters",
        "noise",
        "NMI",
        "ARI vs exact MST",
        "ARI vs all points",
        "soft s",
        "predict 10k s",
        "load",
    ]
    return markdown(header, rows)


def write_tables(study: Study) -> Path:
    path = study.work / ("tables-quick.md" if study.quick else "tables.md")
    parts = [umap_tables(study.results), pca_table(study.results), hdbscan_table(study.results)]
    path.write_text("\n\n".join(parts) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="part", required=True)
    for part in ("prepare", "umap", "pca", "hdbscan", "all", "tables"):
        command = sub.add_parser(part)
        command.add_argument("--work", type=Path, default=WORK)
        command.add_argument("--quick", action="store_true", help="small sizes (minutes)")
        command.add_argument("--timeout", type=float, default=3600, help="seconds per measurement")
    cell = sub.add_parser("cell")
    cell.add_argument("kind", choices=sorted(CELLS))
    for option in ("input", "output", "solver", "backend"):
        cell.add_argument(f"--{option}")
    cell.add_argument("--n", type=int)
    cell.add_argument("--fit-size", type=lambda v: None if v == "none" else int(v))
    cell.add_argument("--soft", action="store_true")
    cell.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.part == "cell":
        print(json.dumps(CELLS[args.kind](args)))
        return
    prepare(args.work, args.quick)
    study = Study(args.work, args.quick, args.timeout)
    parts = {"umap": umap_study, "pca": pca_study, "hdbscan": hdbscan_study}
    for part in parts if args.part == "all" else [args.part] if args.part in parts else []:
        parts[part](study)
    print(f"tables: {write_tables(study)}")


if __name__ == "__main__":
    main()
