"""Scale: wall time and peak memory per stage from 10,000 to 1,000,000 documents, k-means side by side.

    python benchmarks/scale.py corpus    # 20 Newsgroups in 25-word chunks (~209k texts), end to end
    python benchmarks/scale.py kmeans    # 1M x 384: faiss_kmeans vs scikit-learn KMeans and MiniBatchKMeans
    python benchmarks/scale.py stages    # n = 10k, 100k, 1M through `textcluster data=embeddings`, per stage
    python benchmarks/scale.py all       # the three, in that order; then the table and the plot
    python benchmarks/scale.py default   # the plain default at 10k, 100k, 1M short texts and 100k long posts,
                                         # BERTopic's defaults beside the 100k (hours: not part of `all`)
    python benchmarks/scale.py default --resume   # go on after an interruption: cells already recorded stay
    python benchmarks/scale.py table     # rewrite benchmarks/results/scale.md and scale.png from the records

A smoke test of ``default`` on small corpora, into its own folder (its table
goes to that folder's scale.md, not to benchmarks/results/):

    python benchmarks/scale.py default --sizes 2000 --long 1000 --bertopic 2000 --work benchmarks/runs/scale-smoke

Every measured run is its own process (benchmarks/run.py's ``run_cell``, or a
worker of this script), so its wall time and peak memory (max resident set
size) are its own; the records go to benchmarks/runs/scale/ (not committed).

* ``corpus``: the shared 20 Newsgroups train and test posts cut into 25-word
  chunks, written as a CSV with a label column, then
  ``textcluster data=csv encoder=pretrained clusterer=faiss_kmeans`` with
  topics and the report, into an empty embedding cache (so the encoding is
  measured, in shards, and the run folder's embeddings.npy links to the entry).
* The million vectors are the corpus's own MiniLM embeddings, repeated five
  times with a little Gaussian jitter (sigma 0.01 per dimension, then unit
  length again), with the chunks' texts and newsgroup labels repeated beside
  them; 10k and 100k are seeded samples of the million. Real geometry, real
  texts; the repetition is the one thing that is not.
* ``kmeans``: k = 100, 20 iterations, one start for each of faiss_kmeans (the
  plugin), scikit-learn KMeans (lloyd, tol 0 so all 20 iterations run) and
  MiniBatchKMeans, each in its own process; the inertia of every result is
  recomputed the same way. Then the issue's command,
  ``textcluster data=embeddings ... clusterer=faiss_kmeans clusterer.n_clusters=100 report=false``.
* ``default`` (issue 24): the user's plain command, ``textcluster data=csv
  data.path=<csv> data.label_column=label``, with nothing else but a fresh,
  empty embedding cache per run (``cache_dir``, deleted afterwards; the run
  folder keeps its own copy of the embeddings), so encoding is measured and
  the recipe picks everything itself (k included; the labels only score the
  run: NMI, ACC). Corpora, written once as CSVs (text, label) beside the
  records: *short texts*, every 20 Newsgroups train and test post cut into
  windows of 10 to 25 words (a seeded length per window) that start every
  4th word (the largest stride giving a million windows: 1,216,038; a post
  under 10 words is one text), shuffled with seed 0; the million is the first
  1,000,000 of the shuffle (17.3 words on average; each word of the posts is
  in about 3.5 texts, as neighbouring windows overlap; 0.9% are exact
  repeats), 10k and 100k its first rows.
  *Long posts* (the 18,821 posts are too few): 100,000 documents of 200 to 400
  words (a seeded length), each of one newsgroup (drawn in proportion to its
  posts), joined from random posts of that newsgroup: a whole post while it is
  shorter than the words still missing, else a random span of exactly those.
  Beside the 100k short texts, BERTopic 0.17 with its defaults, in its own
  process (a worker of this script): sentence-transformers all-MiniLM-L6-v2
  (the local copy textcluster uses) encodes the texts through BERTopic's own
  backend, timed in the process's wall, then benchmarks/granularity.py's
  ``bertopic_row`` (default UMAP to 5 dimensions and HDBSCAN, min_topic_size
  10, UMAP's random_state fixed at 0, which runs it on one thread as
  textcluster's seeded UMAP is). Its outliers count as one cluster. BERTopic
  is a benchmark dependency only (``pip install bertopic==0.17.4``); without
  it that row is skipped. Targets: the 1M run within 60 min and 6 GB peak;
  every stage's t(1M) / t(100k) at most 12.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from run import HERE, data_dir, run_cell

RUNS = HERE / "runs" / "scale"
RESULTS = HERE / "results"
CHUNK_WORDS = 25
SIZES = (10_000, 100_000, 1_000_000)
KMEANS_K, KMEANS_ITERATIONS = 100, 20
STAGE_SETTINGS = ["clusterer=faiss_kmeans", "clusterer.n_clusters=20"]
STAGES = ("encode_s", "reduce_s", "choose_k_s", "cluster_s", "topics_s", "evaluate_s", "write_s", "report_s")
# The `default` part (issue 24): the plain default on short texts and long posts, BERTopic beside
SHORT_TEXTS, LONG_POSTS, BERTOPIC_TEXTS = 1_000_000, 100_000, 100_000
WINDOW_WORDS, LONG_WORDS = (10, 25), (200, 400)
BERTOPIC_MODEL = "all-MiniLM-L6-v2"  # BERTopic's default embedding model for English, the local copy
TARGET_RATIO, TARGET_MINUTES, TARGET_GB = 12, 60, 6
DEFAULT_HEADING = "## The plain default, 10k to 1M short texts and 100k long posts (issue 24)"


# ------------------------------------------------------------------------------------- data


def chunk_corpus(folder: Path) -> Path:
    """20 Newsgroups train + test posts in CHUNK_WORDS-word chunks: ``chunks.csv`` with text and label."""
    path = RUNS / "chunks.csv"
    if path.is_file():
        return path
    rows = []
    for split in ("train", "test"):
        table = pd.read_csv(folder / "20newsgroups" / f"{split}.csv", keep_default_na=False)
        for text, label in zip(table["text"], table["label"]):
            words = str(text).split()
            rows += [(" ".join(words[i : i + CHUNK_WORDS]), label) for i in range(0, len(words), CHUNK_WORDS)]
    RUNS.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)
    print(f"corpus: {len(rows):,} chunks of up to {CHUNK_WORDS} words -> {path}", flush=True)
    return path


def million(n: int = SIZES[-1], seed: int = 0) -> Path:
    """The corpus run's embeddings repeated with jitter to ``n`` rows, with texts and labels: a folder."""
    folder = RUNS / f"vectors-{n}"
    if (folder / "vectors.npy").is_file():
        return folder
    corpus_run = RUNS / "corpus"
    source = np.load(corpus_run / "embeddings.npy", mmap_mode="r")
    table = pd.read_csv(RUNS / "chunks.csv", keep_default_na=False)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = np.arange(n) % len(source)
    out = np.lib.format.open_memmap(folder / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, source.shape[1]))
    for start in range(0, n, 100_000):
        block = np.asarray(source[rows[start : start + 100_000]], dtype=np.float32)
        block += rng.normal(scale=0.01, size=block.shape).astype(np.float32)
        out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    out.flush()
    del out
    (folder / "labels.txt").write_text("\n".join(table["label"].to_numpy()[rows].astype(str)) + "\n")
    (folder / "texts.txt").write_text("\n".join(" ".join(t.split()) for t in table["text"].to_numpy()[rows]) + "\n")
    return folder


def sample_of(folder: Path, n: int, seed: int = 0) -> Path:
    """A seeded sample of ``n`` rows of a vectors folder, as its own folder."""
    target = RUNS / f"vectors-{n}"
    if (target / "vectors.npy").is_file():
        return target
    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), size=n, replace=False))
    target.mkdir(parents=True, exist_ok=True)
    np.save(target / "vectors.npy", np.asarray(vectors[rows]))
    for name in ("labels.txt", "texts.txt"):
        lines = (folder / name).read_text().splitlines()
        (target / name).write_text("\n".join(lines[i] for i in rows) + "\n")
    return target


def embeddings_overrides(folder: Path, texts: bool = True) -> list[str]:
    overrides = ["data=embeddings", f"data.path={folder / 'vectors.npy'}", f"data.labels_path={folder / 'labels.txt'}"]
    return overrides + ([f"data.texts_path={folder / 'texts.txt'}"] if texts else [])


def newsgroup_posts() -> tuple[list[list[str]], np.ndarray]:
    """Every non-empty 20 Newsgroups train and test post as its words, with its newsgroup."""
    posts, labels = [], []
    for split in ("train", "test"):
        table = pd.read_csv(data_dir() / "20newsgroups" / f"{split}.csv", keep_default_na=False)
        for text, label in zip(table["text"], table["label"]):
            words = str(text).split()
            if words:
                posts.append(words)
                labels.append(str(label))
    return posts, np.array(labels)


def window_starts(lengths: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(post, first word) of every window: every ``stride``-th word while WINDOW_WORDS[0] words are left; a post
    shorter than that is one window."""
    counts = np.maximum(1, (lengths - WINDOW_WORDS[0]) // stride + 1)
    post = np.repeat(np.arange(len(lengths)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    return post, (np.arange(len(post)) - first) * stride


def short_texts(n: int, seed: int = 0) -> pd.DataFrame:
    """The first ``n`` (at most SHORT_TEXTS) of the shuffled windows (the module docstring): text and label.

    The stride and the shuffle depend on SHORT_TEXTS only, so every size is a prefix of the same million.
    """
    posts, labels = newsgroup_posts()
    lengths = np.array([len(words) for words in posts])
    stride = max(1, int(lengths.sum() // SHORT_TEXTS))
    while stride > 1 and len(window_starts(lengths, stride)[0]) < SHORT_TEXTS:
        stride -= 1
    post, start = window_starts(lengths, stride)
    rng = np.random.default_rng(seed)
    size = rng.integers(WINDOW_WORDS[0], WINDOW_WORDS[1] + 1, size=len(post))
    rows = rng.permutation(len(post))[: min(n, SHORT_TEXTS)]
    texts = [" ".join(posts[post[i]][start[i] : start[i] + size[i]]) for i in rows]
    print(f"short texts: {len(post):,} windows (stride {stride} words), the first {len(rows):,} shuffled", flush=True)
    return pd.DataFrame({"text": texts, "label": labels[post[rows]]})


def long_posts(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` documents of LONG_WORDS words, each joined from posts of one newsgroup (the module docstring).

    Drawn one after another from one generator, so a smaller ``n`` gives the first rows of a larger one.
    """
    posts, labels = newsgroup_posts()
    members = {group: np.flatnonzero(labels == group) for group in np.unique(labels)}
    rng = np.random.default_rng(seed)
    texts, groups = [], []
    for _ in range(n):
        group = labels[rng.integers(len(labels))]  # a newsgroup in proportion to its posts
        target, words = int(rng.integers(LONG_WORDS[0], LONG_WORDS[1] + 1)), []
        while len(words) < target:
            post = posts[members[group][rng.integers(len(members[group]))]]
            missing = target - len(words)
            start = int(rng.integers(len(post) - missing + 1)) if len(post) > missing else 0
            words += post[start : start + missing]
        texts.append(" ".join(words))
        groups.append(group)
    return pd.DataFrame({"text": texts, "label": groups})


def default_corpora(sizes: list[int], n_long: int) -> dict[str, Path]:
    """name -> its CSV (text, label) under RUNS, written once: short-<n> for each size, long-<n_long>."""
    RUNS.mkdir(parents=True, exist_ok=True)
    files = {f"short-{n}": RUNS / f"short-{n}.csv" for n in sorted(sizes)}
    if n_long:
        files[f"long-{n_long}"] = RUNS / f"long-{n_long}.csv"
    missing = [name for name, path in files.items() if not path.is_file()]
    shorts = [int(name.split("-")[1]) for name in missing if name.startswith("short-")]
    table = short_texts(max(shorts)) if shorts else None
    for name in missing:
        kind, n = name.split("-")
        frame = table.iloc[: int(n)] if kind == "short" else long_posts(int(n))
        frame.to_csv(files[name], index=False)
        words = frame["text"].str.split().str.len()
        print(
            f"{name}: {len(frame):,} texts of {words.min()}-{words.max()} words (mean {words.mean():.1f})", flush=True
        )
    return files


# ------------------------------------------------------------------------------------- runs


def timed_cell(name: str, overrides: list[str]) -> dict:
    print(f"[{name}] textcluster {' '.join(overrides)}", flush=True)
    cell = run_cell(overrides, RUNS / name)
    if cell.get("failed"):
        raise SystemExit(f"{name} failed")
    timings = RUNS / name / "timings.json"
    cell.update(json.loads(timings.read_text()) if timings.is_file() else {})
    (RUNS / name / "cell.json").write_text(json.dumps(cell, indent=2))
    print(f"  wall {cell['wall_s']:.1f} s, peak {cell['peak_mem_mb']:.0f} MB, nmi {cell.get('nmi', float('nan')):.3f}")
    return cell


def run_corpus() -> dict:
    path = chunk_corpus(data_dir())
    cache = RUNS / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    overrides = [
        "data=csv",
        f"data.path={path}",
        "data.label_column=label",
        "encoder=pretrained",
        "clusterer=faiss_kmeans",
        f"cache_dir={cache}",  # an empty cache: encoded in shards, measured, stored
    ]
    return timed_cell("corpus", overrides)


def kmeans_worker(algorithm: str, path: str) -> None:
    """One k-means in this process: prints its fit time and inertia (recomputed the same way for all) as JSON."""
    from textcluster.clusterers.scalable import FaissKMeans

    X = np.load(path, mmap_mode="r")
    start = time.perf_counter()
    if algorithm == "faiss_kmeans":
        model = FaissKMeans(n_clusters=KMEANS_K, max_iter=KMEANS_ITERATIONS, random_state=0).fit(X)
    else:
        from sklearn.cluster import KMeans, MiniBatchKMeans

        if algorithm == "sklearn_kmeans":
            model = KMeans(KMEANS_K, n_init=1, max_iter=KMEANS_ITERATIONS, tol=0.0, algorithm="lloyd", random_state=0)
        else:
            model = MiniBatchKMeans(KMEANS_K, n_init=1, max_iter=KMEANS_ITERATIONS, batch_size=4096, random_state=0)
        model.fit(X)
    fit_s = time.perf_counter() - start
    centres, labels = np.asarray(model.cluster_centers_, dtype=np.float64), np.asarray(model.labels_)
    inertia = 0.0
    for block in range(0, len(X), 100_000):
        rows = np.asarray(X[block : block + 100_000], dtype=np.float64)
        inertia += float(((rows - centres[labels[block : block + 100_000]]) ** 2).sum())
    print(json.dumps({"fit_s": fit_s, "inertia": inertia}))


def run_worker(arguments: list[str]) -> dict | None:
    """A worker of this script in its own process: the JSON of its last line, its wall time and peak memory."""
    command = [sys.executable, __file__, *arguments]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    return {
        **json.loads(output.strip().splitlines()[-1]),
        "wall_s": time.perf_counter() - start,
        "peak_mem_mb": usage.ru_maxrss / 1024,
    }


def run_kmeans_worker(algorithm: str, path: Path) -> dict:
    record = run_worker(["_kmeans", algorithm, str(path)])
    if record is None:
        raise SystemExit(f"k-means worker {algorithm} failed")
    print(f"[{algorithm}] {record}", flush=True)
    return record


def run_kmeans() -> dict:
    folder = million()
    records = {name: run_kmeans_worker(name, folder / "vectors.npy") for name in ("faiss_kmeans", "minibatch_kmeans")}
    overrides = embeddings_overrides(folder, texts=False) + [
        "clusterer=faiss_kmeans",
        f"clusterer.n_clusters={KMEANS_K}",
        "report=false",
    ]
    records["textcluster_command"] = timed_cell("kmeans-command", overrides)
    records["sklearn_kmeans"] = run_kmeans_worker("sklearn_kmeans", folder / "vectors.npy")
    (RUNS / "kmeans.json").write_text(json.dumps(records, indent=2))
    return records


def corpus_vectors() -> Path:
    """The corpus run's own embeddings (no repetition) with the chunks' texts and labels, as a vectors folder."""
    folder = RUNS / "vectors-corpus"
    if not (folder / "vectors.npy").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        table = pd.read_csv(RUNS / "chunks.csv", keep_default_na=False)
        os.link(RUNS / "corpus" / "embeddings.npy", folder / "vectors.npy")
        (folder / "labels.txt").write_text("\n".join(table["label"].astype(str)) + "\n")
        (folder / "texts.txt").write_text("\n".join(" ".join(t.split()) for t in table["text"]) + "\n")
    return folder


def run_stages() -> dict:
    """Every stage after the encoder at each size, k given (the 20 newsgroups) so each run does the same work."""
    full = million()
    cells = {}
    for n in SIZES:
        folder = full if n == SIZES[-1] else sample_of(full, n)
        cells[n] = timed_cell(f"stages-{n}", embeddings_overrides(folder) + STAGE_SETTINGS)
    cells["corpus"] = timed_cell("stages-corpus", embeddings_overrides(corpus_vectors()) + STAGE_SETTINGS)
    return cells


def default_cell(name: str, path: Path, resume: bool) -> dict:
    """The plain default on one corpus CSV, into a fresh, empty embedding cache (deleted afterwards)."""
    run_dir = RUNS / name
    earlier = read_cell(name)
    if resume and earlier and not earlier.get("failed"):
        return earlier
    cache = RUNS / f"cache-{name}"
    shutil.rmtree(cache, ignore_errors=True)
    overrides = ["data=csv", f"data.path={path}", "data.label_column=label", f"cache_dir={cache}"]
    print(f"[{name}] textcluster {' '.join(overrides)}", flush=True)
    cell = run_cell(overrides, run_dir)
    shutil.rmtree(cache, ignore_errors=True)
    cell["measured"] = time.strftime("%Y-%m-%d")
    if not cell.get("failed"):
        cell.update(json.loads((run_dir / "timings.json").read_text()))  # write_s and report_s too
        manifest_path = run_dir / "model" / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        cell["semantic"] = (manifest.get("fit", {}).get("encoder_settled") or {}).get("semantic")
        print(
            f"  wall {cell['wall_s']:.1f} s, peak {cell['peak_mem_mb']:.0f} MB, k {cell.get('n_clusters', 0):.0f}, "
            f"nmi {cell.get('nmi', float('nan')):.3f}, semantic {cell['semantic']}",
            flush=True,
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "cell.json").write_text(json.dumps(cell, indent=2))
    return cell


def bertopic_worker(path: str) -> None:
    """BERTopic's default pipeline on a corpus CSV in this process: it encodes the texts itself (its
    sentence-transformers backend, the local all-MiniLM-L6-v2), then granularity.py's ``bertopic_row``."""
    from bertopic.backend._utils import select_backend
    from granularity import Corpus, bertopic_row
    from sentence_transformers import SentenceTransformer

    from textcluster.encoders.hub import resolve_model

    table = pd.read_csv(path, keep_default_na=False)
    corpus = Corpus(Path(path).stem, table["text"].astype(str).tolist(), table["label"].astype(str).to_numpy())
    start = time.perf_counter()
    backend = select_backend(SentenceTransformer(resolve_model(BERTOPIC_MODEL)[0]))
    vectors = backend.embed(corpus.texts)
    encode_s = time.perf_counter() - start
    row = bertopic_row(corpus, vectors, 0)
    if row is None:
        raise SystemExit("BERTopic is not installed")
    fit_s = row.pop("wall_s")  # the process's wall time is measured outside
    print(json.dumps({**row, "n_samples": len(corpus.texts), "encode_s": encode_s, "fit_s": fit_s}))


def bertopic_cell(name: str, path: Path, resume: bool) -> dict | None:
    earlier = read_cell(name)
    if resume and earlier and not earlier.get("failed"):
        return earlier
    if importlib.util.find_spec("bertopic") is None:
        print(f"[{name}] BERTopic is not installed (pip install bertopic==0.17.4): skipped", flush=True)
        return None
    print(f"[{name}] BERTopic defaults on {path.name}", flush=True)
    cell = run_worker(["_bertopic", str(path)]) or {"failed": True}
    cell["measured"] = time.strftime("%Y-%m-%d")
    (RUNS / name).mkdir(parents=True, exist_ok=True)
    (RUNS / name / "cell.json").write_text(json.dumps(cell, indent=2))
    print(f"  {cell}", flush=True)
    return cell


def run_default(sizes: list[int], n_long: int, n_bertopic: int, resume: bool) -> None:
    """Smallest first, BERTopic beside its size, the long posts, the largest last."""
    files = default_corpora(sorted(set(sizes) | ({n_bertopic} - {0})), n_long)
    largest = max(sizes, default=0)
    for n in sorted(sizes):
        if n != largest or len(sizes) == 1:
            default_cell(f"default-short-{n}", files[f"short-{n}"], resume)
        if n == n_bertopic:
            bertopic_cell(f"bertopic-short-{n}", files[f"short-{n}"], resume)
    if n_bertopic and n_bertopic not in sizes:
        bertopic_cell(f"bertopic-short-{n_bertopic}", files[f"short-{n_bertopic}"], resume)
    if n_long:
        default_cell(f"default-long-{n_long}", files[f"long-{n_long}"], resume)
    if len(sizes) > 1:
        default_cell(f"default-short-{largest}", files[f"short-{largest}"], resume)


# ------------------------------------------------------------------------------------- table


def read_cell(name: str) -> dict | None:
    path = RUNS / name / "cell.json"
    return json.loads(path.read_text()) if path.is_file() else None


def stage_rows(cells: dict[str, dict]) -> list[str]:
    lines = [
        "| run | n | "
        + " | ".join(stage.removesuffix("_s") for stage in STAGES)
        + " | wall | peak memory (MB) | k | NMI |",
        "| --- | --- |" + " --- |" * (len(STAGES) + 4),
    ]
    for name, cell in cells.items():
        values = " | ".join(f"{cell.get(stage, 0.0):.1f}" for stage in STAGES)
        lines.append(
            f"| {name} | {cell['n_samples']:,} | {values} | {cell['wall_s']:.1f} | {cell['peak_mem_mb']:,.0f} "
            f"| {cell.get('n_clusters', 0):.0f} | {cell.get('nmi', float('nan')):.3f} |"
        )
    return lines


def after_encoding(cell: dict) -> float:
    return sum(cell.get(stage, 0.0) for stage in STAGES if stage != "encode_s")


CORPUS_HEADING = "## The 20 Newsgroups chunks end to end"
KMEANS_HEADING = f"## k-means on 1,000,000 x 384 (k = {KMEANS_K}, {KMEANS_ITERATIONS} iterations, one start)"
STAGES_HEADING = (
    "## Per stage, 10k to 1M (`data=embeddings`, texts beside, "
    "`clusterer=faiss_kmeans clusterer.n_clusters=20`, topics, report)"
)


def sections_of(path: Path) -> dict[str, list[str]]:
    """A page's parts: '' (above the first section) and each '## ' heading -> its lines, heading included."""
    sections: dict[str, list[str]] = {"": []}
    heading = ""
    for line in path.read_text().splitlines() if path.is_file() else []:
        if line.startswith("## "):
            heading = line
            sections[heading] = []
        sections[heading].append(line)
    return sections


def write_table(out: Path = RESULTS / "scale.md") -> None:
    """The page from the records; a section whose records are not here (made on another machine) is kept as
    benchmarks/results/scale.md has it."""
    previous = sections_of(RESULTS / "scale.md")
    measured: dict[str, list[str] | None] = {CORPUS_HEADING: None, KMEANS_HEADING: None, STAGES_HEADING: None}
    corpus = read_cell("corpus")
    if corpus:
        share = after_encoding(corpus) / corpus["wall_s"]
        measured[CORPUS_HEADING] = [CORPUS_HEADING, "", *stage_rows({"corpus": corpus}), ""]
        measured[CORPUS_HEADING] += [
            f"All stages after encoding: {after_encoding(corpus):.1f} s of {corpus['wall_s']:.1f} s wall "
            f"({100 * share:.1f}%); peak memory {corpus['peak_mem_mb'] / 1024:.2f} GB.",
            "",
        ]
    kmeans_path = RUNS / "kmeans.json"
    if kmeans_path.is_file():
        measured[KMEANS_HEADING] = kmeans_lines(json.loads(kmeans_path.read_text()))
    stages = {f"{n:,}": read_cell(f"stages-{n}") for n in SIZES} | {"20NG chunks": read_cell("stages-corpus")}
    stages = {name: cell for name, cell in stages.items() if cell}
    if stages:
        lines = [STAGES_HEADING, "", *stage_rows(stages), ""]
        small, large = read_cell(f"stages-{SIZES[1]}"), read_cell(f"stages-{SIZES[2]}")
        if small and large:
            ratios = ", ".join(
                f"{stage.removesuffix('_s')} {large[stage] / small[stage]:.1f}x"
                for stage in STAGES[1:]
                if small.get(stage, 0) > 0.05
            )
            lines += [f"Time at 1M over time at 100k, per stage after encoding: {ratios}.", ""]
        plot_stages(stages)
        measured[STAGES_HEADING] = lines + ["![wall time and peak memory per stage](scale.png)", ""]
    measured[DEFAULT_HEADING] = default_lines()

    machine = f"Machine: {os.cpu_count()} CPU cores, {time.strftime('%Y-%m-%d')}; seconds per stage; seed 0."
    if not any(measured[heading] for heading in (CORPUS_HEADING, KMEANS_HEADING, STAGES_HEADING)):
        machine = next((line for line in previous[""] if line.startswith("Machine:")), machine)
    lines = ["# Scale: a million documents on 2 cores", "", __doc__.split("\n\n", 1)[1].strip("\n"), "", machine, ""]
    others = {heading: None for heading in previous if heading and heading not in measured}  # written by hand
    for heading, section in (measured | others).items():
        block = section or previous.get(heading, [])
        lines += block + ([""] if block and block[-1] else [])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"wrote {out}")


def default_cells() -> list[tuple[str, dict]]:
    """The ``default`` part's records: short texts by size, BERTopic after the size it ran on, long posts last."""
    cells = {path.parent.name: json.loads(path.read_text()) for path in RUNS.glob("*/cell.json")}
    order = []
    for kind in ("short", "long"):
        sizes = sorted({int(name.rsplit("-", 1)[1]) for name in cells if name.split("-")[1:2] == [kind]})
        for n in sizes:
            order += [name for name in (f"default-{kind}-{n}", f"bertopic-{kind}-{n}") if name in cells]
    return [(name, cells[name]) for name in order]


def default_lines() -> list[str]:
    rows = default_cells()
    if not rows:
        return []
    dates = sorted({cell.get("measured", "?") for _, cell in rows})
    lines = [
        DEFAULT_HEADING,
        "",
        "`textcluster data=csv data.path=<csv> data.label_column=label cache_dir=<empty>` (the part `default` above; "
        f"measured {', '.join(dates)}, {os.cpu_count()} CPU cores). Wall and peak memory (max RSS) are each run's "
        "own process; stages in seconds from its timings.json; `semantic`: the hybrid encoder's semantic half as "
        "the run settled it (model/manifest.json); k: the clusters it chose. BERTopic: its own process, encoding "
        "included (its stage columns: encode, then fit = UMAP + HDBSCAN + topic words).",
        "",
        "| corpus | n | method | semantic | wall (s) | peak (GB) | "
        + " | ".join(stage.removesuffix("_s") for stage in STAGES)
        + " | k | NMI | ACC |",
        "| --- | ---: | --- | --- | ---: | ---: | " + " | ".join("---:" for _ in STAGES) + " | ---: | ---: | ---: |",
    ]
    for name, cell in rows:
        _, kind, n = name.split("-")
        method = "BERTopic 0.17 defaults" if name.startswith("bertopic") else "textcluster (plain default)"
        start = f"| {kind} | {int(n):,} | {method} |"
        if cell.get("failed"):
            lines.append(start + " failed |" + " |" * (len(STAGES) + 5))
            continue
        if name.startswith("bertopic"):
            semantic = "MiniLM"
            stages = [f"{cell['encode_s']:.1f}", f"fit {cell['fit_s']:.1f}"] + [""] * (len(STAGES) - 2)
            k = f"{cell['k']} + {cell['outliers']:.0%} outliers"
        else:
            semantic = cell.get("semantic") or ""
            stages = [f"{cell.get(stage, 0.0):.1f}" for stage in STAGES]
            k = f"{cell.get('n_clusters', 0):.0f}"
        lines.append(
            f"{start} {semantic} | {cell['wall_s']:,.0f} | {cell['peak_mem_mb'] / 1024:.2f} | {' | '.join(stages)} "
            f"| {k} | {cell.get('nmi', float('nan')):.3f} | {cell.get('acc', float('nan')):.3f} |"
        )
    return lines + ["", *default_targets(dict(rows)), ""]


def default_targets(cells: dict[str, dict]) -> list[str]:
    ok = {name: cell for name, cell in cells.items() if not cell.get("failed")}
    small, large = ok.get(f"default-short-{SIZES[1]}"), ok.get(f"default-short-{SIZES[2]}")
    peer = ok.get(f"bertopic-short-{SIZES[1]}")
    lines = []
    if large:
        minutes, peak = large["wall_s"] / 60, large["peak_mem_mb"] / 1024
        met = "met" if minutes <= TARGET_MINUTES and peak <= TARGET_GB else "**not met**"
        lines.append(
            f"- 1,000,000 short texts within {TARGET_MINUTES} min and {TARGET_GB} GB peak: {minutes:.1f} min, "
            f"{peak:.2f} GB ({met})."
        )
    if small and large:
        ratios = {
            stage: large.get(stage, 0.0) / small[stage] for stage in (*STAGES, "wall_s") if small.get(stage, 0) > 0.05
        }
        over = [stage.removesuffix("_s") for stage, ratio in ratios.items() if ratio > TARGET_RATIO]
        shown = ", ".join(f"{stage.removesuffix('_s')} {ratio:.1f}x" for stage, ratio in ratios.items())
        lines.append(
            f"- t(1M) / t(100k) per stage, at most {TARGET_RATIO} (linear: 10): {shown} "
            f"({'met' if not over else '**over for ' + ', '.join(over) + '**'})."
        )
    if small and peer:
        lines.append(
            f"- 100,000 short texts, textcluster against BERTopic's defaults: {small['wall_s'] / 60:.1f} against "
            f"{peer['wall_s'] / 60:.1f} min wall, {small['peak_mem_mb'] / 1024:.2f} against "
            f"{peer['peak_mem_mb'] / 1024:.2f} GB peak, NMI {small['nmi']:.3f} against {peer['nmi']:.3f}."
        )
    return lines


def kmeans_lines(records: dict) -> list[str]:
    reference = records["sklearn_kmeans"]
    lines = [
        KMEANS_HEADING,
        "",
        "| k-means | fit (s) | process wall (s) | peak memory (MB) | inertia | vs scikit-learn KMeans |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("faiss_kmeans", "minibatch_kmeans", "sklearn_kmeans"):
        record = records[name]
        lines.append(
            f"| {name} | {record['fit_s']:.1f} | {record['wall_s']:.1f} | {record['peak_mem_mb']:,.0f} | "
            f"{record['inertia']:,.0f} | {reference['fit_s'] / record['fit_s']:.1f}x faster, inertia "
            f"{100 * (record['inertia'] / reference['inertia'] - 1):+.2f}% |"
        )
    command = records["textcluster_command"]
    lines += [
        "",
        f"The whole `textcluster data=embeddings ... clusterer=faiss_kmeans clusterer.n_clusters={KMEANS_K} "
        f"report=false` command: **{command['wall_s']:.1f} s wall, {command['peak_mem_mb'] / 1024:.2f} GB peak** "
        f"(clustering {command['cluster_s']:.1f} s of it; scikit-learn KMeans alone: {reference['fit_s']:.1f} s, "
        f"{reference['fit_s'] / command['wall_s']:.1f}x the whole command).",
        "",
    ]
    return lines


def plot_stages(stages: dict[str, dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = dict(sorted(stages.items(), key=lambda item: item[1]["n_samples"]))
    sizes = [cell["n_samples"] for cell in stages.values()]
    figure, (times, memory) = plt.subplots(1, 2, figsize=(11, 4))
    for stage in STAGES[1:]:
        values = [max(cell.get(stage, 0.0), 1e-2) for cell in stages.values()]
        times.plot(sizes, values, marker="o", label=stage.removesuffix("_s"))
    times.plot(sizes, [cell["wall_s"] for cell in stages.values()], marker="s", color="black", label="wall")
    times.set(xscale="log", yscale="log", xlabel="documents", ylabel="seconds", title="time per stage")
    times.legend(fontsize=8)
    memory.plot(sizes, [cell["peak_mem_mb"] / 1024 for cell in stages.values()], marker="o")
    memory.set(xscale="log", xlabel="documents", ylabel="GB", title="peak memory (max RSS)")
    figure.tight_layout()
    figure.savefig(RESULTS / "scale.png", dpi=110)


def main() -> None:
    global RUNS
    if len(sys.argv) == 4 and sys.argv[1] == "_kmeans":
        kmeans_worker(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "_bertopic":
        bertopic_worker(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("corpus", "kmeans", "stages", "all", "default", "table"))
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help="default: short-text sizes")
    parser.add_argument("--long", type=int, default=LONG_POSTS, help="default: long posts (0: none)")
    parser.add_argument("--bertopic", type=int, default=BERTOPIC_TEXTS, help="default: BERTopic's size (0: none)")
    parser.add_argument("--resume", action="store_true", help="default: keep the cells already recorded")
    parser.add_argument("--work", type=Path, default=RUNS, help="folder of the records (the table goes there too)")
    args = parser.parse_args()
    part = args.part
    # --work moves every record of this process, and the table to that folder
    out = RESULTS / "scale.md" if args.work.resolve() == RUNS.resolve() else args.work.resolve() / "scale.md"
    RUNS = args.work.resolve()
    if part in ("corpus", "all"):
        run_corpus()
    if part in ("kmeans", "all"):
        run_kmeans()
    if part in ("stages", "all"):
        run_stages()
    if part == "default":
        if max(args.sizes, default=0) > SHORT_TEXTS:
            raise SystemExit(f"--sizes: at most {SHORT_TEXTS:,} short texts")
        run_default(args.sizes, args.long, args.bertopic, args.resume)
    write_table(out)


if __name__ == "__main__":
    main()
