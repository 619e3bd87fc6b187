"""What share of the pretrained encoder's CPU time goes to tokenising: the most that overlapping the
tokenizer with the model (a second thread feeding batches) could save.

    python benchmarks/tokenise_share.py     # writes benchmarks/results/tokenise-share.md

CPU seconds of the process (all threads), so the share does not depend on other load on the machine.
"""

from __future__ import annotations

import time
from datetime import datetime

import pandas as pd
from run import HERE, data_dir

from textcluster.encoders.pretrained import PretrainedEncoder
from textcluster.machine import available_cores


def corpora() -> dict[str, list[str]]:
    data = data_dir()
    snippets = (data / "searchsnippets" / "SearchSnippets.txt").read_text(encoding="utf-8-sig").splitlines()
    posts = pd.read_csv(data / "20newsgroups" / "test.csv")["text"].fillna("").astype(str).tolist()
    return {"SearchSnippets, first 1,000": snippets[:1000], "20 Newsgroups-test, first 300 posts": posts[:300]}


def cpu_seconds(work) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def main() -> None:
    encoder = PretrainedEncoder().load()
    encoder.embed_texts(["warm-up"])
    rows = []
    for name, texts in corpora().items():
        tokenise = cpu_seconds(lambda texts=texts: encoder.tokenize(texts))
        embed = cpu_seconds(lambda texts=texts: encoder.embed_texts(texts))  # tokenises again, then the model
        rows.append(f"| {name} | {tokenise:.3f} | {embed:.2f} | {tokenise / embed:.1%} |")
    lines = [
        "# Tokenising against encoding (encoder=pretrained, torch float32, CPU)",
        "",
        f"`python benchmarks/tokenise_share.py`, {datetime.now():%Y-%m-%d %H:%M}, {available_cores()} cores; CPU",
        "seconds of the process. The share is the most that running the tokenizer beside the model could save.",
        "",
        "| texts | tokenise (CPU s) | tokenise + embed (CPU s) | share |",
        "| --- | ---: | ---: | ---: |",
        *rows,
    ]
    path = HERE / "results" / "tokenise-share.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
