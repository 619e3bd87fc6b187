"""textcluster-compare: the run folders of a real sweep side by side, one row per configuration.

One real ``textcluster -m`` sweep (a subprocess, ~12 s) makes the run folders: k-means on 150 raw digits
images, ``clusterer.n_clusters=3,4,500`` x ``seed=0,1``. The jobs with 3 and 4 clusters complete; the first
with 500 fails (more clusters than samples: status.json says failed) and ends the sweep. The comparison
runs in this process through ``textcluster.compare.main``; one test starts the console script.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from conftest import read_json, run_textcluster
from textcluster.comparison.aggregate import comparison, differing_keys, group_runs, sort_rows
from textcluster.comparison.runs import Override, RunRecord, parse_overrides

SWEEP = (
    "-m",
    "data=digits",
    "data.limit=150",
    "encoder=raw",
    "reducer=none",
    "clusterer=kmeans",
    "clusterer.n_clusters=3,4,500",
    "seed=0,1",
    "report=false",
    "cache=false",
)
METRICS = ("acc", "nmi", "ari", "silhouette", "n_clusters")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("compare")
    folder = root / "sweep"
    result = run_textcluster(*SWEEP, f"hydra.sweep.dir={folder}", cwd=root)
    assert result.returncode == 2, result.stderr[-3000:]  # the job with 500 clusters fails and ends the sweep
    assert "larger than the number of samples" in result.stderr
    return folder


def jobs(sweep: Path, status: str = "completed") -> list[Path]:
    return sorted(p for p in sweep.iterdir() if p.is_dir() and read_json(p / "status.json")["status"] == status)


def n_clusters_of(job: Path) -> int:
    overrides = OmegaConf.load(job / ".hydra" / "overrides.yaml")
    return int(next(o for o in overrides if o.startswith("clusterer.n_clusters=")).split("=")[1])


def compare(capsys, *args: str) -> tuple[int, str, str]:
    """``textcluster.compare.main(args)``: (exit status, stdout, stderr)."""
    from textcluster.compare import main

    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def compared(sweep) -> tuple[str, str]:
    """``(stdout, stderr)`` of comparing the sweep into its own folder (the default --out for a multirun folder)."""
    from textcluster.compare import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        main([str(sweep), "--metrics", ",".join(METRICS)])
    return stdout.getvalue(), stderr.getvalue()


def test_runs_that_differ_only_in_seed_are_one_row(sweep, compared):
    assert len(jobs(sweep)) == 4 and len(jobs(sweep, "failed")) == 1
    rows = read_csv(sweep / "compare.csv")
    assert [row["configuration"] for row in rows] == ["clusterer.n_clusters=3", "clusterer.n_clusters=4"]
    assert [row["clusterer.n_clusters"] for row in rows] == ["3", "4"]
    assert all(row["n_seeds"] == "2" and row["n_runs"] == "2" and row["seeds"] == "0 1" for row in rows)
    markdown = compared[0]
    assert markdown == (sweep / "compare.md").read_text()
    table_lines = [line for line in markdown.splitlines() if line.startswith("| clusterer.n_clusters=")]
    assert len(table_lines) == 2 and all(" | 2 | " in line and " ± " in line for line in table_lines)


def test_mean_and_std_are_numpys_over_the_seeds(sweep, compared):
    by_k: dict[int, list[dict]] = {}
    for job in jobs(sweep):
        metrics = read_json(job / "metrics.json")
        metrics["time_s"] = sum(read_json(job / "timings.json").values())
        by_k.setdefault(n_clusters_of(job), []).append(metrics)
    rows = {int(row["clusterer.n_clusters"]): row for row in read_csv(sweep / "compare.csv")}
    assert set(rows) == set(by_k) == {3, 4}
    some_spread = False
    for k, runs in by_k.items():
        assert len(runs) == 2
        for metric in METRICS + ("time_s",):
            values = [run[metric] for run in runs]
            assert float(rows[k][f"{metric}_mean"]) == pytest.approx(np.mean(values), rel=1e-12, abs=1e-12)
            assert float(rows[k][f"{metric}_std"]) == pytest.approx(np.std(values, ddof=1), rel=1e-12, abs=1e-12)
            some_spread |= metric != "n_clusters" and np.std(values) > 0
        assert float(rows[k]["n_clusters_mean"]) == k
    assert some_spread  # the seeds gave different values, so a wrong std would show


def test_csv_has_one_column_per_value(sweep, compared):
    with open(sweep / "compare.csv", newline="") as handle:
        header = next(csv.reader(handle))
    values = [f"{metric}_{part}" for metric in METRICS + ("time_s",) for part in ("mean", "std")]
    assert header == ["configuration", "clusterer.n_clusters", "n_seeds", "n_runs", "seeds", *values, "run_dirs"]


def test_html_is_standalone_with_the_chart_and_the_table(sweep, compared):
    page = (sweep / "compare.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert 'id="compare-plot"' in page and '"type":"bar"' in page.replace(" ", "")
    assert '"error_y"' in page  # the std as error bars
    assert "nmi per configuration" in page  # the default plot metric: nmi (the runs have labels)
    assert "<table id=compare-table>" in page and page.count("<td>clusterer.n_clusters=") == 2
    assert "<script src=" not in page and len(page) > 1_000_000  # plotly.js inlined: works offline


def test_failed_run_is_skipped_with_its_reason(sweep, compared):
    markdown, stderr = compared
    (failed,) = jobs(sweep, "failed")
    reason = read_json(failed / "status.json")["error"]
    skipped = [line for line in stderr.splitlines() if line.startswith("textcluster-compare: skipped ")]
    assert skipped == [f"textcluster-compare: skipped {failed}: status is failed ({reason})"]
    assert f"- `{failed}`: status is failed ({reason})" in markdown
    assert "n_clusters=500" not in "".join(line for line in markdown.splitlines() if line.startswith("| "))


def test_sort_puts_the_best_first_and_names_the_order(sweep, capsys, tmp_path):
    code, out, _ = compare(capsys, sweep, "--sort", "davies_bouldin", "--out", tmp_path)
    assert code == 0
    rows = read_csv(tmp_path / "compare.csv")
    means = [float(row["davies_bouldin_mean"]) for row in rows]  # the sort metric becomes a column
    assert means == sorted(means) and len(means) == 2  # lower is better
    assert "Sorted by davies_bouldin, best (lowest) first." in out
    code, out, _ = compare(capsys, sweep, "--sort", "nmi", "--out", tmp_path)
    means = [float(row["nmi_mean"]) for row in read_csv(tmp_path / "compare.csv")]
    assert means == sorted(means, reverse=True)


def test_a_path_given_twice_counts_once_and_optuna_results_are_shown(sweep, capsys, tmp_path):
    sweep_copy = tmp_path / "sweep"
    subprocess.run(["cp", "-r", str(sweep), str(sweep_copy)], check=True)
    results = {"name": "optuna", "best_params": {"clusterer.n_clusters": 4}, "best_value": 0.51}
    OmegaConf.save(OmegaConf.create(results), sweep_copy / "optimization_results.yaml")  # as the sweeper writes it
    code, out, _ = compare(capsys, sweep_copy, jobs(sweep_copy)[0], "--out", tmp_path / "out")
    assert code == 0
    assert [row["n_runs"] for row in read_csv(tmp_path / "out" / "compare.csv")] == ["2", "2"]
    assert f"Optuna ({sweep_copy}): best value 0.51 with clusterer.n_clusters=4" in out


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["{tmp}/nope"], ["'{tmp}/nope' does not exist", "multirun folder"]),
        (["{tmp}/empty"], ["no run folders under '{tmp}/empty'", "metrics.json"]),
        (["{sweep}", "--metrics", "nmi,bogus"], ["unknown metric 'bogus' for --metrics", "nmi"]),
        (["{sweep}", "--sort", "bogus"], ["unknown metric 'bogus' for --sort"]),
        (["{sweep}", "--colour"], ["unrecognized arguments: --colour", "usage: textcluster-compare PATH"]),
        ([], ["the following arguments are required: PATH"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(sweep, capsys, tmp_path, args, fragments):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    fill = lambda text: text.format(tmp=tmp_path, sweep=sweep)
    code, out, err = compare(capsys, *map(fill, args), "--out", tmp_path / "out")
    assert code == 2 and out == ""
    assert err.startswith("textcluster-compare: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fill(fragment) in err
    assert not (tmp_path / "out").exists()


def test_the_console_script_exits_2_without_a_traceback(tmp_path):
    script = Path(sys.executable).with_name("textcluster-compare")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "textcluster.compare"]
    done = subprocess.run(command + [str(tmp_path / "nope")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("textcluster-compare: error: '") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------------------------- the table logic


def record(path: str, seed: int, nmi: float, **overrides: str) -> RunRecord:
    return RunRecord(Path(path), parse_overrides([f"{k}={v}" for k, v in overrides.items()]), seed, {"nmi": nmi})


def test_overrides_compare_by_value_not_by_spelling():
    assert parse_overrides(["report=false"])["report"].canon == parse_overrides(["report=False"])["report"].canon
    assert (
        parse_overrides(["encoder.lr=1e-3"])["encoder.lr"].canon
        == parse_overrides(["encoder.lr=0.001"])["encoder.lr"].canon
    )
    assert parse_overrides(["+extra=1"]) == {"extra": Override("extra", "1", "1")}
    assert parse_overrides(["x=8"])["x"].canon != parse_overrides(["x=10"])["x"].canon


def test_grouping_keys_and_labels():
    runs = [
        record("a", 0, 0.5, k="3", report="false"),
        record("b", 1, 0.7, k="3", report="False"),
        record("c", 0, 0.9, k="4", report="false"),
        record("d", 0, 0.2, report="false"),  # k absent: a configuration of its own
    ]
    rows = group_runs(runs)
    assert [[run.path.name for run in row.runs] for row in rows] == [["a", "b"], ["c"], ["d"]]
    assert differing_keys(rows) == ["k"]  # report is the same everywhere, however spelt
    table = comparison(runs)
    assert [row.label for row in table.rows] == ["k=3", "k=4", "(default k)"]
    assert table.rows[0].stats("nmi") == (pytest.approx(0.6), pytest.approx(0.1 * 2**0.5))  # 0.5 and 0.7: sample std
    assert np.isnan(table.rows[1].stats("nmi")[1])  # one run: no std
    assert [row.label for row in sort_rows(table.rows, "nmi")] == ["k=4", "k=3", "(default k)"]
    assert table.plot_metric == "nmi"


def test_missing_metric_sorts_last_and_shows_a_dash():
    from textcluster.comparison.render import format_cell, markdown

    runs = [record("a", 0, 0.5, k="3"), RunRecord(Path("b"), parse_overrides(["k=4"]), 0, {"silhouette": 0.1})]
    table = comparison(runs, sort="nmi")
    assert [row.label for row in table.rows] == ["k=3", "k=4"]
    assert format_cell(table.rows[1], "nmi") == "–"
    assert "| k=4 | 4 | 1 | – | 0.1000 |" in markdown(table)


def test_no_traceback_for_unreadable_run_files(tmp_path, capsys):
    run = tmp_path / "sweep" / "0_k=3"
    (run / ".hydra").mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"status": "completed"}))
    (run / "metrics.json").write_text("{not json")
    code, _, err = compare(capsys, tmp_path / "sweep", "--out", tmp_path / "out")
    assert code == 2
    lines = err.splitlines()
    assert lines[0].startswith(f"textcluster-compare: skipped {run}: metrics.json is missing or unreadable")
    assert lines[1].startswith("textcluster-compare: error: none of the 1 run folders completed")
