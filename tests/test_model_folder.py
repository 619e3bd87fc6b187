"""A run folder is data: model/ holds JSON and safetensors, and a tampered file is refused without running code."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import compose_small
from textcluster.errors import UserError


class CreatesAFile:
    """Unpickling this calls ``open(path, "w")``: the file appearing means a pickle in a run folder ran code."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


SAVED_DATA = ("data=digits", "data.limit=200")  # what saved_run was fitted on: textcluster-predict needs it named


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory) -> Path:
    """A finished digits run with every kind of state file: TF-IDF-free raw pixels, PCA, k-means, the pipeline."""
    from textcluster.experiment import run_experiment

    run_dir = tmp_path_factory.mktemp("saved") / "run"
    run_experiment(
        compose_small("encoder=raw", "reducer=pca", "clusterer.n_clusters=10", "report=false", limit=200), run_dir
    )
    return run_dir


def copy_of(run_dir: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


def predict_main(capsys, *args: str) -> tuple[int, str, str]:
    from textcluster.predict import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_model_folder_holds_data_only(saved_run):
    model = saved_run / "model"
    names = sorted(path.name for path in model.iterdir())
    assert names == [
        "clusterer.json",
        "clusterer.safetensors",
        "encoder.json",
        "manifest.json",
        "pipeline.json",
        "pipeline.safetensors",
        "reducer.json",
        "reducer.safetensors",
    ]
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["format"] == 2 and manifest["packages"]["numpy"] == np.__version__
    assert manifest["config"]["reducer"]["name"] == "pca"  # the run's resolved config
    assert manifest["stages"]["clusterer"] == {
        "name": "kmeans",
        "n_clusters": 10,
        "n_init": "auto",
        "max_iter": 300,
        "fit_size": 50_000,
        "random_state": 0,
    }
    assert set(manifest["files"]) == set(names) - {"manifest.json"}  # each file checked on load
    assert len({path.stat().st_mode & 0o777 for path in model.iterdir()}) == 1  # readable like the JSON files
    from safetensors import safe_open

    for path in model.iterdir():  # every file parses as what it says it is: JSON, or safetensors
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            with safe_open(str(path), framework="numpy") as tensors:
                assert list(tensors.keys())


@pytest.mark.parametrize(
    "name",
    [
        "manifest.json",
        "encoder.json",
        "reducer.json",
        "reducer.safetensors",
        "clusterer.json",
        "clusterer.safetensors",
        "pipeline.json",
        "pipeline.safetensors",
    ],
)
def test_a_crafted_pickle_in_place_of_any_file_is_refused_and_runs_nothing(saved_run, tmp_path, capsys, name):
    from textcluster import Pipeline

    run_dir = copy_of(saved_run, tmp_path)
    marker = tmp_path / "pwned"
    (run_dir / "model" / name).write_bytes(pickle.dumps(CreatesAFile(marker)))

    code, _, err = predict_main(capsys, f"run_dir={run_dir}", *SAVED_DATA)
    assert code == 2 and err.startswith("textcluster-predict: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    with pytest.raises(UserError) as raised:
        Pipeline.load(run_dir)
    assert "\n" not in str(raised.value)
    assert not marker.exists()


def test_the_console_script_refuses_a_crafted_pickle_with_one_line(saved_run, tmp_path):
    run_dir = copy_of(saved_run, tmp_path)
    marker = tmp_path / "pwned"
    (run_dir / "model" / "clusterer.safetensors").write_bytes(pickle.dumps(CreatesAFile(marker)))
    script = Path(sys.executable).with_name("textcluster-predict")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "textcluster.predict"]
    done = subprocess.run(command + [f"run_dir={run_dir}", *SAVED_DATA], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    assert done.stderr.count("\n") == 1 and "does not match the checksum" in done.stderr
    assert not marker.exists()


def test_a_crafted_pickle_is_refused_even_with_its_checksum(saved_run, tmp_path):
    """A tampered file whose checksum was updated too still cannot run code: safetensors only parses data."""
    import hashlib

    from textcluster import Pipeline

    run_dir = copy_of(saved_run, tmp_path)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(CreatesAFile(marker))
    (run_dir / "model" / "clusterer.safetensors").write_bytes(payload)
    manifest_path = run_dir / "model" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["clusterer.safetensors"] = hashlib.sha256(payload).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="clusterer.safetensors is not a valid safetensors file"):
        Pipeline.load(run_dir)
    assert not marker.exists()


def test_an_old_pickled_model_is_refused_with_the_way_to_refit(tmp_path, capsys):
    from textcluster import Pipeline

    marker = tmp_path / "pwned"
    old = tmp_path / "old-run" / "model"
    old.mkdir(parents=True)
    (old / "pipeline.pt").write_bytes(pickle.dumps(CreatesAFile(marker)))
    code, _, err = predict_main(capsys, f"run_dir={old.parent}", *SAVED_DATA)
    assert code == 2 and err.count("\n") == 1
    assert "saved as a pickle (pipeline.pt) by an older textcluster" in err and "run the experiment again" in err
    with pytest.raises(UserError, match="a pickle can run code, so it is not loaded"):
        Pipeline.load(old.parent)
    assert not marker.exists()


def test_a_changed_value_fails_its_checksum(saved_run, tmp_path):
    from textcluster import Pipeline

    run_dir = copy_of(saved_run, tmp_path)
    state = run_dir / "model" / "clusterer.json"
    state.write_text(state.read_text().replace('"format": 1', '"format": 1 '))
    with pytest.raises(UserError, match=r"clusterer\.json is missing or does not match the checksum"):
        Pipeline.load(run_dir)
