"""One registry per plugin kind, filled by decorators and by entry points.

Built-in plugins register themselves with ``@clusterers.register("kmeans")``.
Third-party packages declare entry points in the group ``textcluster.<kind>``
(for example ``textcluster.clusterers``); they are loaded the first time a
registry is asked for a key. Building a plugin checks its settings against
what the plugin declares (:mod:`textcluster.params`) before it is constructed.

A built-in package whose modules import heavy libraries at import time
(torch for the encoders and refiners) names the module of each key in
``PLUGIN_MODULES``; the registry then imports only the module of the key it is
asked for, so checking ``encoder=hybrid`` imports no convolutional network.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from textcluster.contracts import Clusterer, DatasetLoader, Encoder, Evaluator, NoisePolicy, Plugin, Reducer, Refiner
from textcluster.errors import UnknownPluginError, UserError
from textcluster.params import Block

ENTRY_POINT_PREFIX = "textcluster."


class Registry:
    """Maps a short key (as written in configs) to a plugin class."""

    def __init__(self, kind: str, singular: str, builtin_module: str, contract: type[Plugin]):
        self.kind = kind  # plural, e.g. "clusterers"; also the entry-point group suffix
        self.singular = singular  # in messages: "unknown clusterer 'x'"
        self.builtin_module = builtin_module  # imported on first use; its decorators fill the registry
        self.contract = contract  # every plugin of this kind subclasses it (textcluster.contracts)
        self._plugins: dict[str, type] = {}
        self._loaded = False

    @property
    def entry_point_group(self) -> str:
        return ENTRY_POINT_PREFIX + self.kind

    def register(self, key: str) -> Callable[[type], type]:
        """Class decorator: ``@registry.register("key")``."""

        def decorate(cls: type) -> type:
            if not (isinstance(cls, type) and issubclass(cls, self.contract)):
                raise UserError(
                    f"{getattr(cls, '__qualname__', cls)} is registered as {self.singular} '{key}' but "
                    f"does not subclass textcluster.contracts.{self.contract.__name__}; derive it from "
                    "that contract (see docs/plugins.md, 'Writing a plugin')"
                )
            existing = self._plugins.get(key)
            if existing is not None and existing is not cls:
                raise ValueError(f"{self.kind} key {key!r} is already taken by {existing.__qualname__}")
            self._plugins[key] = cls
            cls.registry_key = key
            return cls

        return decorate

    def _builtin_modules(self) -> dict[str, str] | None:
        """``{key: module}`` for a built-in package that names them; None: importing the package registers all."""
        return getattr(importlib.import_module(self.builtin_module), "PLUGIN_MODULES", None)

    def _load_key(self, key: str) -> None:
        """Import what registers ``key`` alone: its built-in module, else an entry point of that name."""
        module = (self._builtin_modules() or {}).get(key)
        if module is not None:
            importlib.import_module(f"{self.builtin_module}.{module}")
            return
        for ep in entry_points(group=self.entry_point_group, name=key):
            self._register_entry_point(ep)

    def _load(self) -> None:
        """Import every built-in plugin module and every entry point (for listing the keys)."""
        if self._loaded:
            return
        self._loaded = True
        for module in sorted(set((self._builtin_modules() or {}).values())):
            importlib.import_module(f"{self.builtin_module}.{module}")
        for ep in entry_points(group=self.entry_point_group):
            self._register_entry_point(ep)

    def _register_entry_point(self, ep: Any) -> None:
        loaded = ep.load()
        # An entry point may name the class itself, or a module whose import registers its classes.
        if inspect.isclass(loaded) and ep.name not in self._plugins:
            self.register(ep.name)(loaded)

    def keys(self) -> list[str]:
        self._load()
        return sorted(self._plugins)

    def __contains__(self, key: str) -> bool:
        try:
            self.get(key)
        except UnknownPluginError:
            return False
        return True

    def get(self, key: str) -> type:
        if key not in self._plugins:
            self._load_key(key)
        if key not in self._plugins:
            self._load()  # a module that registers several keys under other names, or a third-party one
        try:
            return self._plugins[key]
        except KeyError:
            known = ", ".join(self.keys()) or "(none)"
            raise UnknownPluginError(
                f"unknown {self.singular} '{key}'; known {self.kind}: {known}. "
                f"Pick one of those, or register yours (see docs/plugins.md, 'Writing a plugin')"
            ) from None

    def problems(self, config: Mapping[str, Any], where: str | None = None) -> list[str]:
        """What is wrong with a plugin config (``{"name": key, **settings}``), one sentence each."""
        where = where or self.singular
        params = dict(config)
        key = params.pop("name", None)
        if key is None:
            return [f"the {where} config has no 'name' key; add {where}.name=<one of {', '.join(self.keys())}>"]
        cls = self.get(key)
        accepted = parameter_names(cls)
        unknown = [name for name in params if accepted is not None and name not in accepted]
        if unknown:
            return [
                f"{self.singular} '{key}' has no parameter {', '.join(map(repr, unknown))}; "
                f"it takes: {', '.join(sorted(accepted)) or '(nothing)'}"
            ]
        return Block(cls.parameters, open=True).problems(params, where) if cls.parameters is not None else []

    def build(self, config: Mapping[str, Any], where: str | None = None, check: bool = True, **context: Any) -> Any:
        """Instantiate the plugin named by ``config['name']`` with the other keys, after checking them.

        ``check``: False where the caller checked them already (the builder, after ``check_config``).
        ``context`` holds values the run supplies (such as ``random_state``);
        each is passed only if the plugin's constructor accepts it, and a value
        in ``config`` wins.
        """
        problems = self.problems(config, where) if check else []
        if problems:
            raise UserError("; ".join(problems))
        params = dict(config)
        cls = self.get(params.pop("name"))
        accepted = parameter_names(cls)
        for name, value in context.items():
            if accepted is None or name in accepted:
                params.setdefault(name, value)
        return cls(**params)


def parameter_names(cls: type[Plugin]) -> list[str] | None:
    """A plugin class's parameter names (declared, else its constructor's); None: any keyword."""
    return cls.parameter_names()


datasets = Registry("datasets", "dataset", "textcluster.data.loaders", DatasetLoader)
encoders = Registry("encoders", "encoder", "textcluster.encoders", Encoder)
reducers = Registry("reducers", "reducer", "textcluster.reducers", Reducer)
clusterers = Registry("clusterers", "clusterer", "textcluster.clusterers", Clusterer)
refiners = Registry("refiners", "refiner", "textcluster.refiners", Refiner)
noise_policies = Registry("noise_policies", "noise policy", "textcluster.noise", NoisePolicy)
evaluators = Registry("evaluators", "evaluator", "textcluster.evaluation", Evaluator)

ALL = {r.kind: r for r in (datasets, encoders, reducers, clusterers, refiners, noise_policies, evaluators)}
