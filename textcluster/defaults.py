"""The plugins' defaults, served to Hydra from their constructors: the one place a default is kept.

A plugin's YAML names its plugin and pulls every other setting through its defaults list::

    # conf/encoder/dense.yaml
    defaults:
      - dense_defaults   # every setting of DenseEncoder, as its constructor gives it
      - _self_
    name: dense

``<group>/<key>_defaults`` is no file: :class:`PluginDefaultsSource`, a Hydra config source, builds it from
``Plugin().get_params()`` of the plugin registered as ``key`` when a compose asks for it, so only the plugins a
config names are imported (checking a config imports no torch). What a YAML sets below its defaults list is
a deliberate delta, with a comment that says why (tests/test_defaults.py holds the YAMLs to that). The
composed config (``textcluster --cfg job``, a run folder's ``.hydra/config.yaml``) still lists every setting.
A YAML without the defaults list (a plugin's own, written out in full) composes as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.core.object_type import ObjectType
from hydra.core.plugins import Plugins
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource

from textcluster import registry
from textcluster.contracts import Plugin, constructor_defaults, default_params
from textcluster.errors import UnknownPluginError

SCHEME = "textcluster-defaults"
SEARCH_PATH_ENTRY = f"{SCHEME}://"
SUFFIX = "_defaults"
GROUPS = {
    "data": registry.datasets,
    "encoder": registry.encoders,
    "reducer": registry.reducers,
    "clusterer": registry.clusterers,
    "refiner": registry.refiners,
    "evaluation": registry.evaluators,  # pulled into evaluation.params.<key> by conf/evaluation/default.yaml
}
"""Config group -> the registry of its plugins (``<group>/<key>_defaults`` is the defaults of ``key``)."""
CONTEXT_PARAMETERS = ("random_state",)
"""Parameters the run gives (the seed), never the config: a config value would win over the run's seed."""
DATA_SETTINGS = {"limit": None}
"""What every ``data`` group takes beside its loader's parameters (:func:`textcluster.data.load_dataset`)."""


def plain(value: Any) -> Any:
    """A default as a config holds it: tuples and other sequences as lists, mappings as dicts."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def plugin_defaults(cls: type[Plugin]) -> dict[str, Any]:
    """Every parameter of a plugin at its default, as plain values: what ``cls()`` holds (the constructor
    settles a default such as an evaluator's ``sample_size``), less :data:`CONTEXT_PARAMETERS`. A plugin
    whose constructor needs an argument gives the defaults its signature declares."""
    params = default_params(cls)
    return {name: plain(value) for name, value in params.items() if name not in CONTEXT_PARAMETERS}


def group_defaults(group: str, key: str) -> dict[str, Any]:
    """What ``<group>/<key>_defaults`` holds; an UnknownPluginError when no plugin is registered as ``key``."""
    defaults = plugin_defaults(GROUPS[group].get(key))
    if group == "evaluation":  # evaluation.params.<key>: the key names the evaluator
        return defaults
    defaults = {"name": key, **defaults}  # first, where `textcluster --cfg job` shows it
    return {**defaults, **DATA_SETTINGS} if group == "data" else defaults


def topics_defaults() -> dict[str, Any]:
    """``topics/topics_defaults``: the topic stage on, TopicModeler's settings and the guidance's (Guidance).
    TopicModeler's come from its signature, with the vectorizer block it starts from: building one checks its
    vectorizer with scikit-learn, which composing a config does not import."""
    from textcluster.topics.guided import Guidance
    from textcluster.topics.model import TopicModeler
    from textcluster.topics.settings import VECTORIZER_DEFAULTS

    modeler = {**constructor_defaults(TopicModeler), "vectorizer": VECTORIZER_DEFAULTS}
    return {"enabled": True, **plain(modeler), **plugin_defaults(Guidance)}


def k_search_defaults() -> dict[str, Any]:
    """``k_search_defaults`` (conf/config.yaml's ``k_search``): how ``n_clusters=auto`` searches k (KSearch)."""
    from textcluster.clusterers.k_selection import KSearch

    return plain(constructor_defaults(KSearch))


SETTINGS = {"topics/topics_defaults": topics_defaults, "k_search_defaults": k_search_defaults}
"""Served configs of settings that are no registered plugin's, by their path."""


class PluginDefaultsSource(ConfigSource):
    """Hydra's view of :func:`group_defaults`: the config ``<group>/<key>_defaults`` for every registered
    plugin. It lists nothing (listing would import every plugin, and these are no options to choose), so
    ``textcluster --help`` and Hydra's "did you mean" lists show the YAML options alone."""

    @staticmethod
    def scheme() -> str:
        return SCHEME

    @staticmethod
    def _split(config_path: str) -> tuple[str, str] | None:
        """``(group, key)`` of a plugin's defaults this source serves, else None."""
        group, _, name = _path(config_path).rpartition("/")
        if group not in GROUPS or not name.endswith(SUFFIX) or name == SUFFIX:
            return None
        return group, name.removesuffix(SUFFIX)

    def is_config(self, config_path: str) -> bool:
        if _path(config_path) in SETTINGS:
            return True
        found = self._split(config_path)
        return found is not None and found[1] in GROUPS[found[0]]

    def load_config(self, config_path: str) -> ConfigResult:
        from omegaconf import OmegaConf

        found = self._split(config_path)
        try:
            if _path(config_path) in SETTINGS:
                defaults = SETTINGS[_path(config_path)]()
            else:
                defaults = group_defaults(*found) if found else None
        except UnknownPluginError as error:
            raise ConfigLoadError(str(error)) from None
        if defaults is None:
            raise ConfigLoadError(f"{SCHEME} serves <group>/<key>{SUFFIX} only, not {config_path}")
        return ConfigResult(
            config=OmegaConf.create(defaults),
            path=f"{SCHEME}://{self.path}",
            provider=self.provider,
            header={"package": None},  # the containing config's package: encoder, refiner.start, ...
        )

    def is_group(self, config_path: str) -> bool:
        return False

    def available(self) -> bool:
        return True

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        return []


def _path(config_path: str) -> str:
    return config_path.strip("/").removesuffix(".yaml")


def register_source() -> str:
    """Make :class:`PluginDefaultsSource` known to Hydra (once per process); the search-path entry naming it."""
    Plugins.instance().register(PluginDefaultsSource)
    return SEARCH_PATH_ENTRY
