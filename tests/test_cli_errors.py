"""Hydra's own errors on the ``textcluster`` command line: one line, exit 2, the closest valid name.

They happen while the config composes, before any data loads or torch imports, so each command
here takes about a second; one sweep runs for real to show the check leaves sweeps alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_json, read_status, run_textcluster
from textcluster.errors import UserError


def _show(result) -> str:
    return f"\n--- exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"


def error_line(*args: str, run_dir: Path) -> str:
    """Run the command; it must fail with exit 2 and one non-empty stderr line, before any run folder exists."""
    result = run_textcluster(*args, run_dir=run_dir, timeout=120)
    assert result.returncode == 2, _show(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("textcluster: error: "), _show(result)
    assert not run_dir.exists(), _show(result)  # it failed while composing: no run folder, no status.json
    return lines[0]


def test_an_unknown_key_names_the_closest_setting(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("body\nfirst document\n")
    line = error_line("data=csv", f"data.path={table}", "data.text_colum=body", run_dir=tmp_path / "run")
    assert "data.text_colum is not a setting of data" in line
    assert "did you mean data.text_column?" in line


def test_an_unknown_group_option_names_the_closest_option_and_lists_them(tmp_path):
    line = error_line("encoder=pretraind", run_dir=tmp_path / "run")
    assert "encoder=pretraind is not an option of encoder; did you mean encoder=pretrained?" in line
    options = line.split("options: ", 1)[1].rstrip(")").split(", ")
    assert {"auto", "dense", "pretrained", "raw"} <= set(options)


def test_an_unknown_group_names_the_closest_group(tmp_path):
    line = error_line("encodr=dense", run_dir=tmp_path / "run")
    assert "encodr is not a config group or setting; did you mean encoder?" in line


def test_an_option_with_no_close_name_lists_the_options(tmp_path):
    line = error_line("clusterer=nope", "encoder=raw", run_dir=tmp_path / "run")
    assert "clusterer=nope is not an option of clusterer; choose one of: " in line
    listed = line.split("choose one of: ", 1)[1].split(" (", 1)[0].split(", ")
    assert {"dbscan", "hdbscan", "kmeans"} <= set(listed)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("clusterer.n_clusters=[1,2", "cannot read the override 'clusterer.n_clusters=[1,2'"),
        ("=3", "the override '=3' has no key"),  # `data.limit =3` in a shell; Hydra raised a ValueError
    ],
)
def test_a_malformed_override_is_one_line(tmp_path, override, fragment):
    assert fragment in error_line(override, run_dir=tmp_path / "run")


def test_a_swept_option_that_does_not_exist_is_named_before_the_sweep_starts(tmp_path):
    line = error_line("-m", "clusterer=kmeans,kmean", run_dir=tmp_path / "run")
    assert "did you mean clusterer=kmeans?" in line


def test_the_python_api_gives_the_same_line(tmp_path):
    from textcluster import Pipeline

    for overrides in (["encoder=pretraind"], ["data=csv", "data.text_colum=body"], ["encodr=dense"]):
        with pytest.raises(UserError) as raised:
            Pipeline.from_config(overrides)
        line = error_line(*overrides, run_dir=tmp_path / "run")
        assert line == f"textcluster: error: {raised.value}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--help",), "== Configuration groups =="),
        (("--cfg", "job", "encoder=raw", "data.limit=5"), "limit: 5"),
        (("--info", "defaults", "encoder=raw"), "encoder/raw"),
    ],
)
def test_help_cfg_and_info_still_work(args, expected):
    result = run_textcluster(*args, timeout=120)
    assert result.returncode == 0, _show(result)
    assert expected in result.stdout, _show(result)


HELP_AND_ITS_COPIES = """
import contextlib, json, sys
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from textcluster import cli

variant, help_file = sys.argv[1:]
copies, copy_for = [], ConfigLoaderImpl._parse_overrides_and_create_caching_repo

def counted(loader, config_name, overrides):
    copies.append(repr((config_name, overrides)))
    return copy_for(loader, config_name, overrides)

ConfigLoaderImpl._parse_overrides_and_create_caching_repo = counted
if variant == "hydra-alone":
    cli.config_repository_copied_once = contextlib.nullcontext
sys.argv = ["textcluster", "--help", "encoder=cnn"]
with open(help_file, "w") as out, contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    cli.run_hydra()
print(json.dumps(copies))
"""


def _help_and_its_copies(variant: str, help_file: Path) -> tuple[str, list[str]]:
    """``textcluster --help encoder=cnn`` in a fresh process, and the copies of the config repository it made."""
    done = subprocess.run(
        [sys.executable, "-c", HELP_AND_ITS_COPIES, variant, str(help_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return help_file.read_text(), json.loads(done.stdout)


def test_help_copies_the_config_repository_once_per_question_and_prints_what_hydra_would(tmp_path):
    ours, copies = _help_and_its_copies("ours", tmp_path / "ours.txt")
    hydras, hydras_copies = _help_and_its_copies("hydra-alone", tmp_path / "hydra.txt")
    assert len(copies) == len(set(copies)) <= 3, copies
    assert len(hydras_copies) > 50  # one per question while it lists the groups
    assert ours == hydras
    assert "encoder: auto, cnn, dense," in ours and "kernel_sizes:" in ours


def test_help_on_a_hydra_without_that_loader_method_is_hydras_own(monkeypatch):
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    from textcluster.cli import config_repository_copied_once

    monkeypatch.delattr(ConfigLoaderImpl, "_parse_overrides_and_create_caching_repo")
    with config_repository_copied_once():
        assert not hasattr(ConfigLoaderImpl, "_parse_overrides_and_create_caching_repo")  # nothing patched in


def test_two_modes_at_once_is_one_line(tmp_path):
    line = error_line("-m", "--cfg", "job", "clusterer.n_clusters=2,3", run_dir=tmp_path / "run")
    assert "-m and --cfg cannot go together" in line  # Hydra raised a ValueError, with a traceback


def test_a_sweep_still_runs_each_value(tmp_path):
    """The check composes the overrides every job shares; the swept values reach Hydra's sweeper as given."""
    sweep_dir = tmp_path / "sweep"
    result = run_textcluster(
        "-m",
        "clusterer.n_clusters=2,3",
        "encoder=raw",
        "data.limit=60",
        "report=false",
        "cache=false",
        f"hydra.sweep.dir={sweep_dir}",
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, _show(result)
    jobs = sorted(path for path in sweep_dir.iterdir() if path.is_dir())
    assert len(jobs) == 2, _show(result)
    assert [read_json(job / "metrics.json")["n_clusters"] for job in jobs] == [2.0, 3.0]
    assert all(read_status(job) == "completed" for job in jobs)
