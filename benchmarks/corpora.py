"""The labelled dev corpora as the benchmarks read them: texts and their labels, from ../shared/data.

Two file layouts: a text file with one document per line beside a file of one label per line
(SearchSnippets, StackOverflow), and CSV tables with a ``text`` column and a label column
(20 Newsgroups, BANKING77). A document that reads "NA" or "null" stays that text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

# the line-per-document corpora: (text file, label file) under the data folder
SNIPPETS = ("searchsnippets/SearchSnippets.txt", "searchsnippets/SearchSnippets_gnd.txt")
STACKOVERFLOW = ("stackoverflow/StackOverflow.txt", "stackoverflow/StackOverflow_gnd.txt")


@dataclass
class Corpus:
    name: str
    texts: list[str]
    labels: np.ndarray
    vectors_of: str | None = None  # a corpus given as vectors: the text corpus whose MiniLM vectors these are

    @property
    def true_k(self) -> int:
        return len(set(self.labels.tolist()))


def read_lines(data: Path, text_file: str, labels_file: str) -> tuple[list[str], np.ndarray]:
    """A text file of one document per line and its labels, one per line (or separated by spaces)."""
    texts = (data / text_file).read_text(encoding="utf-8-sig").splitlines()
    return texts, np.array((data / labels_file).read_text().split())


def read_table(paths: Path | list[Path], label: str) -> tuple[list[str], np.ndarray]:
    """The ``text`` column and the ``label`` column of one or more CSV files, in their order."""
    import pandas as pd

    frame = pd.concat(
        [pd.read_csv(path, keep_default_na=False) for path in ([paths] if isinstance(paths, Path) else paths)]
    )
    return frame["text"].astype(str).tolist(), frame[label].astype(str).to_numpy()
