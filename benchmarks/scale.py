"""Scale: wall time and peak memory per stage from 10,000 to 1,000,000 documents, k-means side by side.

    python benchmarks/scale.py corpus    # 20 Newsgroups in 25-word chunks (~209k texts), end to end
    python benchmarks/scale.py kmeans    # 1M x 384: faiss_kmeans vs scikit-learn KMeans and MiniBatchKMeans
    python benchmarks/scale.py stages    # n = 10k, 100k, 1M through `textcluster data=embeddings`, per stage
    python benchmarks/scale.py all       # the three, in that order; then the table and the plot
    python benchmarks/scale.py table     # rewrite benchmarks/results/scale.md and scale.png from the records
    python benchmarks/scale.py default   # the plain default recipe on 10k / 100k / 1M texts, BERTopic beside it
                                         # (benchmarks/scale_default.py, its options after the word)

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
"""

from __future__ import annotations

import argparse
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


def run_kmeans_worker(algorithm: str, path: Path) -> dict:
    command = [sys.executable, __file__, "_kmeans", algorithm, str(path)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"k-means worker {algorithm} failed")
    record = {
        **json.loads(output.strip().splitlines()[-1]),
        "wall_s": time.perf_counter() - start,
        "peak_mem_mb": usage.ru_maxrss / 1024,
    }
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


def write_table() -> None:
    lines = ["# Scale: a million documents on 2 cores", "", __doc__.split("\n\n", 1)[1].strip(), ""]
    lines += [f"Machine: {os.cpu_count()} CPU cores, {time.strftime('%Y-%m-%d')}; seconds per stage; seed 0.", ""]
    corpus = read_cell("corpus")
    if corpus:
        share = after_encoding(corpus) / corpus["wall_s"]
        lines += ["## The 20 Newsgroups chunks end to end", "", *stage_rows({"corpus": corpus}), ""]
        lines += [
            f"All stages after encoding: {after_encoding(corpus):.1f} s of {corpus['wall_s']:.1f} s wall "
            f"({100 * share:.1f}%); peak memory {corpus['peak_mem_mb'] / 1024:.2f} GB.",
            "",
        ]
    kmeans_path = RUNS / "kmeans.json"
    if kmeans_path.is_file():
        lines += kmeans_lines(json.loads(kmeans_path.read_text()))
    stages = {f"{n:,}": read_cell(f"stages-{n}") for n in SIZES} | {"20NG chunks": read_cell("stages-corpus")}
    stages = {name: cell for name, cell in stages.items() if cell}
    if stages:
        lines += [
            "## Per stage, 10k to 1M (`data=embeddings`, texts beside, "
            "`clusterer=faiss_kmeans clusterer.n_clusters=20`, topics, report)",
            "",
        ]
        lines += [*stage_rows(stages), ""]
        small, large = read_cell(f"stages-{SIZES[1]}"), read_cell(f"stages-{SIZES[2]}")
        if small and large:
            ratios = ", ".join(
                f"{stage.removesuffix('_s')} {large[stage] / small[stage]:.1f}x"
                for stage in STAGES[1:]
                if small.get(stage, 0) > 0.05
            )
            lines += [f"Time at 1M over time at 100k, per stage after encoding: {ratios}.", ""]
        plot_stages(stages)
        lines += ["![wall time and peak memory per stage](scale.png)", ""]
    (RESULTS / "scale.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'scale.md'}")


def kmeans_lines(records: dict) -> list[str]:
    reference = records["sklearn_kmeans"]
    lines = [
        f"## k-means on 1,000,000 x 384 (k = {KMEANS_K}, {KMEANS_ITERATIONS} iterations, one start)",
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
    if len(sys.argv) == 4 and sys.argv[1] == "_kmeans":
        kmeans_worker(sys.argv[2], sys.argv[3])
        return
    if sys.argv[1:2] == ["default"]:  # its own script: it has its own options and workers
        import scale_default

        sys.argv = [scale_default.__file__, *sys.argv[2:]]
        scale_default.main()
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("corpus", "kmeans", "stages", "all", "table", "default"))
    part = parser.parse_args().part
    if part in ("corpus", "all"):
        run_corpus()
    if part in ("kmeans", "all"):
        run_kmeans()
    if part in ("stages", "all"):
        run_stages()
    write_table()


if __name__ == "__main__":
    main()
