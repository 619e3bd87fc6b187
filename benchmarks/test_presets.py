"""The long runs (marker ``slow``, left out of the default test run): presets reach their measured numbers.

    python -m pytest -m slow benchmarks/

Each test runs the real ``textcluster`` command on a whole data set from ``../shared/data`` (or
$TEXTCLUSTER_DATA_DIR) with seed 0 and checks ACC against the presets' measured value
(benchmarks/results/deep-notes.md, once in the README), within the spread the benchmark harness measured
over seeds. They take minutes each on two CPU cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(os.environ.get("TEXTCLUSTER_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
PRESETS = {
    # preset: (data arguments, ACC at seed 0, tolerance)
    "searchsnippets": (
        (
            f"data.path={DATA}/searchsnippets/SearchSnippets.txt",
            f"data.labels_path={DATA}/searchsnippets/SearchSnippets_gnd.txt",
        ),
        0.810,
        0.005,
    ),
    "stackoverflow": (
        (
            f"data.path={DATA}/stackoverflow/StackOverflow.txt",
            f"data.labels_path={DATA}/stackoverflow/StackOverflow_gnd.txt",
        ),
        0.819,
        0.005,
    ),
}


def textcluster(*args: str, run_dir: Path) -> dict:
    script = Path(sys.executable).with_name("textcluster")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "textcluster.cli"]
    done = subprocess.run(
        command
        + [*args, "report=false", "cache=false", "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}"],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_text_preset_gives_its_measured_accuracy(preset, tmp_path):
    data, expected, tolerance = PRESETS[preset]
    if not DATA.is_dir():
        pytest.skip(f"no data folder {DATA}")
    metrics = textcluster(f"experiment={preset}", *data, "seed=0", run_dir=tmp_path / preset)
    assert metrics["acc"] == pytest.approx(expected, abs=tolerance), metrics


@pytest.mark.slow
def test_mnist_preset_reaches_its_target(tmp_path):
    if not (DATA / "mnist").is_dir():
        pytest.skip(f"no data folder {DATA / 'mnist'}")
    metrics = textcluster("experiment=mnist", f"data.path={DATA}/mnist", "seed=0", run_dir=tmp_path / "mnist")
    assert metrics["acc"] >= 0.975, metrics  # N2D, DEC-DA, self-labelling: benchmarks/results/sota-mnist.md
