"""Fault injection through the real command and the Python API: kills, full disks, unwritable folders,
damaged cache shards, two runs at once, a run folder named twice.

Each test asserts the promise of the run folder and the cache: no traceback,
the right exit code and ``status.json``, every finished run folder byte for
byte as it was, and embeddings after a resume equal to an uninterrupted run's.
A full disk is a small tmpfs where the test may mount one (root, as in CI),
else a writer patched to raise ENOSPC; an unwritable folder is a read-only
mount, else a folder without write permission.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from conftest import read_json, read_status, run_textcluster, textcluster_command
from textcluster.cache import EmbeddingCache
from textcluster.contracts import TrainingContext
from textcluster.dataset import Dataset
from textcluster.encoders.dense import RawEncoder
from textcluster.errors import RunInterrupted, StorageError
from textcluster.reporting.files import read_status as status_or_none

FAULT_PLUGINS = Path(__file__).parent / "fault_plugins"
SLOW = [f"plugins_dir={FAULT_PLUGINS}", "encoder=slow_raw", "cache_shard_size=100"]


# ------------------------------------------------------------------------------------- helpers


def checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by relative path: a folder is unchanged iff this is."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def one_error_line(stderr: str) -> str:
    """The command's only stderr line, which must be ours (no traceback, no library noise around it)."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("textcluster: error: "), stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data_file) -> Path:
    """600 SearchSnippets lines as a file of their own (one text a line)."""
    lines = data_file("searchsnippets", "SearchSnippets.txt").read_text(encoding="utf-8-sig").splitlines()[:600]
    path = tmp_path_factory.mktemp("corpus") / "snippets.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def base_args(corpus: Path, cache_dir: Path, *extra: str) -> list[str]:
    return [
        "data=lines",
        f"data.path={corpus}",
        "clusterer.n_clusters=4",
        "report=false",
        "cache=true",
        f"cache_dir={cache_dir}",
        *extra,
    ]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, corpus) -> np.ndarray:
    """The slow encoder's embeddings of the corpus from one run that nothing stopped."""
    root = tmp_path_factory.mktemp("uninterrupted")
    done = run_textcluster(
        *base_args(corpus, root / "cache", *SLOW, "encoder.seconds_per_call=0"), run_dir=root / "run"
    )
    assert done.returncode == 0, done.stderr
    return np.load(root / "run" / "embeddings.npy")


@contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A small tmpfs at ``folder`` (unmounted after), or skip where this process may not mount one."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root")
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def start(args: list[str], cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, **(env_extra or {})}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.Popen(
        textcluster_command() + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for_shards(cache_dir: Path, process: subprocess.Popen, at_least: int = 1, timeout: float = 120) -> int:
    """Block until a running encoding has ``at_least`` finished shards on disk; returns how many."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for progress in cache_dir.rglob("progress.json"):
            try:
                done = len(read_json(progress)["shards"])
            except (OSError, ValueError, KeyError):
                continue
            if done >= at_least:
                return done
        time.sleep(0.02)
    raise AssertionError(f"the run ended or stalled before {at_least} shards were written: {process.poll()}")


# ------------------------------------------------------------------------------------- run folders own their files


def test_a_finished_run_folder_is_never_written_again(tmp_path, corpus, data_file):
    """Defect 1: the cache entry was hard-linked into run folders, and a later run wrote through the link."""
    cache_dir = tmp_path / "cache"
    args = base_args(corpus, cache_dir, "encoder=raw", "data.limit=300")
    for name in ("A", "B"):
        done = run_textcluster(*args, run_dir=tmp_path / name)
        assert done.returncode == 0, done.stderr
    before = {name: checksums(tmp_path / name) for name in ("A", "B")}
    assert os.stat(tmp_path / "B" / "embeddings.npy").st_nlink == 1  # a copy, not a link to the cache entry

    stack = data_file("stackoverflow", "StackOverflow.txt")
    other = run_textcluster(
        *base_args(stack, cache_dir, "encoder=raw", "data.limit=400"), "data=lines", run_dir=tmp_path / "A"
    )
    assert other.returncode == 2
    assert "already holds a completed run" in one_error_line(other.stderr)
    again = run_textcluster(*args, run_dir=tmp_path / "B")  # the same command twice into one folder
    assert again.returncode == 2 and "already holds a completed run" in one_error_line(again.stderr)
    assert {name: checksums(tmp_path / name) for name in ("A", "B")} == before
    for entry in cache_dir.rglob("*.npy"):
        assert not os.access(entry, os.W_OK) or os.geteuid() == 0 and not entry.stat().st_mode & 0o222


def test_an_unfinished_run_folder_named_again_is_emptied_first(tmp_path, corpus):
    """Defect 10: a re-used folder kept the previous attempt's files and appended to its log."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "status.json").write_text(json.dumps({"status": "interrupted"}))
    (run_dir / "k_selection.json").write_text("{}")
    (run_dir / "cli.log").write_text("the earlier attempt's log\n")
    done = run_textcluster(*base_args(corpus, tmp_path / "cache", "encoder=raw", "data.limit=300"), run_dir=run_dir)
    assert done.returncode == 0, done.stderr
    assert read_status(run_dir) == "completed"
    assert not (run_dir / "k_selection.json").exists()  # k was fixed in this run: no search, no file
    assert "the earlier attempt" not in (run_dir / "cli.log").read_text()


def test_a_refused_config_leaves_no_run_folder(tmp_path, corpus):
    done = run_textcluster(*base_args(corpus, tmp_path / "cache", "clusterer.n_clusters=abc"), cwd=tmp_path)
    assert done.returncode == 2 and "clusterer.n_clusters='abc' is not valid" in one_error_line(done.stderr)
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("status.json"))


def test_two_runs_started_in_the_same_second_get_two_folders_and_encode_once(tmp_path, corpus):
    """Defect 9: two runs sharing a cache both encoded. Now the second waits for the first, then reads its
    entry; and two default run folders named by the same second get told apart."""
    args = base_args(corpus, tmp_path / "cache", *SLOW, "encoder.seconds_per_call=0.3", "data.limit=400")
    first = start(args, cwd=tmp_path)
    second = start(args, cwd=tmp_path)
    outputs = [process.communicate(timeout=180) for process in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    logs = sorted(tmp_path.glob("outputs/*/*/cli.log"))
    assert len(logs) == 2  # two folders, whatever second each started in
    texts = [log.read_text() for log in logs]
    assert sum("embedding cache miss" in text for text in texts) == 1
    assert sum("embedding cache hit" in text for text in texts) == 1


# ------------------------------------------------------------------------------------- kills and resuming


def test_kills_at_several_points_then_the_same_command_resumes_to_the_same_embeddings(tmp_path, corpus, uninterrupted):
    """Defect 8: below one (20,000-document) shard nothing resumed. Shards are now small files with their
    checksums; a stop at any instant loses at most the shard being encoded. SIGINT, then SIGTERM, then
    SIGKILL, each a shard further on, then the same command to the end."""
    cache_dir, run_dir = tmp_path / "cache", tmp_path / "run"
    args = [*base_args(corpus, cache_dir, *SLOW), f"hydra.run.dir={run_dir}"]
    finished = 0
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        process = start(args, cwd=tmp_path)
        finished = wait_for_shards(cache_dir, process, at_least=finished + 1)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
        assert "Traceback" not in stderr
        if signum == signal.SIGKILL:
            assert process.returncode == -signal.SIGKILL and read_status(run_dir) == "running"
        else:
            assert process.returncode == 130, stderr
            assert read_status(run_dir) == "interrupted"
            assert "run the same command again to resume" in read_json(run_dir / "status.json")["error"]
        assert not (run_dir / "embeddings.npy").exists()  # nothing that looks whole

    resumed = run_textcluster(*args[:-1], run_dir=run_dir)  # the same command, the same folder
    assert resumed.returncode == 0, resumed.stderr
    log = (run_dir / "cli.log").read_text()
    assert "of 6 shards finished by an earlier run" in log
    assert int(log.split("resuming the encoding: ")[1].split()[0]) >= finished
    np.testing.assert_array_equal(np.load(run_dir / "embeddings.npy"), uninterrupted)


# ------------------------------------------------------------------------------------- damaged partial entries


class StopsAfter(RawEncoder):
    """The raw encoder, interrupted (as by Ctrl-C) at its ``stop_at``-th transform call (None: never). One
    class for the stopped and the resumed run: the cache key follows the encoder's code."""

    depends_on_seed = False
    stop_at: int | None = 3
    calls = 0

    def transform(self, dataset):
        type(self).calls += 1
        if type(self).calls == self.stop_at:
            raise RunInterrupted("SIGTERM")
        return super().transform(dataset)


def interrupted_partial(tmp_path: Path, dataset: Dataset) -> tuple[EmbeddingCache, Path]:
    """A cache holding an unfinished entry: two of the dataset's three shards written, then a stop."""
    cache = EmbeddingCache(tmp_path / "cache", shard_size=100)
    StopsAfter.calls, StopsAfter.stop_at = 0, 3
    with pytest.raises(RunInterrupted):
        cache.encode(StopsAfter(), dataset, TrainingContext())
    (partial,) = (tmp_path / "cache").rglob("*.partial")
    assert sorted(read_json(partial / "progress.json")["shards"]) == ["0", "1"]
    return cache, partial


@pytest.fixture(scope="module")
def snippets_dataset(corpus) -> Dataset:
    return Dataset(name="snippets", texts=corpus.read_text().splitlines()[:250])


def damage_truncate(partial: Path) -> None:
    shard = partial / "shard-000000.npy"
    shard.write_bytes(shard.read_bytes()[:1000])


def damage_zero(partial: Path) -> None:
    shard = partial / "shard-000001.npy"
    array = np.load(shard)
    np.save(shard, np.zeros_like(array))  # same shape, zero rows: only the checksum tells


def damage_state(partial: Path) -> None:
    (partial / "state.json").write_text('{"format": 1, "state": {"features": ')


@pytest.mark.parametrize("damage", [damage_truncate, damage_zero, damage_state], ids=["truncated", "zeroed", "state"])
def test_a_damaged_partial_entry_is_redone_not_trusted(tmp_path, snippets_dataset, caplog, damage):
    """Defect 3: a truncated partial array was extended with zeros and stored as a valid entry; a damaged
    state.json made every rerun fail."""
    whole = RawEncoder().fit(snippets_dataset).transform(snippets_dataset)
    cache, partial = interrupted_partial(tmp_path, snippets_dataset)
    damage(partial)
    StopsAfter.stop_at = None
    with caplog.at_level(logging.INFO, logger="textcluster.cache"):
        embeddings, hit = cache.encode(StopsAfter(), snippets_dataset, TrainingContext())
    assert not hit
    assert "encoding it again" in caplog.text or "discarding the unfinished entry" in caplog.text
    np.testing.assert_array_equal(np.asarray(embeddings), whole.astype(np.float32))
    assert not np.all(np.asarray(embeddings) == 0, axis=1).any()


# ------------------------------------------------------------------------------------- full and unwritable disks


def test_a_full_cache_disk_is_one_line_and_the_run_resumes_once_there_is_room(tmp_path, corpus, uninterrupted):
    """Defect 2: a sparse memory-mapped array on a full disk killed the run with SIGBUS (exit 135)."""
    cache_dir = tmp_path / "small"
    args = base_args(corpus, cache_dir, *SLOW, "encoder.seconds_per_call=0")
    with tmpfs(cache_dir, "400k"):
        full = run_textcluster(*args, run_dir=tmp_path / "run")
        assert full.returncode == 2
        assert f"no space left on the device holding {cache_dir}" in one_error_line(full.stderr)
        assert read_status(tmp_path / "run") == "failed"
        subprocess.run(["mount", "-o", "remount,size=64m", str(cache_dir)], check=True)
        resumed = run_textcluster(*args, run_dir=tmp_path / "run")
        assert resumed.returncode == 0, resumed.stderr
        assert "resuming the encoding" in (tmp_path / "run" / "cli.log").read_text()
        np.testing.assert_array_equal(np.load(tmp_path / "run" / "embeddings.npy"), uninterrupted)


def test_a_full_run_folder_is_one_line_and_failed_never_completed(tmp_path, corpus):
    """Defect 4: a full run folder gave an OSError traceback, a half-written embeddings.npy and, with the
    report on, exit 1 beside status completed."""
    with tmpfs(tmp_path / "disk", "600k") as disk:
        done = run_textcluster(
            *base_args(corpus, tmp_path / "cache", "encoder=raw", "report=true", "report_map=pca"), run_dir=disk / "run"
        )
        assert done.returncode == 2
        assert f"no space left on the device holding {disk / 'run'}" in one_error_line(done.stderr)
        assert status_or_none(disk / "run") in ("failed", None)  # failed where the disk still took status.json
        assert not [path.name for path in (disk / "run").iterdir() if path.name.endswith(".tmp")]
        for name in ("embeddings.npy", "report.html", "timings.json"):
            assert not (disk / "run" / name).exists() or status_or_none(disk / "run") == "failed"


def test_full_disk_at_the_nth_write_through_the_python_api(tmp_path, monkeypatch):
    """Where no file system can be mounted: every write of a run raising ENOSPC in turn gives StorageError,
    status failed and no file under its real name that is not whole."""
    from conftest import compose_small
    from textcluster import storage
    from textcluster.experiment import run_experiment

    real = storage.os.replace
    for nth in (1, 3, 6):
        calls = {"n": 0}

        def fails_at_nth(source, target, nth=nth, calls=calls):
            calls["n"] += 1
            if calls["n"] == nth:
                raise OSError(errno.ENOSPC, "No space left on device", str(target))
            return real(source, target)

        monkeypatch.setattr(storage.os, "replace", fails_at_nth)
        run_dir = tmp_path / f"run-{nth}"
        with pytest.raises(StorageError, match="no space left on the device holding"):
            run_experiment(compose_small("encoder=raw", "report=false", limit=200), run_dir)
        monkeypatch.setattr(storage.os, "replace", real)
        assert status_or_none(run_dir) in ("failed", None)
        assert not list(run_dir.rglob("*.tmp"))


def test_an_unwritable_run_folder_or_cache_is_one_line_before_any_work(tmp_path, corpus):
    """Defect 4: an unwritable parent gave Hydra's PermissionError traceback, an unwritable folder
    ``ValueError: Unable to configure handler 'file'``."""
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as read_only:
        for run_dir, cache in ((read_only / "run", tmp_path / "cache"), (tmp_path / "run", read_only / "cache")):
            done = run_textcluster(*base_args(corpus, cache, "encoder=raw"), run_dir=run_dir)
            assert done.returncode == 2, done.stderr
            assert "read-only file system" in one_error_line(done.stderr)


@pytest.mark.parametrize("kernel_copy", ["copy_file_range", "refused", "absent"])
def test_a_copied_file_is_its_own_and_a_full_disk_mid_copy_leaves_nothing(tmp_path, monkeypatch, kernel_copy):
    from textcluster import storage

    source = tmp_path / "cached.npy"
    payload = os.urandom(3 * 1024 * 1024 + 7)  # not a whole number of steps
    source.write_bytes(payload)
    monkeypatch.setattr(storage, "KERNEL_COPY_STEP", 1 << 20)  # several calls, as a file over 1 GB takes
    if kernel_copy == "refused":  # another file system on an old kernel: the bytes go through Python

        def refuse(*args):
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refuse)
    elif kernel_copy == "absent":  # not Linux
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    (tmp_path / "run").mkdir()
    target = storage.copy_file(source, tmp_path / "run" / "embeddings.npy")
    assert target.read_bytes() == payload
    target.write_bytes(b"changed")  # the run folder's copy is never the cache's file
    assert source.read_bytes() == payload

    copies = []

    def full_after_one_step(source_fd, target_fd, count):
        if copies:
            raise OSError(errno.ENOSPC, "No space left on device")
        copies.append(count)
        return os.write(target_fd, os.pread(source_fd, count, 0))

    monkeypatch.setattr(os, "copy_file_range", full_after_one_step, raising=False)
    with pytest.raises(StorageError, match="no space left"):
        storage.copy_file(source, tmp_path / "run" / "again.npy")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["embeddings.npy"]  # no partial file
