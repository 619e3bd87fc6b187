"""Reading run folders: which folders under a path are runs, whether each completed, its overrides, seed and
numbers, and an Optuna sweep's best result.

A run folder is data: its JSON is read with ``json``, its YAML with ``yaml.safe_load``; nothing in it runs.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textcluster.errors import UserError
from textcluster.reporting.files import COMPLETED, STATUS_FILE

METRICS_FILE = "metrics.json"
TIMINGS_FILE = "timings.json"  # textcluster.experiment.TIMINGS_FILE (not imported: that module loads torch)
VERSIONS_FILE = "versions.json"
OVERRIDES_FILE = Path(".hydra") / "overrides.yaml"
CONFIG_FILE = Path(".hydra") / "config.yaml"
OPTUNA_FILE = "optimization_results.yaml"

TIME = "time_s"
SEED = "seed"


@dataclass(frozen=True)
class Override:
    """One ``key=value`` of ``.hydra/overrides.yaml``: ``text`` as written, ``canon`` for grouping
    (Hydra's typed value, so ``report=false`` and ``report=False`` are the same)."""

    key: str
    text: str
    canon: str

    def __str__(self) -> str:
        return self.key if self.key.startswith("~") and not self.text else f"{self.key}={self.text}"


@dataclass
class RunRecord:
    """A completed run folder: its overrides (without ``seed``), its seed and its numbers (``time_s`` too)."""

    path: Path
    overrides: dict[str, Override]
    seed: Any
    values: dict[str, float]


class SkipRun(Exception):
    """A run folder left out of the comparison; the message says why."""


def parse_overrides(lines: Iterable[str]) -> dict[str, Override]:
    """``key -> Override`` from the lines of ``.hydra/overrides.yaml`` (Hydra's override grammar)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    found = {}
    for line in lines:
        key, _, text = str(line).partition("=")
        key, canon = key.lstrip("+"), json.dumps(text)
        try:
            parsed = parser.parse_override(str(line))
            key = parsed.key_or_group + (f"@{parsed.package}" if parsed.package else "")
            key = ("~" if parsed.is_delete() else "") + key
            canon = json.dumps(parsed.value(), sort_keys=True, default=str)
        except Exception:  # a line Hydra's grammar does not take: compared as written
            pass
        found[key] = Override(key, text, canon)
    return found


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def one_line(text: Any) -> str:
    return " ".join(str(text).split())


def numbers(payload: Any) -> dict[str, float]:
    """The finite numbers of a JSON object (no bools, no nan)."""
    if not isinstance(payload, dict):
        return {}
    return {
        str(key): float(value)
        for key, value in payload.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }


def check_status(folder: Path) -> None:
    try:
        status = read_json(folder / STATUS_FILE)
    except FileNotFoundError:
        raise SkipRun(f"no {STATUS_FILE}, so not known to have completed") from None
    except (OSError, ValueError) as error:
        raise SkipRun(f"{STATUS_FILE} is unreadable ({one_line(error)})") from None
    state = status.get("status") if isinstance(status, dict) else None
    if state != COMPLETED:
        error = status.get("error") if isinstance(status, dict) else None
        raise SkipRun(f"status is {state}" + (f" ({one_line(error)})" if error else ""))


def run_values(folder: Path) -> dict[str, float]:
    """metrics.json's numbers without its stage timings, and ``time_s``: timings.json summed (else the
    metrics' ``*_s`` keys)."""
    try:
        metrics = numbers(read_json(folder / METRICS_FILE))
    except (OSError, ValueError) as error:
        raise SkipRun(f"{METRICS_FILE} is missing or unreadable ({one_line(error)})") from None
    try:
        timings = numbers(read_json(folder / TIMINGS_FILE))
    except (OSError, ValueError):
        timings = {key: value for key, value in metrics.items() if key.endswith("_s")}
    values = {key: value for key, value in metrics.items() if not key.endswith("_s")}
    if timings:
        values[TIME] = sum(timings.values())
    return values


def run_overrides(folder: Path) -> dict[str, Override]:
    path = folder / OVERRIDES_FILE
    if not path.is_file():
        return {}
    try:
        lines = read_yaml(path)
    except Exception as error:  # yaml's errors: one line
        raise SkipRun(f"{OVERRIDES_FILE} is unreadable ({one_line(error)})") from None
    if not isinstance(lines, list):
        raise SkipRun(f"{OVERRIDES_FILE} is not a list of key=value overrides")
    return parse_overrides(lines)


def run_seed(folder: Path, overrides: dict[str, Override]) -> Any:
    """versions.json's seed, else .hydra/config.yaml's, else the ``seed=`` override; None when unknown."""
    for read in (lambda: read_json(folder / VERSIONS_FILE), lambda: read_yaml(folder / CONFIG_FILE)):
        try:
            found = read()
        except Exception:
            continue
        if isinstance(found, dict) and found.get(SEED) is not None:
            return found[SEED]
    return overrides[SEED].text if SEED in overrides else None


def read_run(folder: Path) -> RunRecord:
    """A completed run folder's record; SkipRun (with the reason) for any other."""
    check_status(folder)
    values = run_values(folder)
    overrides = run_overrides(folder)
    seed = run_seed(folder, overrides)
    overrides.pop(SEED, None)
    return RunRecord(folder, overrides, seed, values)


def natural_key(name: str) -> list:
    """``2_...`` before ``10_...``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def is_run_folder(folder: Path) -> bool:
    """A folder a run wrote (a job that failed before its status.json counts too: it is listed as skipped)."""
    return any((folder / name).is_file() for name in (METRICS_FILE, STATUS_FILE, OVERRIDES_FILE))


def find_runs(path: Path) -> tuple[list[Path], list[Path]]:
    """``(run folders, optimization_results.yaml files)`` at or under ``path``; UserError when there are none."""
    if not path.exists():
        raise UserError(
            f"'{path}' does not exist; give a run folder (it holds {METRICS_FILE}) or a multirun folder "
            "such as outputs/multirun/<date>/<time>"
        )
    if not path.is_dir():
        raise UserError(f"'{path}' is a file; give the run folder that holds it, or a multirun folder")
    if is_run_folder(path):
        return [path], []
    runs, optuna = [], []
    for top, dirs, files in os.walk(path):
        folder = Path(top)
        if OPTUNA_FILE in files:
            optuna.append(folder / OPTUNA_FILE)
        if folder != path and is_run_folder(folder):
            runs.append(folder)
            dirs.clear()  # model/, logs/, plots/ hold no runs
            continue
        dirs[:] = sorted((d for d in dirs if not d.startswith(".")), key=natural_key)
    if not runs:
        raise UserError(
            f"no run folders under '{path}' (a run folder holds {METRICS_FILE} or {STATUS_FILE}); give a run "
            "folder or a multirun folder such as outputs/multirun/<date>/<time>"
        )
    return runs, optuna


def optuna_note(path: Path) -> str:
    """One line from an Optuna sweep's optimization_results.yaml: its best params and value."""
    try:
        found = read_yaml(path)
    except Exception as error:
        return f"Optuna ({path.parent}): {OPTUNA_FILE} is unreadable ({one_line(error)})"
    found = found if isinstance(found, dict) else {}
    show = lambda params: " ".join(f"{k}={v}" for k, v in (params or {}).items()) or "(no params)"
    if "best_params" in found or "best_value" in found:
        return f"Optuna ({path.parent}): best value {found.get('best_value')} with {show(found.get('best_params'))}"
    solutions = found.get("solutions") or []
    shown = "; ".join(
        f"values {s.get('values')} with {show(s.get('params'))}" for s in solutions if isinstance(s, dict)
    )
    return f"Optuna ({path.parent}): {len(solutions)} Pareto solutions: {shown or 'none'}"


def collect(paths: Sequence[Path]) -> tuple[list[RunRecord], list[tuple[Path, str]], list[str]]:
    """``(completed runs, [(skipped folder, why)], Optuna notes)`` from the input paths."""
    records, skipped, notes, seen = [], [], [], set()
    for path in paths:
        folders, optuna = find_runs(path)
        notes += [optuna_note(file) for file in optuna]
        for folder in folders:
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            try:
                records.append(read_run(folder))
            except SkipRun as reason:
                skipped.append((folder, str(reason)))
    return records, skipped, notes
