"""One registry per plugin kind, filled by decorators and by entry points.

Built-in plugins register themselves with ``@clusterers.register("kmeans")``.
Third-party packages declare entry points in the group ``textcluster.<kind>``
(for example ``textcluster.clusterers``); they are loaded the first time a
registry is asked for a key it does not hold yet.
"""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping

from textcluster.errors import UnknownPluginError, UserError

ENTRY_POINT_PREFIX = "textcluster."


class Registry:
    """Maps a short key (as written in configs) to a plugin class."""

    def __init__(self, kind: str, builtin_module: str):
        self.kind = kind  # plural, e.g. "clusterers"; also the entry-point group suffix
        self.builtin_module = builtin_module  # imported on first use; its decorators fill the registry
        self._plugins: dict[str, type] = {}
        self._entry_points_loaded = False

    @property
    def entry_point_group(self) -> str:
        return ENTRY_POINT_PREFIX + self.kind

    def register(self, key: str) -> Callable[[type], type]:
        """Class decorator: ``@registry.register("key")``."""

        def decorate(cls: type) -> type:
            existing = self._plugins.get(key)
            if existing is not None and existing is not cls:
                raise ValueError(f"{self.kind} key {key!r} is already taken by {existing.__qualname__}")
            self._plugins[key] = cls
            cls.registry_key = key
            return cls

        return decorate

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        importlib.import_module(self.builtin_module)
        for ep in entry_points(group=self.entry_point_group):
            loaded = ep.load()
            # An entry point may name the class itself, or a module whose
            # import registers its classes through the decorator.
            if inspect.isclass(loaded) and ep.name not in self._plugins:
                self.register(ep.name)(loaded)

    def keys(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._plugins)

    def __contains__(self, key: str) -> bool:
        return key in self.keys()

    def get(self, key: str) -> type:
        self._load_entry_points()
        try:
            return self._plugins[key]
        except KeyError:
            known = ", ".join(self.keys()) or "(none)"
            singular = self.kind.rstrip("s")
            raise UnknownPluginError(
                f"unknown {singular} '{key}'; known {self.kind}: {known}. "
                f"Pick one of those, or register yours (see 'Writing a plugin' in the README)"
            ) from None

    def build(self, config: Mapping[str, Any], **context: Any) -> Any:
        """Instantiate the plugin named by ``config['name']`` with the other keys.

        ``context`` holds values the pipeline supplies (such as ``random_state``);
        each is passed only if the plugin's constructor accepts it.
        """
        params = dict(config)
        key = params.pop("name", None)
        if key is None:
            raise UserError(f"the {self.kind.rstrip('s')} config has no 'name' key; add name=<one of {', '.join(self.keys())}>")
        cls = self.get(key)
        accepted = _accepted_parameters(cls)
        unknown = [p for p in params if accepted is not None and p not in accepted]
        if unknown:
            raise UserError(
                f"{self.kind.rstrip('s')} '{key}' has no parameter {', '.join(map(repr, unknown))}; "
                f"it takes: {', '.join(sorted(accepted)) or '(nothing)'}"
            )
        for name, value in context.items():
            if accepted is None or name in accepted:
                params.setdefault(name, value)
        return cls(**params)


def _accepted_parameters(cls: type) -> set[str] | None:
    """Constructor parameter names, or None when any name is accepted.

    A constructor that passes ``**kwargs`` on to its base class accepts the
    base's parameters too, so the walk goes up the MRO until a constructor
    without ``**kwargs``; reaching ``object`` that way means anything goes.
    """
    if cls.__init__ is object.__init__:
        return set()
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            return None
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        takes_kwargs = False
        for name, parameter in inspect.signature(init).parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                takes_kwargs = True
            elif name != "self" and parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
                names.add(name)
        if not takes_kwargs:
            return names
    return None


datasets = Registry("datasets", "textcluster.data.loaders")
encoders = Registry("encoders", "textcluster.encoders")
reducers = Registry("reducers", "textcluster.reducers")
clusterers = Registry("clusterers", "textcluster.clusterers")
evaluators = Registry("evaluators", "textcluster.evaluation")
refiners = Registry("refiners", "textcluster.refiners")

ALL = {r.kind: r for r in (datasets, encoders, reducers, clusterers, evaluators, refiners)}
