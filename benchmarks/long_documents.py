"""How should the default sentence encoder embed a long document: its first 128, 256 or 512 tokens, or its
consecutive token windows pooled? Clustering quality against documents per second (issue 24).

    python benchmarks/long_documents.py --sample 1500 --seeds 3 [--first 128 256 512]

On a random sample (seed 0, the sample benchmarks/static_encoder.py draws) of 20 Newsgroups-test posts, each
variant embeds every post with all-MiniLM-L6-v2 (textcluster's ``encoder=pretrained``, torch float32, CPU,
batch 64):

* ``first N tokens``: ``max_length: N`` (256 is the default; 512 is the model's position limit, but MiniLM
  was trained on 128-token inputs and 256-token ones at most, so 512 is an extrapolation);
* ``chunks of W, mean of <= CAP``: the post's tokens cut into consecutive windows of W tokens ([CLS] and [SEP]
  included, as in a truncated input), the first CAP windows embedded, the post = the mean of the unit chunk
  vectors, normalised again; ``token-weighted`` is the same pass, each chunk weighted by its tokens (so a short
  last window does not count as much as a full one).

Each post's embedding is scored by k-means at the true k (20, n_init 10, ``--seeds`` seeds; NMI and ACC by
Hungarian matching, benchmarks/static_encoder.py's helper) alone and as the default text recipe
(``encoder=hybrid``) sees it: beside the posts' LSA half, computed once by HybridEncoder's fit/lexical. Speed:
one timed pass per variant (tokenising included), documents per second of wall time and per CPU-second of the
process (all threads; the steadier figure on a shared machine). Writes benchmarks/results/long-documents.md
(``--output``; notes below its marker are kept) and a JSON of the numbers beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from encoder_speed import cpu_name
from static_encoder import DEFAULT_DATA, REPO, cell, cpu_timed, load_corpora, log, scores

CORPUS = "20 Newsgroups-test"
CAP = 4  # windows per post at most: a post's first 4 x W tokens, so one huge post costs at most 4 windows
NOTES_MARKER = "<!-- written by hand below: kept when the tables are rewritten -->"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=1500, help="posts (seeded random sample; 0: all)")
    parser.add_argument("--seeds", type=int, default=3, help="k-means seeds per set of vectors")
    parser.add_argument(
        "--first", nargs="+", type=int, default=[128, 256], help="max_length variants (512: the model's limit)"
    )
    parser.add_argument("--chunks", nargs="+", type=int, default=[128, 256], help="window widths W to pool")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="torch threads")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "long-documents.md")
    args = parser.parse_args(argv)
    if 256 not in args.first:
        parser.error("--first needs 256, the default every variant is compared with")
    return args


def token_counts(encoder, texts: list[str]) -> np.ndarray:
    """Tokens per whole post, [CLS] and [SEP] included (what ``max_length`` is compared with)."""
    return np.array([len(row) for row in encoder._token_ids(texts)])


def windows(encoder, texts: list[str], width: int) -> tuple[list[list[int]], np.ndarray]:
    """Each post's first CAP windows of ``width`` tokens (special tokens added to each) and the post of each."""
    from textcluster.encoders.pretrained import CHARS_PER_TOKEN, token_prefix

    tokenizer = encoder.tokenizer_
    inner = width - 2  # [CLS] ... [SEP], MiniLM's (BERT's) special tokens
    # the library's own prefix cut: tokenising a huge post then costs what its first windows cost
    cut = [token_prefix(text, CAP * width * CHARS_PER_TOKEN) for text in texts]
    ids = tokenizer(cut, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    rows, owners = [], []
    for post, row in enumerate(ids):
        for start in range(0, max(len(row), 1), inner)[:CAP]:  # an empty post: one [CLS] [SEP] window
            rows.append([tokenizer.cls_token_id, *row[start : start + inner], tokenizer.sep_token_id])
            owners.append(post)
    return rows, np.array(owners)


def embed_ids(encoder, rows: list[list[int]]) -> np.ndarray:
    """Unit vectors of token-id rows, batched as ``PretrainedEncoder.embed_texts`` batches texts."""
    import torch

    from textcluster.training.batching import length_batches

    output = np.empty((len(rows), encoder.model_.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for batch in length_batches([len(row) for row in rows], encoder.batch_size, longest_first=True):
            input_ids, mask = encoder.batch_tensors([rows[i] for i in batch], torch.device("cpu"))
            pooled = encoder.pool(encoder.forward(input_ids, mask), mask).float()
            output[batch] = torch.nn.functional.normalize(pooled, dim=1).numpy()
    return output


def pool(vectors: np.ndarray, owners: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    total = np.zeros((n, vectors.shape[1]))
    np.add.at(total, owners, vectors * weights[:, None])
    return (total / np.linalg.norm(total, axis=1, keepdims=True)).astype(np.float32)


def chunked(encoder, texts: list[str], width: int) -> dict[str, np.ndarray]:
    """The plain and the token-weighted mean of the chunk vectors (one encoding pass serves both)."""
    rows, owners = windows(encoder, texts, width)
    vectors = embed_ids(encoder, rows)
    lengths = np.array([len(row) for row in rows], dtype=np.float64)
    return {
        "mean": pool(vectors, owners, np.ones(len(rows)), len(texts)),
        "token-weighted": pool(vectors, owners, lengths, len(texts)),
        "chunks": len(rows),
    }


def lexical_half(texts: list[str]) -> np.ndarray:
    """What ``encoder=hybrid`` puts beside the semantic half of these posts: weight x unit LSA vectors."""
    from textcluster.dataset import Dataset
    from textcluster.encoders.hybrid import HybridEncoder

    posts = Dataset(name="posts", texts=texts)
    hybrid = HybridEncoder(semantic="transformer", device="cpu").fit(posts)  # loads MiniLM, embeds nothing
    return hybrid.lexical_weight_ * hybrid.lexical(posts)


def measure(args: argparse.Namespace) -> dict:
    import torch

    from textcluster.encoders.pretrained import PretrainedEncoder

    torch.set_num_threads(args.threads)
    corpus = next(c for c in load_corpora(args.data_dir) if c.name == CORPUS)
    n = len(corpus.texts)
    size = n if args.sample <= 0 else min(args.sample, n)
    rows = np.sort(np.random.default_rng(0).permutation(n)[:size])  # static_encoder.py's sample
    texts, labels = [corpus.texts[i] for i in rows], corpus.labels[rows]

    # one set of weights for every variant: max_length only decides the truncation
    full = PretrainedEncoder(max_length=512, device="cpu", dtype="float32", backend="torch").load()
    # the first forward passes pay one-off costs (thread pools, kernel selection): not part of the speed
    full.embed_texts(["warm up the model " * n for n in range(1, 129, 2)])
    tokens = token_counts(full, texts)
    lexical = lexical_half(texts)
    log(f"{size} posts, median {np.median(tokens):.0f} tokens; LSA half {lexical.shape[1]} dims")

    variants: dict[str, dict] = {}
    for max_length in args.first:
        full.max_length = max_length
        log(f"first {max_length} tokens ...")
        vectors, wall, cpu = cpu_timed(full.embed_texts, texts)
        name = f"first {max_length} tokens" + (" (default)" if max_length == 256 else "")
        variants[name] = {"vectors": vectors, "wall": wall, "cpu": cpu, "inputs": size}
    full.max_length = 512
    for width in args.chunks:
        log(f"chunks of {width} ...")
        pooled, wall, cpu = cpu_timed(chunked, full, texts, width)
        for how in ("mean", "token-weighted"):
            name = f"chunks of {width}, {how} of <= {CAP}"
            variants[name] = {"vectors": pooled[how], "wall": wall, "cpu": cpu, "inputs": pooled["chunks"]}

    results = []
    for name, v in variants.items():
        log(f"k-means: {name}")
        results.append(
            {
                "variant": name,
                "encoder_inputs": v["inputs"],
                "wall_s": v["wall"],
                "cpu_s": v["cpu"],
                "docs_per_s": size / v["wall"],
                "docs_per_cpu_s": size / v["cpu"],
                "alone": scores(v["vectors"], labels, corpus.true_k, args.seeds),
                "hybrid": scores(np.hstack([v["vectors"], lexical]), labels, corpus.true_k, args.seeds),
            }
        )
    return {
        "corpus": CORPUS,
        "posts": size,
        "of": n,
        "k": corpus.true_k,
        "seeds": args.seeds,
        "threads": args.threads,
        "cap": CAP,
        "torch": torch.__version__,
        "tokens": {
            "median": float(np.median(tokens)),
            "mean": float(np.mean(tokens)),
            **{f"over_{m}": float(np.mean(tokens > m)) for m in (128, 256, 512, 1024)},
        },
        "variants": results,
    }


def write(result: dict, args: argparse.Namespace) -> str:
    t = result["tokens"]
    base = next(r for r in result["variants"] if r["variant"].endswith("(default)"))
    lines = [
        "# Long documents: first tokens or pooled chunks (issue 24)",
        "",
        f"Written by `python benchmarks/long_documents.py --sample {args.sample} --seeds {args.seeds} --first "
        f"{' '.join(map(str, args.first))} --chunks {' '.join(map(str, args.chunks))} --threads {args.threads}` "
        f"on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {cpu_name()}, {os.cpu_count()} cores "
        "**shared with other agents working at the same time** (wall times are upper bounds, swinging with their "
        f"load; docs/CPU-s is the steadier figure), torch {result['torch']} with {result['threads']} threads, "
        f"Python {platform.python_version()}.",
        "",
        f"{result['posts']:,} of {result['of']:,} {result['corpus']} posts (random sample, seed 0), k = {result['k']}. "
        f"Tokens per post ([CLS] and [SEP] included): median {t['median']:.0f}, mean {t['mean']:.0f}; "
        f"**{t['over_128']:.0%} are longer than 128 tokens, {t['over_256']:.0%} longer than 256**, "
        f"{t['over_512']:.0%} longer than 512, {t['over_1024']:.0%} longer than 1,024.",
        "",
        "MiniLM (all-MiniLM-L6-v2, `encoder=pretrained`, torch float32, CPU, batch 64). Chunks: consecutive "
        f"windows of W tokens (special tokens included), at most {result['cap']} per post (its first "
        f"{result['cap']} x W tokens), each embedded, the post = mean of the unit chunk vectors, renormalised "
        "(token-weighted: each chunk weighted by its length; the same encoding pass, so the same speed). Hybrid: "
        "each variant beside the posts' LSA half of `encoder=hybrid` (computed once; long posts: weight 1.0, "
        f"max_df 0.5). k-means at the true k, n_init 10, {result['seeds']} seeds: mean ± sd. Speed: one timed "
        "pass per variant, tokenising included; inputs = sequences the model ran.",
        "",
        "| variant | inputs | docs/s wall | docs/CPU-s | NMI | ACC | NMI hybrid | ACC hybrid | ΔNMI | ΔNMI hybrid "
        "| CPU cost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["variants"]:
        lines.append(
            f"| {r['variant']} | {r['encoder_inputs']:,} | {r['docs_per_s']:.1f} | {r['docs_per_cpu_s']:.1f} | "
            f"{cell(r['alone']['nmi'])} | {cell(r['alone']['acc'])} | {cell(r['hybrid']['nmi'])} | "
            f"{cell(r['hybrid']['acc'])} | {r['alone']['nmi'][0] - base['alone']['nmi'][0]:+.3f} | "
            f"{r['hybrid']['nmi'][0] - base['hybrid']['nmi'][0]:+.3f} | {r['cpu_s'] / base['cpu_s']:.2f}x |"
        )
    lines += ["", "Δ and CPU cost: against the default, first 256 tokens."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    args = parse_args(argv)
    result = measure(args)
    text = write(result, args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    notes = args.output.read_text().partition(NOTES_MARKER)[2] if args.output.is_file() else ""
    args.output.write_text(text + "\n" + NOTES_MARKER + (notes or "\n"))
    args.output.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
