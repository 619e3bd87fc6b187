"""The plain default recipe at size: 10,000 / 100,000 / 1,000,000 short texts and 100,000 long posts, with
BERTopic's default pipeline on the same 100,000 short texts, in one run.

    python benchmarks/scale_default.py              # every cell, then benchmarks/results/scale-default.md
    python benchmarks/scale_default.py --sizes 2000 --long 0 --bertopic 2000   # a smoke test
    python benchmarks/scale_default.py --table-only # rewrite the page from the cells already run

Every cell is its own process (benchmarks/run.py's ``run_cell`` for textcluster, a worker of this script for
BERTopic), so its wall time and peak memory (max resident set size) are its own. Records go to
benchmarks/runs/scale-default/ (not committed).

* Short texts: the shared 20 Newsgroups train and test posts cut into windows of 10 to 25 words (a seeded
  length per window), starting every ``stride`` words so that the windows overlap as much as needed to make
  a million; shuffled with a fixed seed; 10,000 and 100,000 are the first rows of the shuffled million.
* Long posts: 100,000 documents of 200 to 400 words, each joined from consecutive spans of posts of one
  newsgroup (the 18,846 real posts are too few).
* textcluster: ``textcluster data=csv data.path=<text-only csv>``, the user's command, with an empty embedding
  cache per cell (``cache_dir``), so the encoding is measured. Its labels stay here and score assignments.csv.
* BERTopic 0.17.4 (``pip install bertopic==0.17.4``, a benchmark dependency only): ``BERTopic()`` with its
  defaults (UMAP, HDBSCAN, c-TF-IDF) and its default embedding model, all-MiniLM-L6-v2 through
  sentence-transformers, read from the same local copy textcluster uses; it encodes the texts itself.
  Its outliers (-1) count as one cluster, as BERTopic reports them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from own_corpus import score
from run import HERE, data_dir, run_cell
from sklearn.metrics import normalized_mutual_info_score

from textcluster.evaluation.metrics import clustering_accuracy

RUNS = HERE / "runs" / "scale-default"
RESULTS = HERE / "results" / "scale-default.md"
SIZES = (10_000, 100_000, 1_000_000)
LONG_POSTS = 100_000
WINDOW_WORDS = (10, 25)
LONG_WORDS = (200, 400)
STAGES = ("encode_s", "reduce_s", "choose_k_s", "cluster_s", "topics_s", "evaluate_s", "write_s", "report_s")
TARGET_RATIO, TARGET_MINUTES, TARGET_GB = 12, 60, 6
NOTES_MARKER = "<!-- written by hand below: kept when the table is rewritten -->"


# ------------------------------------------------------------------------------------- corpora


def newsgroup_posts() -> tuple[list[list[str]], np.ndarray]:
    """Every train and test post as its words, with its newsgroup."""
    words, labels = [], []
    for split in ("train", "test"):
        table = pd.read_csv(data_dir() / "20newsgroups" / f"{split}.csv", keep_default_na=False)
        words += [str(text).split() for text in table["text"]]
        labels += [str(label) for label in table["label"]]
    return words, np.array(labels)


def short_texts(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` windows of WINDOW_WORDS words over the posts, shuffled (see the module docstring)."""
    posts, labels = newsgroup_posts()
    rng = np.random.default_rng(seed)
    total = sum(len(words) for words in posts)
    stride = max(1, int(total / (n * 1.05)))  # a few more windows than asked: short posts give fewer
    texts, groups = [], []
    for words, label in zip(posts, labels):
        for start in range(0, max(1, len(words) - WINDOW_WORDS[0] + 1), stride):
            length = int(rng.integers(WINDOW_WORDS[0], WINDOW_WORDS[1] + 1))
            texts.append(" ".join(words[start : start + length]))
            groups.append(label)
    if len(texts) < n:
        raise SystemExit(f"only {len(texts):,} windows for {n:,}: lower the stride")
    order = rng.permutation(len(texts))[:n]
    return pd.DataFrame({"text": np.array(texts, dtype=object)[order], "label": np.array(groups)[order]})


def long_posts(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` documents of LONG_WORDS words, each from consecutive spans of random posts of one newsgroup."""
    posts, labels = newsgroup_posts()
    rng = np.random.default_rng(seed)
    by_group = {group: np.flatnonzero(labels == group) for group in sorted(set(labels))}
    names = list(by_group)
    texts, groups = [], []
    for _ in range(n):
        group = names[int(rng.integers(len(names)))]
        target, words = int(rng.integers(LONG_WORDS[0], LONG_WORDS[1] + 1)), []
        while len(words) < target:
            post = posts[int(rng.choice(by_group[group]))]
            start = int(rng.integers(max(1, len(post) - 50))) if len(post) > 50 else 0
            words += post[start : start + target - len(words)]
        texts.append(" ".join(words))
        groups.append(group)
    return pd.DataFrame({"text": texts, "label": groups})


def corpus_files(sizes: list[int], n_long: int) -> dict[str, Path]:
    """name -> a text-only CSV (labels beside it in <name>.labels.npy), written once."""
    RUNS.mkdir(parents=True, exist_ok=True)
    files = {}
    if sizes:
        million = None
        for n in sizes:
            files[f"short-{n}"] = RUNS / f"short-{n}.csv"
            if not files[f"short-{n}"].is_file():
                million = short_texts(max(sizes)) if million is None else million
                write_corpus(million.iloc[:n], files[f"short-{n}"])
    if n_long:
        files[f"long-{n_long}"] = RUNS / f"long-{n_long}.csv"
        if not files[f"long-{n_long}"].is_file():
            write_corpus(long_posts(n_long), files[f"long-{n_long}"])
    return files


def write_corpus(frame: pd.DataFrame, path: Path) -> None:
    frame[["text"]].to_csv(path, index=False)
    np.save(path.with_suffix(".labels.npy"), frame["label"].to_numpy().astype(str))
    words = frame["text"].str.split().str.len()
    print(f"corpus {path.name}: {len(frame):,} texts, {words.mean():.0f} words on average", flush=True)


def labels_of(path: Path) -> np.ndarray:
    return np.load(path.with_suffix(".labels.npy"), allow_pickle=False)


# ------------------------------------------------------------------------------------- cells


def textcluster_cell(name: str, path: Path) -> dict:
    """The plain default on a text-only CSV, into an empty embedding cache; scored against the labels."""
    cache = RUNS / f"cache-{name}"
    shutil.rmtree(cache, ignore_errors=True)
    run_dir = RUNS / name / "textcluster"
    print(f"[{name}] textcluster data=csv data.path={path}", flush=True)
    cell = run_cell(["data=csv", f"data.path={path}", f"cache_dir={cache}"], run_dir)
    shutil.rmtree(cache, ignore_errors=True)
    if cell.get("failed"):
        return {"name": name, "method": "textcluster", "failed": True}
    timings = json.loads((run_dir / "timings.json").read_text())
    settled = json.loads((run_dir / "model" / "manifest.json").read_text())["fit"].get("encoder_settled", {})
    row = {
        "name": name,
        "method": "textcluster",
        **score(run_dir, labels_of(path)),
        "wall_s": cell["wall_s"],
        "peak_mem_mb": cell["peak_mem_mb"],
        "stages": {stage: timings.get(stage) for stage in STAGES},
        "semantic": settled.get("semantic"),
    }
    print(f"  {row}", flush=True)
    return row


def bertopic_worker(path: str, out: str) -> None:
    """BERTopic's default pipeline on the texts of ``path``; writes its topics (one per text) to ``out``."""
    from bertopic import BERTopic
    from sentence_transformers import SentenceTransformer

    from textcluster.encoders.hub import resolve_model

    texts = pd.read_csv(path, keep_default_na=False)["text"].astype(str).tolist()
    model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2")[0], device="cpu")
    topics, _ = BERTopic(embedding_model=model).fit_transform(texts)
    np.save(out, np.asarray(topics))


def bertopic_cell(name: str, path: Path) -> dict:
    """BERTopic in its own process (wall time and peak memory of that process)."""
    out = RUNS / name / "bertopic-topics.npy"
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"[{name}] BERTopic defaults", flush=True)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, "bertopic-worker", str(path), str(out)])
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        return {"name": name, "method": "BERTopic", "failed": True}
    truth, predicted = labels_of(path), np.load(out)
    row = {
        "name": name,
        "method": "BERTopic",
        "nmi": normalized_mutual_info_score(truth, predicted),
        "acc": clustering_accuracy(truth, predicted),
        "k": len(set(predicted[predicted != -1].tolist())),
        "outliers": float(np.mean(predicted == -1)),
        "wall_s": wall,
        "peak_mem_mb": usage.ru_maxrss / 1024,
    }
    print(f"  {row}", flush=True)
    return row


# ------------------------------------------------------------------------------------- the page


def seconds(value) -> str:
    return "" if value is None else f"{value:.0f}"


def write_page(rows: list[dict], command: str, out: Path) -> None:
    ours = {row["name"]: row for row in rows if row["method"] == "textcluster" and not row.get("failed")}
    lines = [
        "# The plain default recipe at size (issue 24)",
        "",
        f"`{command}`, {datetime.now():%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU cores, seed 0. Each cell is its",
        "own process; wall is the whole process (imports, data, every stage, the report), peak is its maximum",
        "resident set size. Stages in seconds from the run's timings.json. `semantic`: the hybrid encoder's",
        "semantic half as the run settled it (`semantic: auto`: the static half when MiniLM would take over",
        "20 minutes on the machine's CPU).",
        "",
        "| corpus | method | semantic | wall (min) | peak (GB) | "
        + " | ".join(stage.removesuffix("_s") for stage in STAGES)
        + " | k | NMI | ACC |",
        "| --- | --- | --- | ---: | ---: | " + " | ".join("---:" for _ in STAGES) + " | ---: | ---: | ---: |",
    ]
    for row in rows:
        if row.get("failed"):
            lines.append(f"| {row['name']} | {row['method']} | failed |" + " |" * (len(STAGES) + 5))
            continue
        stages = row.get("stages") or {}
        lines.append(
            f"| {row['name']} | {row['method']} | {row.get('semantic') or ''} | {row['wall_s'] / 60:.1f} | "
            f"{row['peak_mem_mb'] / 1024:.2f} | "
            + " | ".join(seconds(stages.get(stage)) for stage in STAGES)
            + f" | {row['k']} | {row['nmi']:.3f} | {row['acc']:.3f} |"
        )
    lines += ["", *target_lines(ours, rows)]
    notes = out.read_text().split(NOTES_MARKER, 1)[1] if out.is_file() and NOTES_MARKER in out.read_text() else ""
    out.write_text("\n".join(lines) + "\n" + (f"\n{NOTES_MARKER}{notes}" if notes else ""))
    print(f"wrote {out}")


def target_lines(ours: dict[str, dict], rows: list[dict]) -> list[str]:
    lines = ["## Targets", ""]
    small, large = ours.get(f"short-{SIZES[1]}"), ours.get(f"short-{SIZES[2]}")
    if large:
        minutes, peak = large["wall_s"] / 60, large["peak_mem_mb"] / 1024
        met = minutes <= TARGET_MINUTES and peak <= TARGET_GB
        lines.append(
            f"- [{'x' if met else ' '}] 1,000,000 short texts within {TARGET_MINUTES} min and {TARGET_GB} GB: "
            f"{minutes:.1f} min, {peak:.2f} GB"
        )
    if small and large:
        ratios = {
            stage: large["stages"][stage] / small["stages"][stage]
            for stage in STAGES
            if small["stages"].get(stage) and large["stages"].get(stage) is not None
        }
        worst = max(ratios, key=ratios.get)
        shown = ", ".join(f"{stage.removesuffix('_s')} {ratio:.1f}" for stage, ratio in ratios.items())
        lines.append(
            f"- [{'x' if ratios[worst] <= TARGET_RATIO else ' '}] t(1M)/t(100k) at most {TARGET_RATIO} for every "
            f"stage: {shown}"
        )
    peer = next((row for row in rows if row["method"] == "BERTopic" and not row.get("failed")), None)
    if small and peer:
        ahead = small["wall_s"] < peer["wall_s"] and small["nmi"] >= peer["nmi"]
        lines.append(
            f"- [{'x' if ahead else ' '}] 100,000 texts ahead of BERTopic's defaults in wall time at equal or better "
            f"NMI: {small['wall_s'] / 60:.1f} min / NMI {small['nmi']:.3f} against {peer['wall_s'] / 60:.1f} min / "
            f"NMI {peer['nmi']:.3f} ({peer['k']} topics, {peer['outliers']:.0%} outliers), peak "
            f"{small['peak_mem_mb'] / 1024:.2f} GB against {peer['peak_mem_mb'] / 1024:.2f} GB"
        )
    return lines


def write_corpora_in_a_child(sizes: list[int], n_long: int) -> dict[str, Path]:
    """The corpus files, built by a child process: a cell's peak memory (ru_maxrss) counts the pages of the
    process it was forked from, so the parent must never hold the million texts."""
    command = [sys.executable, __file__, "write-corpora", json.dumps(sizes), str(n_long)]
    subprocess.run(command, check=True)
    names = [f"short-{n}" for n in sizes] + ([f"long-{n_long}"] if n_long else [])
    return {name: RUNS / f"{name}.csv" for name in names}


def main() -> None:
    if sys.argv[1:2] == ["bertopic-worker"]:
        bertopic_worker(*sys.argv[2:4])
        return
    if sys.argv[1:2] == ["write-corpora"]:
        corpus_files(json.loads(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help="short-text corpus sizes")
    parser.add_argument("--long", type=int, default=LONG_POSTS, help="long posts (0: none)")
    parser.add_argument("--bertopic", type=int, default=SIZES[1], help="BERTopic on this many short texts (0: none)")
    parser.add_argument("--table-only", action="store_true", help="rewrite the page from the recorded rows")
    parser.add_argument("--record", default="rows", help="name of the rows file under benchmarks/runs/scale-default")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    record = RUNS / f"{args.record}.json"
    if not args.table_only:
        files = write_corpora_in_a_child(sorted(set(args.sizes) | ({args.bertopic} - {0})), args.long)
        rows = [textcluster_cell(name, path) for name, path in files.items()]
        if args.bertopic:
            rows.append(bertopic_cell(f"short-{args.bertopic}", files[f"short-{args.bertopic}"]))
        record.write_text(json.dumps(rows, indent=2))
    rows = json.loads(record.read_text())
    shown = [word for word in sys.argv[1:] if word != "--table-only"]
    write_page(rows, " ".join(["python benchmarks/scale_default.py", *shown]), args.out)


if __name__ == "__main__":
    main()
