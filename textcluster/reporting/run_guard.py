"""The run folder a ``textcluster`` command writes to, settled before Hydra writes anything into it.

Hydra creates the run folder and writes ``.hydra/`` and ``cli.log`` into it
before the run starts, so the rules live in a Hydra callback that runs first
(``hydra.callbacks.run_folder`` in conf/config.yaml):

* a folder holding a **completed** run is never written again: the command
  stops with one line (exit 2) and the folder stays byte for byte as it was;
* a folder another textcluster process is writing (it holds the folder's
  lock) is refused the same way;
* an **unfinished** run folder named again with ``hydra.run.dir`` (running,
  failed or interrupted) is emptied first, so nothing of the earlier attempt
  (an old ``k_selection.json``, the old log) mixes with the new run;
* a named folder that holds other files and is not a run folder is refused;
* the default, time-stamped folder gets a suffix (``-1``, ``-2``) when another
  run started in the same second; it is reserved with an atomic ``mkdir``;
* a folder that cannot be created or written is one line naming it, before
  any work; a sweep folder that already holds completed runs is refused too.

A run folder whose config is refused or whose data cannot be read leaves
nothing behind (:func:`discard_if_fresh`); a failure of the disk itself
leaves the folder with ``status.json`` saying ``failed``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from textcluster.errors import StorageError, UserError
from textcluster.reporting.files import COMPLETED, STATUS_FILE, read_status
from textcluster.storage import ensure_writable_folder, remove_quietly, storage_errors

LOCK_FILE = ".lock"
MAX_SUFFIX = 1000

_held_locks: dict[Path, Any] = {}  # run folder -> its open lock file, held until the process ends
_fresh: set[Path] = set()  # run folders this process created


def _explicit(config: DictConfig, key: str) -> bool:
    """Whether the command line named ``key`` itself (the default folder names are time stamps)."""
    return any(str(o).split("=", 1)[0].lstrip("+~") == key for o in config.hydra.overrides.hydra)


def _fail(message: str) -> None:
    print(f"textcluster: error: {message}", file=sys.stderr)
    sys.exit(2)


class RunFolderGuard(Callback):
    """Settles ``hydra.run.dir`` (single runs) and checks ``hydra.sweep.dir`` (sweeps); see the module doc."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            run_dir = claim_run_folder(Path(str(config.hydra.run.dir)), _explicit(config, "hydra.run.dir"))
        except UserError as error:
            _fail(str(error))
        with read_write(config.hydra.run), open_dict(config.hydra.run):
            config.hydra.run.dir = str(run_dir)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        runs = [status.parent for status in sweep_dir.glob(f"*/{STATUS_FILE}")]
        finished = sorted(run.name for run in runs if read_status(run) == COMPLETED)
        if not finished:
            return
        if _explicit(config, "hydra.sweep.dir"):
            _fail(
                f"sweep folder {sweep_dir} already holds {len(finished)} completed runs ({', '.join(finished[:3])}"
                f"{', ...' if len(finished) > 3 else ''}); they are kept: choose a new hydra.sweep.dir"
            )
        with read_write(config.hydra.sweep), open_dict(config.hydra.sweep):
            config.hydra.sweep.dir = str(_unused_name(sweep_dir))


def claim_run_folder(run_dir: Path, explicit: bool) -> Path:
    """The folder this run will write: created (or emptied, if it is an unfinished run), locked, writable.

    ``explicit``: the user named it (``hydra.run.dir=``); otherwise it is the default time-stamped name, and
    a folder of that name made by another process gets a suffix instead.
    """
    run_dir = Path(os.path.abspath(run_dir))
    if not explicit:
        run_dir = _reserve(run_dir)
    elif not run_dir.exists():
        _create(run_dir)
    else:
        _refuse_finished(run_dir)  # before the lock file is opened: a finished folder is not touched at all
    _lock(run_dir)
    if run_dir not in _fresh:
        _refuse_finished(run_dir)  # again under the lock: another run may have finished in between
        _empty(run_dir)
    ensure_writable_folder(run_dir, "choose a run folder you can write to (hydra.run.dir=...)")
    return run_dir


def _create(run_dir: Path) -> None:
    with storage_errors(run_dir, "choose a run folder you can write to (hydra.run.dir=...)"):
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
    _fresh.add(run_dir)


def _reserve(run_dir: Path) -> Path:
    """``run_dir``, or the first of ``run_dir-1``, ``-2``, ... that this process creates itself."""
    for candidate in [run_dir] + [run_dir.with_name(f"{run_dir.name}-{i}") for i in range(1, MAX_SUFFIX)]:
        try:
            _create(candidate)
        except FileExistsError:
            continue
        return candidate
    raise StorageError(f"could not find an unused run folder beside {run_dir}; set hydra.run.dir=<new folder>")


def _unused_name(folder: Path) -> Path:
    for candidate in [folder.with_name(f"{folder.name}-{i}") for i in range(1, MAX_SUFFIX)]:
        if not candidate.exists():
            return candidate
    raise StorageError(f"could not find an unused folder name beside {folder}; name one yourself")


def _lock(run_dir: Path) -> None:
    """Hold the folder's lock for the life of this process; another process holding it means a run is on."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): the status check below still refuses finished runs
        return
    with storage_errors(run_dir, "choose a run folder you can write to (hydra.run.dir=...)"):
        handle = open(run_dir / LOCK_FILE, "a+b")  # noqa: SIM115
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserError(
            f"run folder {run_dir} is in use by another textcluster run; wait for it, or choose another hydra.run.dir"
        ) from None
    _held_locks[run_dir] = handle


def _entries(run_dir: Path) -> list[Path]:
    with storage_errors(run_dir, "choose a run folder you can read and write (hydra.run.dir=...)"):
        return [entry for entry in run_dir.iterdir() if entry.name != LOCK_FILE]


def _refuse_finished(run_dir: Path) -> None:
    """A finished run's folder or a folder that is not a run's is refused (UserError)."""
    if not _entries(run_dir):
        return
    status = read_status(run_dir)
    if status == COMPLETED:
        raise UserError(
            f"run folder {run_dir} already holds a completed run, which is kept as it is; choose a new "
            "hydra.run.dir (or delete that folder first)"
        )
    if status is None:
        raise UserError(
            f"{run_dir} holds files and is not a textcluster run folder (no {STATUS_FILE}); choose a new or "
            "empty folder for hydra.run.dir"
        )


def _empty(run_dir: Path) -> None:
    """An unfinished attempt named again: nothing of it may mix with this run's files."""
    for entry in _entries(run_dir):
        remove_quietly(entry)


def discard_if_fresh(run_dir: Path) -> bool:
    """Remove ``run_dir`` when this process created it (a run refused before it did any work leaves nothing);
    True if it was removed."""
    run_dir = Path(os.path.abspath(run_dir))
    if run_dir not in _fresh:
        return False
    handle = _held_locks.pop(run_dir, None)
    if handle is not None:
        handle.close()
    remove_quietly(run_dir)
    _fresh.discard(run_dir)
    return True
