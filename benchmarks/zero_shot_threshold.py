"""How precise zero-shot topics are by similarity threshold (topics.zero_shot_min_similarity).

    python benchmarks/zero_shot_threshold.py            # writes benchmarks/results/guided-topics.json

For each dev corpus (SearchSnippets, StackOverflow, 20 Newsgroups test, BANKING77 test; a class-balanced
sample from the shared data folder) the class names, written as a user would (``sci.space`` -> "space"),
are the zero-shot topic names. Each document is embedded by the encoder (``encoder=pretrained`` as it is,
and ``encoder=hybrid`` fitted on the sample, the default text recipe), each name too, and a document takes
the name of highest cosine similarity when that similarity reaches the threshold, as the pipeline does
(:mod:`textcluster.topics.guided`). Per threshold: ``coverage`` (share of documents that took a name) and
``precision`` (share of those whose name is their class). Two settings: ``all`` names, and ``half`` (the
names of every other class only, so the documents of the other classes can only be wrong matches: what
a user who names a few expected topics gets).

The MiniLM half of the hybrid code is the pretrained embedding itself, so each corpus is encoded once.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from run import HERE, data_dir

from textcluster.contracts import TrainingContext
from textcluster.dataset import Dataset
from textcluster.registry import encoders

THRESHOLDS = [round(t, 2) for t in np.arange(0.1, 0.71, 0.05)]
SNIPPET_NAMES = ["business", "computers", "culture arts entertainment", "education science"]
SNIPPET_NAMES += ["engineering", "health", "politics society", "sports"]
STACK_NAMES = ["wordpress", "oracle", "svn", "apache", "excel", "matlab", "visual studio", "cocoa", "osx", "bash"]
STACK_NAMES += ["spring", "hibernate", "scala", "sharepoint", "ajax", "qt", "drupal", "linq", "haskell", "magento"]
NEWS_NAMES = {
    "alt.atheism": "atheism",
    "comp.graphics": "computer graphics",
    "comp.os.ms-windows.misc": "microsoft windows",
    "comp.sys.ibm.pc.hardware": "pc hardware",
    "comp.sys.mac.hardware": "mac hardware",
    "comp.windows.x": "x window system",
    "misc.forsale": "for sale",
    "rec.autos": "cars",
    "rec.motorcycles": "motorcycles",
    "rec.sport.baseball": "baseball",
    "rec.sport.hockey": "hockey",
    "sci.crypt": "cryptography",
    "sci.electronics": "electronics",
    "sci.med": "medicine",
    "sci.space": "space",
    "soc.religion.christian": "christianity",
    "talk.politics.guns": "guns",
    "talk.politics.mideast": "middle east politics",
    "talk.politics.misc": "politics",
    "talk.religion.misc": "religion",
}


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines()


def corpus(name: str, data: Path, per_class: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[str]]:
    """(texts, class index, class names) of a class-balanced sample."""
    if name in ("searchsnippets", "stackoverflow"):
        stem = {"searchsnippets": "SearchSnippets", "stackoverflow": "StackOverflow"}[name]
        frame = pd.DataFrame({"text": lines(data / name / f"{stem}.txt")})
        frame["y"] = np.array(lines(data / name / f"{stem}_gnd.txt"), dtype=int) - 1
        names = SNIPPET_NAMES if name == "searchsnippets" else STACK_NAMES
    elif name == "20newsgroups":
        frame = pd.read_csv(data / "20newsgroups" / "test.csv")
        classes = sorted(NEWS_NAMES)
        frame["y"] = frame.label.map(classes.index)
        names = [NEWS_NAMES[c] for c in classes]
    else:
        frame = pd.read_csv(data / "banking77" / "test.csv")
        classes = sorted(frame.category.unique())
        frame["y"] = frame.category.map(classes.index)
        names = [c.replace("_", " ") for c in classes]
    sample = frame.sample(frac=1.0, random_state=seed).groupby("y").head(per_class)
    return sample.text.fillna("").astype(str).tolist(), sample.y.to_numpy(), names


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def curve(docs: np.ndarray, names: np.ndarray, truth: np.ndarray, given: np.ndarray) -> list[dict]:
    """Coverage and precision per threshold when only the names ``given`` (class indices) are listed."""
    similarity = unit(docs) @ unit(names[given]).T
    best, top = given[similarity.argmax(axis=1)], similarity.max(axis=1)
    rows = []
    for threshold in THRESHOLDS:
        took = top >= threshold
        precision = float((best[took] == truth[took]).mean()) if took.any() else float("nan")
        rows.append(
            {"threshold": threshold, "coverage": round(float(took.mean()), 4), "precision": round(precision, 4)}
        )
    return rows


def encode(name: str, data: Path, per_class: int, max_length: int, store: Path | None) -> dict:
    """The sample's documents and class names in both spaces (kept in ``store`` to measure again for free)."""
    cached = None if store is None else store / f"zero-shot-{name}-{per_class}-{max_length}.npz"
    if cached is not None and cached.exists():
        return dict(np.load(cached))
    texts, truth, names = corpus(name, data, per_class)
    pretrained = encoders.build({"name": "pretrained", "max_length": max_length}, where="encoder")
    semantic = pretrained.fit_transform(Dataset.from_documents(texts), TrainingContext())
    name_semantic = pretrained.transform(Dataset.from_documents(names))
    hybrid = encoders.build({"name": "hybrid", "max_length": max_length, "semantic": "transformer"}, where="encoder")
    hybrid.fit(Dataset.from_documents(texts))
    weight = hybrid.lexical_weight_
    arrays = {
        "truth": truth,
        "pretrained_docs": semantic,
        "pretrained_names": name_semantic,
        "hybrid_docs": np.hstack([semantic, weight * hybrid.lexical(Dataset.from_documents(texts))]),
        "hybrid_names": np.hstack([name_semantic, weight * hybrid.lexical(Dataset.from_documents(names))]),
    }
    if cached is not None:
        np.savez(cached, **arrays)
    return arrays


def measure(name: str, data: Path, per_class: int, max_length: int, store: Path | None) -> dict:
    start = time.perf_counter()
    arrays = encode(name, data, per_class, max_length, store)
    truth = arrays["truth"]
    n_names = len(arrays["pretrained_names"])
    everything, half = np.arange(n_names), np.arange(0, n_names, 2)
    result = {"documents": len(truth), "classes": n_names}
    for space in ("pretrained", "hybrid"):
        docs, names = arrays[f"{space}_docs"], arrays[f"{space}_names"]
        for rule, (d, n) in {"raw": (docs, names), "centred": centred(docs, names)}.items():
            result[f"{space}/{rule}"] = {
                "all": curve(d, n, truth, everything),
                "half": curve(d, n, truth, half),
            }
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def centred(docs: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Documents and names less the corpus' mean document (the direction every document of a corpus shares)."""
    mean = docs.mean(axis=0)
    return docs - mean, names - mean


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--corpora", nargs="+", default=["searchsnippets", "stackoverflow", "20newsgroups", "banking77"]
    )
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "guided-topics.json")
    parser.add_argument("--store", type=Path, default=None, help="a folder to keep the embeddings in")
    args = parser.parse_args()
    data = data_dir()
    per_class = {"banking77": max(args.per_class // 6, 5)}  # 77 classes: 10 a class is 770 queries
    results = {
        name: measure(name, data, per_class.get(name, args.per_class), args.max_length, args.store)
        for name in args.corpora
    }
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    for name, result in results.items():
        for space in [key for key in result if "/" in key]:
            for given in ("all", "half"):
                row = " ".join(
                    f"{r['threshold']:.2f}:{r['precision']:.2f}/{r['coverage']:.2f}" for r in result[space][given]
                )
                print(f"{name:15s} {space:18s} {given:4s} {row}")


if __name__ == "__main__":
    main()
