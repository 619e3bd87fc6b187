"""``textcluster-compare``: the runs of a sweep side by side, one row per configuration.

    textcluster-compare outputs/multirun/2026-12-02/13-28-07
    textcluster-compare outputs/multirun/2026-12-02 outputs/2026-12-01/09-00-00 --sort nmi --metrics acc,nmi,ari

Each path is a run folder (it holds ``metrics.json`` or ``status.json``) or a folder holding run folders
at any depth (a multirun folder). A row is one configuration: the run's overrides
(``.hydra/overrides.yaml``) without ``seed``; runs that differ only in ``seed`` are one row, each value
the mean ± std over them (the sample std, ddof=1, as benchmarks/run.py gives it; none for a single run),
with the number of seeds. The
columns: the override keys whose values differ between rows, a ``configuration`` label, the metrics
of ``metrics.json`` (``--metrics a,b,c``; by default the common ones the runs have) and ``time_s``,
the run's seconds summed over its stages (``timings.json``, else the ``*_s`` keys of ``metrics.json``).
Runs whose ``status.json`` is not ``completed`` are left out, each with one line saying why. An Optuna
sweep's ``optimization_results.yaml`` (best params and value) is shown under the table.

Options:

* ``--metrics a,b,c``: the metric columns (any key of metrics.json, or ``time_s``);
* ``--sort METRIC``: rows best first by that metric (lower is better for times, ``davies_bouldin``
  and the noise fractions; higher for the others);
* ``--plot-metric METRIC``: the metric of compare.html's bar chart (default: the ``--sort`` metric,
  else nmi when the runs have it, else silhouette);
* ``--out DIR``: where compare.md, compare.csv and compare.html go (default: the first path when it
  is a multirun folder, else the current folder).

The markdown table goes to stdout; skipped folders and the files written to stderr. Bad input ends
with one line, ``textcluster-compare: error: ...``, and exit status 2.

A run folder is data: its JSON is read with ``json``, its YAML with ``yaml.safe_load``; nothing in it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from textcluster.comparison import PROG
from textcluster.comparison.aggregate import Comparison, comparison
from textcluster.comparison.render import csv_table, html_page, markdown
from textcluster.comparison.runs import collect, is_run_folder, one_line
from textcluster.errors import StorageError, UserError, exit_on_user_error
from textcluster.reporting.files import write_csv
from textcluster.storage import write_text

USAGE = (
    f"usage: {PROG} PATH [PATH ...] [--metrics a,b,c] [--sort METRIC] [--plot-metric METRIC] [--out DIR] "
    "(PATH: a run folder or a multirun folder such as outputs/multirun/<date>/<time>)"
)
OUTPUT_FILES = ("compare.md", "compare.csv", "compare.html")


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit status 2 (argparse would print its usage first)
        raise UserError(f"{message}. {USAGE}")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    paragraphs = __doc__.replace("``", "").split("\n\n")
    parser = Parser(
        prog=PROG,
        description=paragraphs[0].split(": ", 1)[1],
        epilog="\n\n".join([paragraphs[1], paragraphs[2], paragraphs[5]]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="run folders or multirun folders")
    parser.add_argument("--metrics", help="the metric columns, comma-separated (default: the common ones)")
    parser.add_argument("--sort", metavar="METRIC", help="rows best first by this metric")
    parser.add_argument("--plot-metric", metavar="METRIC", help="compare.html's bar chart (default: --sort, nmi)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where compare.md/.csv/.html go")
    args = parser.parse_args(list(argv))
    args.metrics = [name.strip() for name in args.metrics.split(",") if name.strip()] if args.metrics else None
    return args


def output_dir(args: argparse.Namespace) -> Path:
    if args.out is not None:
        return args.out
    first = args.paths[0]
    return first if first.is_dir() and not is_run_folder(first) else Path.cwd()


def write_outputs(folder: Path, table: Comparison, sources: Sequence[Path]) -> list[Path]:
    md, csv_path, page = (folder / name for name in OUTPUT_FILES)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_text(md, markdown(table))
        header, body = csv_table(table)
        write_csv(csv_path, [header, *body])
        write_text(page, html_page(table, sources))
    except (OSError, StorageError) as error:
        raise UserError(f"cannot write the comparison to '{folder}' ({one_line(error)}); choose --out DIR") from None
    return [md, csv_path, page]


def print_skipped(skipped: Sequence[tuple[Path, str]]) -> None:
    for path, reason in skipped:
        print(f"{PROG}: skipped {path}: {reason}", file=sys.stderr)


def compare(argv: Sequence[str]) -> Comparison:
    args = parse_arguments(argv)
    records, skipped, notes = collect(args.paths)
    if not records:
        print_skipped(skipped)
        raise UserError(
            f"none of the {len(skipped)} run folders completed (see the lines above); "
            "compare finished runs, or run the failed ones again"
        )
    table = comparison(records, skipped, args.metrics, args.sort, args.plot_metric, notes)  # checks the names
    print_skipped(skipped)
    print(markdown(table), end="")
    written = write_outputs(output_dir(args), table, args.paths)
    print(f"{PROG}: wrote {', '.join(map(str, written))}", file=sys.stderr)
    return table


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    exit_on_user_error(PROG, lambda: compare(argv))


if __name__ == "__main__":
    main()
