"""One huge document among short ones: peak memory and wall time of a pretrained-encoder run.

    python benchmarks/huge_document.py                 # prints the command, wall time and peak RSS
    python benchmarks/huge_document.py --mb 8 --keep   # a smaller huge line; keep the temporary folder

The corpus is 299 SearchSnippets lines plus one line of ``--mb`` megabytes
(SearchSnippets' own text, repeated), written to a temporary folder. The run is

    textcluster data=lines data.path=<file> encoder=pretrained clusterer.n_clusters=5 report=false cache=false

under ``/usr/bin/time -v`` (Debian's ``time`` package: ``apt-get install -y time``),
whose peak resident set size covers the whole process. Results:
benchmarks/results/huge-document.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from run import data_dir, textcluster_command

SNIPPETS = 299
TIME = "/usr/bin/time"


def write_corpus(folder: Path, megabytes: float) -> Path:
    lines = (data_dir() / "searchsnippets" / "SearchSnippets.txt").read_text(encoding="utf-8-sig").splitlines()
    size = int(megabytes * 1_000_000)
    text = " ".join(lines)
    huge = (text + " ") * (size // (len(text) + 1) + 1)
    path = folder / "huge-document.txt"
    path.write_text("\n".join(lines[:SNIPPETS] + [huge[:size].strip()]) + "\n", encoding="utf-8")
    return path


def measure(stderr: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) from ``time -v``'s report."""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if wall is None or peak is None:
        raise SystemExit(f"could not read {TIME} -v's report:\n{stderr[-2000:]}")
    hours, minutes, seconds = int(wall.group(1) or 0), int(wall.group(2)), float(wall.group(3))
    return hours * 3600 + minutes * 60 + seconds, int(peak.group(1)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=48.0, help="size of the huge line in megabytes (default 48)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (corpus and run folder)")
    args = parser.parse_args()
    if not Path(TIME).is_file():
        raise SystemExit(f"{TIME} is missing; install Debian's time package: apt-get install -y time")
    folder = Path(tempfile.mkdtemp(prefix="textcluster-huge-"))
    try:
        corpus = write_corpus(folder, args.mb)
        overrides = [
            "data=lines",
            f"data.path={corpus}",
            "encoder=pretrained",
            "clusterer.n_clusters=5",
            "report=false",
            "cache=false",
            f"hydra.run.dir={folder / 'run'}",
        ]
        command = [TIME, "-v", *textcluster_command(), *overrides]
        print("$ " + " ".join(command), flush=True)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-3000:] + done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"the run failed (exit {done.returncode})")
        wall, peak = measure(done.stderr)
        print(f"corpus: {SNIPPETS} SearchSnippets lines + one {args.mb:g} MB line ({corpus.stat().st_size:,} bytes)")
        print(f"wall time: {wall:.1f} s")
        print(f"peak RSS: {peak:,.0f} MB")
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
