"""Pipeline.partial_fit on real data (issue 25, item 6): which new documents fit, which form new topics.

    .venv/bin/python benchmarks/partial_fit.py [--corpora 20ng banking77] [--encoders default pretrained]
        [--seeds 0 1] [--per-class 150] [--sensitivity-seeds 0]

Each setting fits the text recipe (``clusterer.n_clusters`` = the number of fitted classes) on ``--per-class``
documents of each "seen" class, then applies ``partial_fit`` to a fresh copy of the fitted pipeline for each
batch: (a) more documents of the seen classes, (b) documents of one unseen class, (c) the two together. Per
batch: the share of documents that fit no cluster (the rule: clustered (UMAP) space, FIT_QUANTILE of the
cluster's own training distances; and, for comparison, the same rule in the encoder space, computed here from
``pipeline.embeddings_``), the new topics (count, sizes, purity = share of their documents from the unseen
class, keywords), and after the update the share of a held-out set of the unseen class and of the seen
classes that ``predict`` sends to a new topic.

Documents are encoded once: ``Pipeline.embed`` of each fitted pipeline is memoised on the instance (the
pipeline's embedding cache covers ``fit`` only; ``predict`` and ``partial_fit`` re-encode otherwise).

The sensitivity part MONKEYPATCHES the module constants ``textcluster.clusterers.memberships.FIT_QUANTILE``
(the fitted geometry's radii are recomputed with it) and ``textcluster.topic_editing.NEW_TOPIC_SHARE`` (read
by partial_fit), restoring them afterwards. Writes ``benchmarks/results/partial-fit.md``.
"""

from __future__ import annotations

import argparse
import copy
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import textcluster.clusterers.memberships as memberships  # noqa: E402
import textcluster.topic_editing as topic_editing  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results" / "partial-fit.md"
START = time.perf_counter()
DIAGNOSTICS: list[dict] = []

CORPORA = {
    # name -> (seen classes, unseen classes, sizes: fit per class, batch per class, unseen batch, held per class,
    # held unseen)
    "20ng": (
        ["comp.graphics", "rec.sport.hockey", "sci.med", "talk.politics.guns"],
        ["sci.space", "soc.religion.christian", "comp.windows.x"],
        None,  # from the command line
    ),
    "banking77": (
        [
            "activate_my_card",
            "card_arrival",
            "exchange_rate",
            "lost_or_stolen_card",
            "pending_transfer",
            "top_up_failed",
            "cash_withdrawal_charge",
            "change_pin",
            "request_refund",
            "country_support",
        ],
        ["apple_pay_or_google_pay", "pending_top_up"],
        (60, 20, 60, 20, 40),
    ),
}
ENCODERS = {
    "default": {},  # the text recipe: encoder=hybrid, reducer=umap_text
    # a named encoder gets no reducer unless one is named: UMAP here, as the text recipe has it
    "pretrained": {"encoder": "pretrained", "encoder.max_length": 64, "reducer": "umap_text"},
    # what from_config gives for encoder=pretrained alone: no reducer, the clustered space is the encoder's
    "pretrained-noumap": {"encoder": "pretrained", "encoder.max_length": 64},
}


def say(message: str) -> None:
    print(f"[{time.perf_counter() - START:6.0f} s] {message}", file=sys.stderr, flush=True)


def load(corpus: str) -> pd.DataFrame:
    if corpus == "20ng":
        return pd.read_csv(DATA / "20newsgroups" / "test.csv")
    frames = [pd.read_csv(DATA / "banking77" / f"{split}.csv") for split in ("train", "test")]
    return pd.concat(frames, ignore_index=True).rename(columns={"category": "label"})


def sample(frame: pd.DataFrame, seen, unseen, sizes, seed: int) -> dict:
    """Disjoint seeded samples: fit, same-class batch, held-out seen; per unseen class a batch and a held-out."""
    fit_n, batch_n, unseen_n, held_n, held_unseen_n = sizes
    rng = np.random.default_rng(seed)
    parts = {"fit": [], "same": [], "held_seen": []}
    for label in seen:
        rows = rng.permutation(np.flatnonzero(frame.label.to_numpy() == label))
        cuts = np.cumsum([fit_n, batch_n, held_n])
        for name, chosen in zip(parts, np.split(rows[: cuts[-1]], cuts[:-1])):
            parts[name].append(frame.iloc[chosen])
    out = {name: pd.concat(chunks, ignore_index=True) for name, chunks in parts.items()}
    for label in unseen:
        rows = rng.permutation(np.flatnonzero(frame.label.to_numpy() == label))
        out[("batch", label)] = frame.iloc[rows[:unseen_n]].reset_index(drop=True)
        out[("held", label)] = frame.iloc[rows[unseen_n : unseen_n + held_unseen_n]].reset_index(drop=True)
    return out


def memoise_embed(pipeline, texts: list[str]) -> None:
    """Encode ``texts`` once with the fitted encoder; ``pipeline.embed`` then looks them up (copies share it)."""
    unique = list(dict.fromkeys(texts))
    vectors = pipeline.embed(unique)
    row = {text: i for i, text in enumerate(unique)}

    def embed(documents):
        given = documents.texts if hasattr(documents, "texts") else documents
        return vectors[[row[text] for text in given]]

    pipeline.embed = embed


def encoder_geometry(pipeline) -> tuple[np.ndarray, np.ndarray]:
    """Centres and FIT_QUANTILE radii of the fitted clusters in the encoder space (the same rule, other space)."""
    vectors, labels = np.asarray(pipeline.embeddings_, dtype=np.float64), np.asarray(pipeline.cluster_labels_)
    ids = pipeline.cluster_geometry_.ids
    centres = np.stack([vectors[labels == i].mean(axis=0) for i in ids])
    radii = np.array(
        [
            np.quantile(np.linalg.norm(vectors[labels == i] - c, axis=1), memberships.FIT_QUANTILE)
            for i, c in zip(ids, centres)
        ]
    )
    return centres, radii


def update(base, batch: pd.DataFrame, unseen: str | None, held: dict, geometry=None) -> dict:
    """partial_fit a copy of ``base`` with ``batch``; the measures of one batch."""
    pipeline = copy.deepcopy(base, memo={id(base.encoder_): base.encoder_})
    if geometry is not None:
        pipeline.cluster_geometry_ = copy.deepcopy(geometry)  # partial_fit moves the centres in place
    before = copy.deepcopy(pipeline.cluster_geometry_)
    new_size = pipeline._new_topic_size()  # the smallest dense group that becomes a topic, before the update
    n = len(batch)
    pipeline.partial_fit(list(batch.text))
    record = pipeline.updates_[-1]
    truth = batch.label.to_numpy()
    is_unseen = truth == unseen
    # the rule, recomputed here to split it by origin (same centres and radii as partial_fit's)
    reduced = np.asarray(pipeline.reduced_[-n:], dtype=np.float64)
    assigned, _ = base.clusterer_.predict_scores(reduced)  # the fitted clusterer's cluster, as partial_fit's
    rows = np.searchsorted(before.ids, assigned)
    unfit = np.linalg.norm(reduced - before.centres[rows], axis=1) > before.radii[rows]
    if int(unfit.sum()) != record["unfit"]:
        say(f"  note: recomputed unfit {int(unfit.sum())} vs partial_fit's {record['unfit']}")
    vectors = np.asarray(pipeline.embeddings_[-n:], dtype=np.float64)
    centres, radii = base.encoder_geometry_
    unfit_encoder = np.linalg.norm(vectors - centres[rows], axis=1) > radii[rows]
    labels = np.asarray(pipeline.labels_[-n:])
    new = [int(t) for t in record["new_topics"]]
    info = pipeline.topic_info().set_index("topic")
    topics = []
    for topic in new:
        members = labels == topic
        classes = pd.Series(truth[members]).value_counts()
        keywords = info.loc[topic, "keywords"]
        keywords = keywords if isinstance(keywords, str) else ", ".join(map(str, list(keywords)[:6]))
        topics.append(
            {
                "size": int(members.sum()),
                "purity": float(is_unseen[members].mean()) if members.any() else 0.0,
                "majority": f"{classes.index[0]} {classes.iloc[0] / members.sum():.0%}" if members.any() else "",
                "keywords": ", ".join(keywords.split(", ")[:6]),
            }
        )
    to_new = {}
    for name, frame in held.items():
        to_new[name] = float(np.isin(pipeline.predict(list(frame.text)), new).mean()) if new else 0.0
    return {
        "documents": n,
        "unfit": float(unfit.mean()),
        "unfit_seen": float(unfit[~is_unseen].mean()) if (~is_unseen).any() else None,
        "unfit_unseen": float(unfit[is_unseen].mean()) if is_unseen.any() else None,
        "unfit_encoder": float(unfit_encoder.mean()),
        "unfit_encoder_seen": float(unfit_encoder[~is_unseen].mean()) if (~is_unseen).any() else None,
        "unfit_encoder_unseen": float(unfit_encoder[is_unseen].mean()) if is_unseen.any() else None,
        "topics": topics,
        "unseen_in_new": float(np.isin(labels[is_unseen], new).mean()) if is_unseen.any() and new else 0.0,
        "seen_in_new": float(np.isin(labels[~is_unseen], new).mean()) if (~is_unseen).any() and new else 0.0,
        "held": to_new,
        "new_size": new_size,
    }


def fit(corpus: str, encoder: str, data: dict, n_classes: int, seed: int):
    from textcluster import Pipeline

    settings = {
        "clusterer.n_clusters": n_classes,
        "cache": True,
        "cache_dir": "/tmp/pf-cache",
        "seed": seed,
        **ENCODERS[encoder],
    }
    started = time.perf_counter()
    pipeline = Pipeline.from_config(settings).fit(list(data["fit"].text))
    sizes = sorted(t.size for t in pipeline.topics_.topics if not t.is_noise)
    say(f"{corpus} {encoder} seed {seed}: fitted in {time.perf_counter() - started:.0f} s, topic sizes {sizes}")
    started = time.perf_counter()
    texts = list(data["same"].text) + list(data["held_seen"].text)
    texts += [text for key, frame in data.items() if isinstance(key, tuple) for text in frame.text]
    memoise_embed(pipeline, texts)
    pipeline.encoder_geometry_ = encoder_geometry(pipeline)
    say(f"  encoded {len(texts)} new documents in {time.perf_counter() - started:.0f} s")
    # the fit's own documents passed through the reducer's transform, as new documents are: how many of them
    # the radii (from the fit's embedding of them) leave out, and the radii their transformed positions give
    geometry, labels = pipeline.cluster_geometry_, np.asarray(pipeline.cluster_labels_)
    again = np.asarray(pipeline.reducer_.transform(np.asarray(pipeline.embeddings_)), dtype=np.float64)
    twice = np.asarray(pipeline.reducer_.transform(np.asarray(pipeline.embeddings_)), dtype=np.float64)
    rows = np.searchsorted(geometry.ids, labels)
    distances = np.linalg.norm(again - geometry.centres[rows], axis=1)
    radii = np.array([np.quantile(distances[rows == r], memberships.FIT_QUANTILE) for r in range(len(geometry.ids))])
    shift = np.linalg.norm(again - np.asarray(pipeline.reduced_, dtype=np.float64), axis=1)
    diagnostic = {
        "corpus": corpus,
        "encoder": encoder,
        "seed": seed,
        "unfit": float((distances > geometry.radii[rows]).mean()),
        "shift": float(np.median(shift / geometry.radii[rows])),
        "ratio": float(np.median(radii / geometry.radii)),
        "repeat": float(np.abs(again - twice).max()),
    }
    DIAGNOSTICS.append(diagnostic)
    say(f"  fit documents re-transformed: {diagnostic}")
    return pipeline, sizes


def pct(value) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def topics_cell(result: dict, key: str) -> str:
    if not result["topics"]:
        return "0"
    return "; ".join(f"{t[key]}" if key != "purity" else f"{100 * t['purity']:.0f}%" for t in result["topics"])


def run_main(args, rows: list[dict], keywords: list[str]) -> None:
    for corpus in args.corpora:
        seen, unseen_classes, sizes = CORPORA[corpus]
        if sizes is None:
            sizes = (args.per_class, args.batch_per_class, args.unseen_batch, args.held_out, args.held_out_unseen)
        frame = load(corpus)
        unseen_classes = unseen_classes[: args.unseen]
        for encoder in args.encoders:
            for seed in args.seeds if encoder == "default" else args.seeds[:1]:
                data = sample(frame, seen, unseen_classes, sizes, seed)
                base, fitted_sizes = fit(corpus, encoder, data, len(seen), seed)
                batches = [("same", None, data["same"])]
                for label in unseen_classes:
                    batches.append(("unseen", label, data[("batch", label)]))
                    mixed = pd.concat([data["same"], data[("batch", label)]], ignore_index=True)
                    batches.append(("mixed", label, mixed))
                for kind, label, batch in batches:
                    started = time.perf_counter()
                    held = {"seen": data["held_seen"]}
                    if label is not None:
                        held["unseen"] = data[("held", label)]
                    result = update(base, batch, label, held)
                    row = {
                        "corpus": corpus,
                        "encoder": encoder,
                        "seed": seed,
                        "kind": kind,
                        "unseen": label or "-",
                        "min_topic": min(fitted_sizes),
                        **result,
                    }
                    rows.append(row)
                    for t in result["topics"]:
                        keywords.append(
                            f"| {corpus} | {encoder} | {seed} | {kind} | {label or '-'} | {t['size']} "
                            f"| {100 * t['purity']:.0f}% | {t['majority']} | {t['keywords']} |"
                        )
                    say(
                        f"  {kind:6s} {label or '-':24s} n={result['documents']} unfit {pct(result['unfit'])} "
                        f"(encoder {pct(result['unfit_encoder'])}) new {[t['size'] for t in result['topics']]} "
                        f"purity {[round(t['purity'], 2) for t in result['topics']]} "
                        f"held unseen->new {pct(result['held'].get('unseen'))} seen->new {pct(result['held']['seen'])} "
                        f"({time.perf_counter() - started:.0f} s)"
                    )


def run_sensitivity(args, lines: list[str]) -> None:
    seen, unseen_classes, _ = CORPORA["20ng"]
    sizes = (args.per_class, args.batch_per_class, args.unseen_batch, args.held_out, args.held_out_unseen)
    frame = load("20ng")
    unseen_classes = unseen_classes[: args.unseen]
    quantile, share = memberships.FIT_QUANTILE, topic_editing.NEW_TOPIC_SHARE
    for encoder, seed in [(e, s) for e in args.sensitivity_encoders for s in args.sensitivity_seeds]:
        data = sample(frame, seen, unseen_classes, sizes, seed)
        base, fitted_sizes = fit("20ng", encoder, data, len(seen), seed)
        try:
            for q in args.quantiles:
                memberships.FIT_QUANTILE = q
                geometry = memberships.ClusterGeometry.fit(base.reduced_, base.cluster_labels_)
                for s in args.shares:
                    topic_editing.NEW_TOPIC_SHARE = s
                    started = time.perf_counter()
                    same = update(base, data["same"], None, {"seen": data["held_seen"]}, geometry)
                    found, false_mixed, unseen_unfit, caught, held_new = 0, 0, [], [], []
                    for label in unseen_classes:
                        held = {"unseen": data[("held", label)]}
                        alone = update(base, data[("batch", label)], label, held, geometry)
                        mixed = pd.concat([data["same"], data[("batch", label)]], ignore_index=True)
                        both = update(base, mixed, label, held, geometry)
                        found += any(t["purity"] >= 0.5 for t in alone["topics"])
                        found += any(t["purity"] >= 0.5 for t in both["topics"])
                        false_mixed += sum(t["purity"] < 0.5 for t in both["topics"])
                        unseen_unfit.append(alone["unfit"])
                        caught += [alone["unseen_in_new"], both["unseen_in_new"]]
                        held_new += [alone["held"]["unseen"], both["held"]["unseen"]]
                    lines.append(
                        f"| {encoder} | {seed} | {q} | {s} | {same['new_size']} | {pct(same['unfit'])} "
                        f"| {len(same['topics'])} ({sum(t['size'] for t in same['topics'])} docs) "
                        f"| {false_mixed} | {pct(np.mean(unseen_unfit))} | {found}/{2 * len(unseen_classes)} "
                        f"| {pct(np.mean(caught))} | {pct(np.mean(held_new))} |"
                    )
                    say(f"  q={q} share={s}: {lines[-1]} ({time.perf_counter() - started:.0f} s)")
        finally:
            memberships.FIT_QUANTILE, topic_editing.NEW_TOPIC_SHARE = quantile, share


def main_table(rows: list[dict]) -> list[str]:
    out = [
        "| corpus | encoder | seed | batch | unseen class | docs | unfit (UMAP, the rule) | unfit seen / unseen "
        "| unfit (encoder space) seen / unseen | new topics: sizes | purity | batch's unseen docs in new "
        "| held-out unseen -> new | held-out seen -> new |",
        "|" + "---|" * 14,
    ]
    for r in rows:
        out.append(
            f"| {r['corpus']} | {r['encoder']} | {r['seed']} | {r['kind']} | {r['unseen']} | {r['documents']} "
            f"| {pct(r['unfit'])} | {pct(r['unfit_seen'])} / {pct(r['unfit_unseen'])} "
            f"| {pct(r['unfit_encoder_seen'])} / {pct(r['unfit_encoder_unseen'])} "
            f"| {topics_cell(r, 'size')} | {topics_cell(r, 'purity')} "
            f"| {pct(r['unseen_in_new']) if r['kind'] != 'same' else '-'} "
            f"| {pct(r['held'].get('unseen'))} | {pct(r['held']['seen'])} |"
        )
    return out


def summary(rows: list[dict]) -> list[str]:
    """Means per corpus, encoder and batch kind."""
    out = [
        "| corpus | encoder | batch | runs | unfit seen (UMAP) | unfit unseen (UMAP) | unfit seen (encoder) "
        "| unfit unseen (encoder) | runs with a new topic | false new topics (purity < 50%) "
        "| held-out unseen -> new | held-out seen -> new |",
        "|" + "---|" * 12,
    ]
    frame = pd.DataFrame(rows)
    for (corpus, encoder, kind), group in frame.groupby(["corpus", "encoder", "kind"], sort=False):

        def mean(column, group=group):
            values = [v for v in group[column] if v is not None and pd.notna(v)]
            return pct(np.mean(values)) if values else "-"

        with_topic = sum(bool(t) for t in group.topics)
        false = sum(sum(x["purity"] < 0.5 for x in t) for t in group.topics)
        held_unseen = [h.get("unseen") for h in group.held if h.get("unseen") is not None]
        out.append(
            f"| {corpus} | {encoder} | {kind} | {len(group)} | {mean('unfit_seen')} | {mean('unfit_unseen')} "
            f"| {mean('unfit_encoder_seen')} | {mean('unfit_encoder_unseen')} "
            f"| {with_topic}/{len(group)} | {false} "
            f"| {pct(np.mean(held_unseen)) if held_unseen else '-'} | {pct(np.mean([h['seen'] for h in group.held]))} |"
        )
    return out


PROSE = "## What this says about the defaults"


def kept_prose(path: Path) -> list[str]:
    """The hand-written reading of the numbers in an earlier results file (kept when the tables are rewritten)."""
    if not path.exists() or PROSE not in path.read_text():
        return []
    lines, kept = path.read_text().split("\n"), []
    for line in lines[lines.index(PROSE) :]:
        if kept and line.startswith("## "):
            break
        kept.append(line)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["20ng", "banking77"], choices=list(CORPORA))
    parser.add_argument(
        "--encoders",
        "--encoder",
        nargs="+",
        default=["default", "pretrained", "pretrained-noumap"],
        choices=list(ENCODERS),
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="the pretrained encoder runs the first")
    parser.add_argument("--per-class", type=int, default=150, help="20ng: fitted posts per seen class")
    parser.add_argument("--batch-per-class", type=int, default=50, help="20ng: same-class batch posts per class")
    parser.add_argument("--unseen-batch", type=int, default=100, help="20ng: posts of the unseen class per batch")
    parser.add_argument("--held-out", type=int, default=40, help="20ng: held-out posts per seen class")
    parser.add_argument("--held-out-unseen", type=int, default=60, help="20ng: held-out posts of the unseen class")
    parser.add_argument("--unseen", type=int, default=3, help="how many unseen classes per corpus (in list order)")
    parser.add_argument("--sensitivity-seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument(
        "--sensitivity-encoders", nargs="*", default=["default", "pretrained-noumap"], choices=list(ENCODERS)
    )
    parser.add_argument("--quantiles", type=float, nargs="+", default=[0.9, 0.95, 0.99])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.125, 0.25, 0.5])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    rows, keywords, sensitivity = [], [], []
    run_main(args, rows, keywords)
    run_sensitivity(args, sensitivity)
    command = "python " + " ".join(shlex.quote(a) for a in ["benchmarks/partial_fit.py", *sys.argv[1:]])
    text = [
        "# Pipeline.partial_fit on real data (issue 25, item 6)",
        "",
        f"`{command}` ({time.perf_counter() - START:.0f} s on 2 shared CPU cores)",
        "",
    ]
    text += kept_prose(args.out)
    text += ["## The fit's own documents through the reducer's transform", ""]
    text += [
        "| corpus | encoder | seed | unfit by the fitted radii | median shift / radius "
        "| median re-transformed radius / fitted radius | max difference, two transforms |"
    ]
    text += ["|" + "---|" * 7]
    text += [
        f"| {d['corpus']} | {d['encoder']} | {d['seed']} | {pct(d['unfit'])} | {d['shift']:.2f} | {d['ratio']:.2f} "
        f"| {d['repeat']:.2g} |"
        for d in DIAGNOSTICS
    ]
    text += ["", "## Per batch", "", *main_table(rows), "", "## Means", "", *summary(rows), "", "## New topics", ""]
    text += ["| corpus | encoder | seed | batch | unseen class | size | purity | majority class | keywords |"]
    text += ["|" + "---|" * 9, *keywords, ""]
    if sensitivity:
        text += [
            "## Sensitivity (20 Newsgroups; module constants monkeypatched)",
            "",
            "| encoder | seed | FIT_QUANTILE | NEW_TOPIC_SHARE | min group | same batch unfit "
            "| false new topics, same batch "
            "| false new topics, mixed batches | unseen batch unfit | unseen topics found | unseen docs in new "
            "| held-out unseen -> new |",
            "|" + "---|" * 12,
            *sensitivity,
            "",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    main()
