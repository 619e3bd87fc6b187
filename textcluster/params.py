"""Declared parameters: each plugin says what values its settings take, and one checker reads them all.

In the spirit of scikit-learn's ``_parameter_constraints``: a plugin class sets
``parameters = {"n_init": Int(min=1), "metric": Choice("euclidean", "cosine"), ...}``
and the builder checks a whole composed config against those declarations
before any data loads. Constraints combine with ``|``:
``Int(min=1) | NULL | Choice("labels")``. Every problem comes back as one
sentence that names the setting, the value and what it must be.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def settings_block(defaults: Mapping[str, Any], given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A nested group of settings (``encoder.features``, ``encoder.augment``) as a plugin stores it: its
    ``defaults`` with the ``given`` keys on top, nested groups merged key by key. A plugin built in Python
    with a few keys gets the rest as the config would give them, and ``get_params`` shows every setting.
    """
    merged = {
        key: settings_block(value) if isinstance(value, Mapping) else copy.deepcopy(value)
        for key, value in defaults.items()
    }
    for key, value in (given or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = settings_block(merged[key], value)
        else:
            merged[key] = value
    return merged


def shown(value: Any) -> str:
    """A config value as a user would write it on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return repr(value)
    return str(value)


class Constraint:
    """What one setting accepts; ``problems`` lists what is wrong with a value (empty: it is fine)."""

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def problems(self, value: Any, path: str) -> list[str]:
        if self.accepts(value):
            return []
        return [f"{path}={shown(value)} is not valid: it must be {self.describe()}"]

    def __or__(self, other: Constraint) -> AnyOf:
        return AnyOf(self, other)


class AnyOf(Constraint):
    def __init__(self, *options: Constraint):
        self.options: list[Constraint] = []
        for option in options:
            self.options.extend(option.options if isinstance(option, AnyOf) else [option])

    def accepts(self, value: Any) -> bool:
        return any(option.accepts(value) for option in self.options)

    def describe(self) -> str:
        described = [option.describe() for option in self.options]
        return described[0] if len(described) == 1 else ", ".join(described[:-1]) + " or " + described[-1]


def _range(low: float | None, high: float | None, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}]"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" <= {high}"
    return ""


class Int(Constraint):
    """An integer (not a bool), optionally within ``min`` and ``max`` (both inclusive)."""

    def __init__(self, min: int | None = None, max: int | None = None):
        self.min, self.max = min, max

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        return "an integer" + _range(self.min, self.max)


class Float(Constraint):
    """A real number (integers count); ``min_open`` makes the lower bound strict."""

    def __init__(self, min: float | None = None, max: float | None = None, min_open: bool = False):
        self.min, self.max, self.min_open = min, max, min_open

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return False
        if not math.isfinite(value):
            return False
        above = self.min is None or (value > self.min if self.min_open else value >= self.min)
        return above and (self.max is None or value <= self.max)

    def describe(self) -> str:
        return "a number" + _range(self.min, self.max, self.min_open)


class Bool(Constraint):
    """true or false."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def describe(self) -> str:
        return "true or false"


class Str(Constraint):
    """A text that is not blank."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value.strip() != ""

    def describe(self) -> str:
        return "a text"


class Choice(Constraint):
    """One of the given values, of the same type as it (``Choice(1)`` refuses ``True``, which equals 1)."""

    def __init__(self, *values: Any):
        self.values = values

    def accepts(self, value: Any) -> bool:
        return any(value == option and type(value) is type(option) for option in self.values)

    def describe(self) -> str:
        return (
            "one of " + ", ".join(shown(value) for value in self.values)
            if len(self.values) > 1
            else shown(self.values[0])
        )


class Null(Constraint):
    def accepts(self, value: Any) -> bool:
        return value is None

    def describe(self) -> str:
        return "null"


class Anything(Constraint):
    def accepts(self, value: Any) -> bool:
        return True

    def describe(self) -> str:
        return "any value"


NULL = Null()
ANY = Anything()


class ListOf(Constraint):
    """A list whose items each meet ``item``; ``length`` fixes how many there are."""

    def __init__(self, item: Constraint, length: int | None = None, min_length: int = 0, ascending: bool = False):
        self.item, self.length, self.min_length, self.ascending = item, length, min_length, ascending

    def accepts(self, value: Any) -> bool:
        return not self.problems(value, "")

    def describe(self) -> str:
        count = f"{self.length} " if self.length is not None else ""
        order = ", in ascending order" if self.ascending else ""
        return f"a list of {count}items, each {self.item.describe()}{order}"

    def problems(self, value: Any, path: str) -> list[str]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            return [f"{path}={shown(value)} is not valid: it must be {self.describe()}"]
        if (self.length is not None and len(value) != self.length) or len(value) < self.min_length:
            return [f"{path}={shown(list(value))} is not valid: it must be {self.describe()}"]
        problems = [
            problem for index, item in enumerate(value) for problem in self.item.problems(item, f"{path}[{index}]")
        ]
        if not problems and self.ascending and list(value) != sorted(value):
            problems.append(f"{path}={shown(list(value))} is not valid: it must be {self.describe()}")
        return problems


class Block(Constraint):
    """A nested group of settings (``encoder.features.*``); keys it does not declare are errors unless ``open``.

    An ``open`` block takes any further key (Lightning's many Trainer arguments,
    CountVectorizer's), checking only the ones it declares.
    """

    def __init__(self, fields: Mapping[str, Constraint], open: bool = False):
        self.fields, self.open = dict(fields), open

    def accepts(self, value: Any) -> bool:
        return not self.problems(value, "")

    def describe(self) -> str:
        return "a group of settings (" + ", ".join(sorted(self.fields)) + ")"

    def problems(self, value: Any, path: str) -> list[str]:
        if not isinstance(value, Mapping):
            return [f"{path}={shown(value)} is not valid: it must be {self.describe()}"]
        found = []
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in self.fields:
                found += self.fields[key].problems(item, where)
            elif not self.open:
                found.append(
                    f"{where} is not a setting; {path or 'the config'} takes: {', '.join(sorted(self.fields))}"
                )
        return found
