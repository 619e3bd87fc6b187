"""The real ``textcluster`` command in a subprocess: bad input fails with one clear line, good runs print a summary.

Every command start imports torch and Lightning (about 10 s of CPU), so the commands the
selected tests need are started together, a few at a time, when the first of them asks
for its result; each test then checks its own command's output.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import read_json, read_status, run_textcluster
from textcluster.machine import available_cores

FAST = ("trainer.max_epochs=1", "trainer.enable_progress_bar=false")
RAW = ("encoder=raw",) + FAST


def _idx(magic: int, array: np.ndarray) -> bytes:
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def _prepare_inputs(root: Path) -> dict[str, Path]:
    """Small bad (and one good) input files for the cases below."""
    files = {}
    table = root / "table.csv"
    pd.DataFrame({"body": ["a b", "c d"], "topic": [1, 2]}).to_csv(table, index=False)
    files["table"] = table

    blank = root / "blank.csv"
    pd.DataFrame({"text": ["", "  ", "\t", ""], "label": [1, 2, 1, 2]}).to_csv(blank, index=False)
    files["blank"] = blank

    # 60 documents from two topics, three of them empty
    topics = ["apple pear plum orchard fruit juice", "stock bond market trader money bank"]
    texts = [f"{topics[i % 2]} note{i % 7}" for i in range(60)]
    for i in (5, 17, 42):
        texts[i] = "   " if i != 17 else ""
    some_empty = root / "some_empty.csv"
    pd.DataFrame({"text": texts, "label": [i % 2 for i in range(60)]}).to_csv(some_empty, index=False)
    files["some_empty"] = some_empty

    unlabeled = root / "unlabeled.csv"
    pd.DataFrame({"text": texts}).to_csv(unlabeled, index=False)
    files["unlabeled"] = unlabeled

    (root / "docs.txt").write_text("alpha beta\ngamma delta\nepsilon zeta\neta theta\n")
    (root / "labels.txt").write_text("1\n2\n1\n")
    files["docs"], files["labels"] = root / "docs.txt", root / "labels.txt"

    labels = gzip.compress(_idx(2049, np.arange(4) % 10))
    for name, images in (
        ("bad_magic", _idx(2052, np.zeros((4, 28, 28)))),
        ("truncated", _idx(2051, np.zeros((4, 28, 28)))[:-100]),
    ):
        folder = root / name
        folder.mkdir()
        (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
        (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(labels)
        files[name] = folder
    return files


def _cases(files: dict[str, Path]) -> dict[str, tuple[str, ...]]:
    return {
        "missing_file": ("data=lines", "data.path=/nonexistent") + RAW,
        "missing_folder": ("data=mnist", "data.path=/nonexistent") + RAW,
        "wrong_column": ("data=csv", f"data.path={files['table']}", "data.text_column=nope") + RAW,
        "all_empty": ("data=csv", f"data.path={files['blank']}") + RAW,
        "some_empty": ("data=csv", f"data.path={files['some_empty']}", "data.label_column=label")
        + RAW
        + ("clusterer.n_clusters=labels",),
        "label_count": ("data=lines", f"data.path={files['docs']}", f"data.labels_path={files['labels']}") + RAW,
        "too_many_clusters": ("data.limit=20", "clusterer.n_clusters=50") + RAW,
        "unknown_plugin_key": ("clusterer.name=nope", "data.limit=50") + RAW,
        "idx_bad_magic": ("data=mnist", f"data.path={files['bad_magic']}") + RAW,
        "idx_truncated": ("data=mnist", f"data.path={files['truncated']}") + RAW,
        # bad values, with the dense autoencoder (the default) that would otherwise train first
        "bad_type": ("clusterer.n_clusters=abc",) + FAST,
        "out_of_range": ("encoder.lr=-1", "encoder.hidden_dims=[64,0]") + FAST,
        "unknown_choice": ("reducer=umap", "reducer.metric=cosin") + FAST,
        "k_missing": ("data=csv", f"data.path={files['unlabeled']}", "clusterer.n_clusters=labels") + FAST,
        "multirun": ("-m", "clusterer=kmeans,hdbscan", "encoder=raw", "data.limit=300"),
        "default": ("trainer.max_epochs=2",),
    }


class CliRuns:
    """Starts the cases the selected tests use, a few at a time; ``get(name)`` waits for one."""

    def __init__(self, root: Path, names: set[str]):
        cases = _cases(_prepare_inputs(root))
        cores = available_cores()  # this process's: an xdist worker keeps to its own (conftest.py)
        workers = int(os.environ.get("TEXTCLUSTER_TEST_CLI_JOBS") or min(3, cores))
        threads = max(1, cores // workers)
        self.run_dirs = {name: root / name / "run" for name in cases}
        self.sweep_dir = root / "multirun" / "sweep"
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._futures = {}
        # the slowest first, so they overlap with the quick ones
        for name in sorted(names, key=lambda n: n not in ("default", "multirun")):
            args = cases[name]
            if name == "multirun":
                args = args + (f"hydra.sweep.dir={self.sweep_dir}",)
                future = self._pool.submit(run_textcluster, *args, cwd=root, threads=threads)
            else:
                self.run_dirs[name].parent.mkdir(parents=True)
                future = self._pool.submit(run_textcluster, *args, run_dir=self.run_dirs[name], threads=threads)
            self._futures[name] = future

    def get(self, name: str):
        return self._futures[name].result()

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def cli(request, tmp_path_factory):
    names = {
        marker.args[0]
        for item in request.session.items
        if item.module is request.module
        for marker in item.iter_markers("cli_case")
    }
    runs = CliRuns(tmp_path_factory.mktemp("cli"), names)
    yield runs
    runs.close()


def _show(result) -> str:
    return f"\n--- exit {result.returncode}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"


def assert_user_error(cli: CliRuns, name: str, *fragments: str) -> str:
    """Exit 2, exactly one 'textcluster: error:' line holding each fragment, no traceback, and no run folder left
    behind (a run refused before any work leaves nothing that could pass for a result)."""
    result = cli.get(name)
    assert result.returncode == 2, _show(result)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, _show(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("textcluster: error: ")]
    assert len(errors) == 1, _show(result)
    for fragment in fragments:
        assert fragment in errors[0], _show(result)
    assert not cli.run_dirs[name].exists(), _show(result)
    return errors[0]


ENCODING_SIGNS = ("GPU available", "TF-IDF vocabulary", "restored the best encoder weights", "pretrained encoder:")


def assert_nothing_was_encoded(cli: CliRuns, name: str) -> None:
    """No training or encoding started: none of the encoders' log lines on the console."""
    result = cli.get(name)
    assert not any(sign in result.stdout + result.stderr for sign in ENCODING_SIGNS), _show(result)


@pytest.mark.cli_case("bad_type")
def test_a_value_of_the_wrong_type_fails_before_anything_loads(cli):
    assert_user_error(
        cli,
        "bad_type",
        "clusterer.n_clusters='abc' is not valid: it must be an integer >= 1 or one of 'auto', 'labels'",
    )
    assert_nothing_was_encoded(cli, "bad_type")


@pytest.mark.cli_case("out_of_range")
def test_values_out_of_range_are_all_named_in_one_line(cli):
    assert_user_error(
        cli,
        "out_of_range",
        "encoder.lr=-1 is not valid: it must be a number > 0",
        "encoder.hidden_dims[1]=0 is not valid: it must be an integer >= 1",
    )
    assert_nothing_was_encoded(cli, "out_of_range")


@pytest.mark.cli_case("unknown_choice")
def test_an_unknown_choice_lists_the_known_ones(cli):
    assert_user_error(
        cli, "unknown_choice", "reducer.metric='cosin' is not valid: it must be one of 'euclidean', 'cosine'"
    )
    assert_nothing_was_encoded(cli, "unknown_choice")


@pytest.mark.cli_case("k_missing")
def test_k_from_labels_on_unlabeled_data_fails_before_the_encoder_trains(cli):
    assert_user_error(
        cli,
        "k_missing",
        "clusterer.n_clusters=labels takes k from the true classes, and unlabeled has no labels; "
        "use clusterer.n_clusters=auto (search k) or a number",
    )
    assert_nothing_was_encoded(cli, "k_missing")


@pytest.mark.cli_case("missing_file")
def test_missing_data_file(cli):
    assert_user_error(cli, "missing_file", "data=lines: '/nonexistent' does not exist", "data.path")


@pytest.mark.cli_case("missing_folder")
def test_missing_mnist_folder(cli):
    assert_user_error(cli, "missing_folder", "data=mnist: '/nonexistent' does not exist", "data.path")


@pytest.mark.cli_case("wrong_column")
def test_wrong_text_column_lists_columns_found(cli):
    assert_user_error(cli, "wrong_column", "no column 'nope' for text", "columns found: body, topic")


@pytest.mark.cli_case("all_empty")
def test_all_documents_empty(cli):
    assert_user_error(cli, "all_empty", "all 4 documents are empty", "data.text_column")


@pytest.mark.cli_case("label_count")
def test_label_file_length_differs(cli):
    assert_user_error(cli, "label_count", "labels.txt has 3 labels but docs.txt has 4 texts")


@pytest.mark.cli_case("too_many_clusters")
def test_more_clusters_than_samples(cli):
    assert_user_error(cli, "too_many_clusters", "clusterer.n_clusters=50 is larger than the number of samples (20)")


@pytest.mark.cli_case("unknown_plugin_key")
def test_unknown_plugin_key_lists_known_keys(cli):
    line = assert_user_error(cli, "unknown_plugin_key", "unknown clusterer 'nope'; known clusterers: ")
    known = line.split("known clusterers: ", 1)[1].split(".", 1)[0].split(", ")
    assert {"dbscan", "hdbscan", "kmeans"} <= set(known)


@pytest.mark.cli_case("idx_bad_magic")
def test_idx_file_with_wrong_magic_number(cli):
    assert_user_error(
        cli, "idx_bad_magic", "t10k-images-idx3-ubyte.gz: malformed IDX file (magic number 2052, expected 2051)"
    )


@pytest.mark.cli_case("idx_truncated")
def test_truncated_idx_file(cli):
    assert_user_error(cli, "idx_truncated", "header says (4, 28, 28) = 3136 values, found 3036", "truncated")


@pytest.mark.cli_case("some_empty")
def test_some_empty_documents_are_dropped_with_a_warning(cli):
    result = cli.get("some_empty")
    assert result.returncode == 0, _show(result)
    run_dir = cli.run_dirs["some_empty"]
    logged = result.stdout + result.stderr + (run_dir / "cli.log").read_text()
    assert "some_empty: dropped 3 empty documents of 60" in logged
    assert read_status(run_dir) == "completed"
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["n_samples"] == 57
    assert metrics["acc"] == 1.0  # the two topics share no topic word: k-means on TF-IDF splits them exactly


@pytest.mark.cli_case("multirun")
def test_multirun_one_folder_per_job(cli):
    result = cli.get("multirun")
    assert result.returncode == 0, _show(result)
    jobs = sorted(path for path in cli.sweep_dir.iterdir() if path.is_dir())
    assert [path.name.split("_", 1)[0] for path in jobs] == ["0", "1"]
    by_clusterer = {}
    for job in jobs:
        assert read_status(job) == "completed"
        metrics = read_json(job / "metrics.json")
        assert metrics["n_samples"] == 300
        clusterer = re.search(r"clusterer=(\w+)", job.name).group(1)
        by_clusterer[clusterer] = metrics
        if clusterer == "kmeans":  # 300 digits: the k search's pick is the job's k
            metrics["chosen_k"] = read_json(job / "k_selection.json")["chosen_k"]
    assert set(by_clusterer) == {"kmeans", "hdbscan"}
    kmeans = by_clusterer["kmeans"]
    assert (
        kmeans["n_clusters"] == kmeans["chosen_k"] and 8 <= kmeans["chosen_k"] <= 12 and kmeans["noise_fraction"] == 0.0
    )
    assert 0.0 <= by_clusterer["hdbscan"]["noise_fraction"] <= 1.0
    assert result.stdout.count("run folder:") == 2


@pytest.mark.cli_case("default")
def test_default_command(cli):
    result = cli.get("default")
    assert result.returncode == 0, _show(result)
    run_dir = cli.run_dirs["default"]
    assert f"run folder: {run_dir}" in result.stdout
    assert "digits: 1797 image items | encoder=dense reducer=umap_n2d clusterer=kmeans | seed=0" in result.stdout
    logged = result.stdout + result.stderr + (run_dir / "cli.log").read_text()
    assert "no encoder named: image data: encoder=dense reducer=umap_n2d" in logged  # one line says the pick
    chosen = re.search(
        r"^  chosen k +(\d+) \((.*); other levels: (.*); k from 2 to \d+\)$", result.stdout, re.MULTILINE
    )
    assert chosen and int(chosen.group(1)) == read_json(run_dir / "k_selection.json")["chosen_k"], _show(result)
    acc = re.search(r"^  acc +([0-9.]+)$", result.stdout, re.MULTILINE)
    assert acc, _show(result)
    metrics = read_json(run_dir / "metrics.json")
    assert float(acc.group(1)) == pytest.approx(metrics["acc"], abs=5e-5)  # the printed value is the saved one
    assert read_status(run_dir) == "completed"
    assert (run_dir / "model" / "encoder.safetensors").is_file() and not list(run_dir.rglob("*.ckpt"))
    assert "Traceback" not in result.stderr


def test_plugin_search_path_joins_the_users_own(tmp_path, monkeypatch):
    """Hydra keeps the last hydra.searchpath=[...]: the plugin folders join the user's in one override."""
    from textcluster import config
    from textcluster.config import with_search_path

    monkeypatch.setattr(config, "entry_point_config_dirs", lambda: [])  # installed plugin packages left out
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    assert with_search_path(["seed=1"]) == ["seed=1"]  # no plugin folders: nothing added
    words = with_search_path([f"plugins_dir={plugins}", "hydra.searchpath=[file:///mine,pkg://their.conf]", "seed=1"])
    assert words[:2] == [f"plugins_dir={plugins}", "seed=1"]
    # the user's folders first, then the plugins' defaults (the thinned YAMLs need them) and the plugin folder
    assert words[2] == (
        f"hydra.searchpath=[file:///mine,pkg://their.conf,textcluster-defaults://,file://{plugins.resolve()}]"
    )
    assert len([word for word in words if word.startswith("hydra.searchpath=")]) == 1


def test_the_summary_prints_counts_as_whole_numbers():
    from textcluster.cli import summary_value

    assert summary_value("n_clusters", 12.0) == "12"
    assert summary_value("nmi", 0.5) == "0.5000"
    assert summary_value("noise_fraction", 0.0) == "0.0000"
