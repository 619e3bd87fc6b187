"""Shared helpers: where the real data sets live, small composed configs, and the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import pytest


def _own_cores_per_worker() -> None:
    """Under pytest-xdist (pyproject's addopts), each worker keeps to its own share of the cores: torch, BLAS and
    the CLI processes a test starts size their threads by the cores they may use, and two workers each running
    threads on every core made each test about 1.4x slower (benchmarks/results/test-suite.md)."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if not worker or count < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    share = cores[int(worker.removeprefix("gw")) % count :: count]
    os.sched_setaffinity(0, share or cores)  # more workers than cores: they share them all


_own_cores_per_worker()  # before numpy, torch or any thread pool starts in this worker

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TEXTCLUSTER_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
"""The real data sets (never copied into the repository): $TEXTCLUSTER_DATA_DIR, else <repo>/../shared/data."""

# Settings that keep a composed run small; a test that passes its own value for a key keeps its own.
SHRINK = {
    "trainer.max_epochs": "1",
    "trainer.enable_progress_bar": "false",
    "trainer.accelerator": "cpu",  # tiny networks: the CPU is faster and bitwise repeatable
    "cache": "false",  # each run computes its embeddings (a cached hit would hide a reproducibility bug)
    "report_map": "pca",  # the report's UMAP map costs ~40 s of numba compilation per process on 2 cores
    # k searched up to 30, not a tenth of the points (179 on the digits: 6 s of a 10 s run); the tests' corpora
    # have at most 20 classes, and tests/test_k_selection.py checks the default range itself
    "k_search.k_max": "30",
}
SMALL_HIDDEN_DIMS = "encoder.hidden_dims=[64,64,128]"  # only for encoder=dense


def pytest_configure(config):
    config.addinivalue_line("markers", "cli_case(name): the test reads the result of this CLI case (tests/test_cli.py)")


@pytest.fixture(scope="session", autouse=True)
def _private_embedding_cache(tmp_path_factory):
    """Runs that keep the embedding cache on (the CLI's default) write to a temporary folder, never ~/.cache."""
    previous = os.environ.get("TEXTCLUSTER_CACHE_DIR")
    os.environ["TEXTCLUSTER_CACHE_DIR"] = str(tmp_path_factory.mktemp("embedding-cache"))
    yield
    if previous is None:
        os.environ.pop("TEXTCLUSTER_CACHE_DIR", None)
    else:
        os.environ["TEXTCLUSTER_CACHE_DIR"] = previous


# ------------------------------------------------------------------------------------- real data


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder; tests using it skip (with the reason) when it is absent."""
    if not DATA_DIR.is_dir():
        pytest.skip(
            f"shared data folder {DATA_DIR} not found; set TEXTCLUSTER_DATA_DIR to the folder "
            "holding mnist/, 20newsgroups/, searchsnippets/"
        )
    return DATA_DIR


@pytest.fixture(scope="session")
def data_file(data_dir):
    """``data_file("mnist", "t10k-images-idx3-ubyte.gz")``: a path under the data folder, or skip if missing."""

    def find(*parts: str) -> Path:
        path = data_dir.joinpath(*parts)
        if not path.exists():
            pytest.skip(f"{path} not found in the shared data folder")
        return path

    return find


# ------------------------------------------------------------------------------------- configs


def shrink_overrides(overrides: Iterable[str] = (), limit: int | None = None) -> list[str]:
    """``overrides`` plus the SHRINK settings (and ``data.limit``) the caller did not set itself."""
    overrides = list(overrides)
    given = {o.lstrip("+~").split("=", 1)[0] for o in overrides}
    extra = [f"{key}={value}" for key, value in SHRINK.items() if key not in given]
    if limit is not None and "data.limit" not in given:
        extra.append(f"data.limit={limit}")
    return overrides + extra


def compose_small(*overrides: str, limit: int | None = None):
    """``textcluster.config.compose`` (Hydra's compose API) with a 1-epoch trainer and a small dense encoder."""
    from textcluster.config import compose

    overrides = shrink_overrides(overrides, limit)
    from textcluster import registry
    from textcluster.dataset import IMAGE

    cfg = compose(overrides)
    dense = cfg.encoder.name == "dense" or (
        cfg.encoder.name == "auto" and registry.datasets.get(cfg.data.name).modality == IMAGE  # the image recipe
    )
    if dense and not any(o.startswith("encoder.hidden_dims=") for o in overrides):
        cfg = compose(overrides + [SMALL_HIDDEN_DIMS])
    return cfg


@contextmanager
def log_every_update(total, what, unit, done=0):
    """A stand-in for textcluster.progress.track: its log form, with a line at every update (not every 30 s)."""
    from textcluster.progress import LogProgress

    handle = LogProgress(total, what, unit, every=0.0, done=done)
    yield handle
    handle.close()


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def read_status(run_dir: Path) -> str:
    return read_json(Path(run_dir) / "status.json")["status"]


# ------------------------------------------------------------------------------------- the CLI


def textcluster_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m textcluster.cli``."""
    script = Path(sys.executable).with_name("textcluster")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "textcluster.cli"]


def run_textcluster(
    *args: str, run_dir: Path | None = None, cwd: Path | None = None, timeout: float = 300, threads: int | None = None
) -> subprocess.CompletedProcess:
    """Run the real ``textcluster`` command; ``run_dir`` becomes ``hydra.run.dir`` (never outputs/ in the repo).

    ``threads`` caps OpenMP/BLAS threads, for when several commands run at once on few cores.
    """
    command = textcluster_command() + list(args)
    if not any(arg.lstrip("+~").startswith(("report_map=", "report=")) for arg in args):
        command.append("report_map=pca")  # see SHRINK
    if run_dir is not None:
        command.append(f"hydra.run.dir={run_dir}")
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)  # it would add a traceback to Hydra's own messages
    if threads is not None:
        env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if cwd is None:
        cwd = Path(run_dir).parent if run_dir is not None else None
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def run_main(capsys, main, *argv: str) -> tuple[int, str, str]:
    """A command's ``main(argv)`` in this process (textcluster-predict, -topics, -update): (exit status, stdout,
    stderr)."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
