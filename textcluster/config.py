"""Where configs live, how plugins add theirs, and Hydra's compose API for the Python API, tests and notebooks."""

from __future__ import annotations

import difflib
import importlib.util
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from textcluster.errors import UserError

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_ENTRY_POINT_GROUP = "textcluster.configs"
PLUGINS_DIR_KEY = "plugins_dir"


def config_dir() -> Path:
    """The built-in configs: inside the installed package, or conf/ beside it in a source checkout. Their
    plugin YAMLs pull the plugins' defaults from :mod:`textcluster.defaults`, whose Hydra config source is
    registered here, before any compose (the command line's ``@hydra.main`` asks for this folder first)."""
    from textcluster.defaults import register_source

    register_source()
    for candidate in (PACKAGE_DIR / "conf", PACKAGE_DIR.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise RuntimeError(
        f"textcluster's configs are missing (looked in {PACKAGE_DIR}/conf and {PACKAGE_DIR.parent}/conf)"
    )


def entry_point_config_dirs() -> list[Path]:
    """Config folders that installed plugin packages declare in the ``textcluster.configs`` group.

    The entry point names an importable package whose folder holds config
    groups (``clusterer/<key>.yaml`` and so on).
    """
    folders = []
    for ep in entry_points(group=CONFIG_ENTRY_POINT_GROUP):
        try:
            spec = importlib.util.find_spec(ep.value)
        except ImportError:  # a dotted name whose parent package is gone (stale or broken install)
            spec = None
        if spec is None or not spec.submodule_search_locations:
            log.warning("entry point %s=%s does not name a package folder; ignored", ep.name, ep.value)
            continue
        folders.extend(Path(p) for p in spec.submodule_search_locations)
    return folders


def load_local_plugins(plugins_dir: str | Path | None) -> Path | None:
    """Import every ``*.py`` in a local plugin folder so its ``@register`` decorators run."""
    if plugins_dir is None:
        return None
    folder = Path(plugins_dir).expanduser().resolve()
    if not folder.is_dir():
        raise UserError(
            f"plugins_dir '{folder}' is not a folder; point plugins_dir at the folder holding your plugin modules"
        )
    for module_file in sorted(folder.glob("*.py")):
        module_name = f"textcluster_local_plugins.{module_file.stem}"
        if module_name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(module_name, module_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        log.info("loaded local plugin module %s", module_file)
    return folder


def plugins_dir_from_overrides(overrides: Iterable[str]) -> str | None:
    """The ``plugins_dir=...`` value among command-line overrides (needed before Hydra composes)."""
    for override in overrides:
        key, _, value = override.lstrip("+").partition("=")
        if key == PLUGINS_DIR_KEY and value not in ("", "null"):
            return value
    return None


def search_path_override(plugins_dir: str | Path | None = None) -> str | None:
    """A ``hydra.searchpath=[...]`` override adding plugin config folders, or None if there are none. It
    replaces conf/config.yaml's search path, so it names the plugins' defaults (:mod:`textcluster.defaults`)
    too."""
    from textcluster.defaults import register_source

    folders = entry_point_config_dirs()
    local = load_local_plugins(plugins_dir)
    if local is not None:
        folders.append(local)
    if not folders:
        return None
    return "hydra.searchpath=[" + ",".join([register_source(), *(f"file://{folder}" for folder in folders)]) + "]"


def compose(overrides: Iterable[str] = (), config_name: str = "config", modality: str | None = None):
    """Compose the textcluster config with Hydra's compose API (no run folder, no logging setup), with
    ``encoder=auto`` / ``reducer=auto`` resolved as the command line resolves them (:func:`recipe_overrides`);
    ``modality``: the recipe for data of this kind instead of the config's data (documents given in Python)."""
    overrides = list(overrides)
    if config_name != "config":
        return compose_unresolved(overrides, config_name)
    choices = choice_overrides(overrides)
    chosen = compose_unresolved(choices)
    extra = recipe_overrides(chosen, modality=modality)
    if not extra and choices == overrides:  # nothing to resolve and nothing more to set: one compose is enough
        return chosen
    return compose_unresolved(overrides + extra)


def choice_overrides(overrides: Iterable[str]) -> list[str]:
    """The overrides that choose options (``data=csv``, ``experiment=...``, ``plugins_dir=...``), without the
    settings inside groups (``encoder.lr=...`` would not exist in ``encoder=auto``) and without sweeps."""
    chosen = []
    for override in overrides:
        key, _, value = override.partition("=")
        if "." not in key and not key.startswith(("-", "hydra")) and "," not in value:
            chosen.append(override)
    return chosen


def compose_unresolved(overrides: Iterable[str] = (), config_name: str = "config"):
    """Hydra's compose of the textcluster config, ``auto`` choices left as they are."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    overrides = list(overrides)
    extra = search_path_override(plugins_dir_from_overrides(overrides))
    if extra:
        overrides.append(extra)
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, ValueError) as error:  # ValueError: Hydra's word for an override without a key ('=3')
        raise UserError(hydra_error_message(error)) from None


def settled_overrides(overrides: Iterable[str]) -> list[str]:
    """``overrides`` without the sweeps (``a=1,2``, ``range(...)``, ``choice(...)``): what every job of a sweep
    shares, so what one compose can check before Hydra starts. A malformed override is a UserError."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise UserError(hydra_error_message(error)) from None
    for override in parsed:
        if not override.key_or_group:  # Hydra would fail later with a ValueError about a group ("Got int")
            raise UserError(f"the override '{override.input_line}' has no key; write key=value, without spaces")
    return [override.input_line for override in parsed if not override.is_sweep_override()]


def hydra_error_message(error: Exception) -> str:
    """Hydra's error about a command line or a list of overrides as one line that names the problem and the fix,
    with the closest valid name (the CLI and ``Pipeline.from_config`` both say it this way)."""
    from hydra.errors import MissingConfigException, OverrideParseException

    if isinstance(error, OverrideParseException):
        detail = "; ".join(
            line.strip()
            for line in error.message.splitlines()
            if line.strip() and not line.startswith(("See https://", "Error parsing override"))
        )
        return (
            f"cannot read the override '{error.override}' ({detail}); write key=value, a list as key=[a,b], "
            "and quote a value holding spaces or brackets: key='a b'"
        )
    if isinstance(error, MissingConfigException) and error.options and error.missing_cfg_file:
        return _unknown_option(error)
    cause = error.__cause__
    overridden = re.match(r"Could not override '([^']+)'", str(error))
    if overridden and getattr(cause, "parent_node", None) is not None and getattr(cause, "full_key", None):
        return _unknown_key(overridden.group(1), cause.full_key, list(cause.parent_node.keys()))
    deleted = re.match(r"Could not delete from config. '([^']+)' does not exist", str(error))
    if deleted:
        key = deleted.group(1)
        return f"~{key} deletes nothing: the config has no {key} (`textcluster --cfg job` shows the config)"
    text = " ".join(str(error).split())
    return text.split(" Config search path")[0].split(" See https://")[0]


def _closest(name: str, names: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, [str(n) for n in names], n=1)
    return matches[0] if matches else None


def _unknown_option(error: Any) -> str:
    """``encoder=pretraind``: Hydra found no ``encoder/pretraind.yaml``."""
    group, _, option = error.missing_cfg_file.rpartition("/")
    options = ", ".join(error.options)
    where = re.match(r"In '([^']+)':", str(error))
    named_in = ""
    if where and where.group(1) not in ("config", "hydra/config"):
        # a default inside a preset (experiment/..., a plugin's YAML) is that file's mistake, not the command line's
        named_in = f" (named in {where.group(1)}.yaml)"
    problem = f"{group}={option} is not an option of {group}{named_in}"
    match = _closest(option, error.options)
    if match:
        return f"{problem}; did you mean {group}={match}? (options: {options})"
    return f"{problem}; choose one of: {options} (a plugin's option needs plugins_dir=<its folder>)"


def _unknown_key(override_key: str, full_key: str, known: list) -> str:
    """``data.text_colum=...`` or ``encodr=...``: the override names a key the composed config lacks.

    ``full_key`` is the first missing part (``encodr`` of ``encodr.lr``), ``known`` the keys beside it.
    """
    parts = full_key.split(".")
    parent = ".".join(parts[:-1])
    missing = full_key if full_key == override_key else f"{full_key} (in {override_key})"
    match = _closest(parts[-1], known)
    if parent:
        problem = f"{missing} is not a setting of {parent}"
        listing = f"{parent}'s settings: {', '.join(str(k) for k in known)}"
    else:
        problem = f"{missing} is not a config group or setting"
        listing = "`textcluster --help` lists the config groups, `textcluster --cfg job` the settings"
    if match:
        suggestion = ".".join([*parts[:-1], match, *override_key.split(".")[len(parts) :]])
        return f"{problem}; did you mean {suggestion}? ({listing})"
    return f"{problem} ({listing}); +{override_key}=<value> adds a setting the config does not list"


AUTO = "auto"
RECIPES = {
    "text": {"encoder": "hybrid", "reducer": "umap_text"},
    "image": {"encoder": "dense", "reducer": "umap_n2d"},
    "vectors": {"encoder": "precomputed", "reducer": "none"},
}
"""What ``encoder=auto`` and ``reducer=auto`` (the defaults) become, by the modality of the chosen data.

Text: MiniLM beside the corpus' own words, UMAP for clustering (the recipe of
the text presets; measured in benchmarks/results/own-corpus.md). Images: the
dense autoencoder on pixels, then UMAP (N2D's settings), where k-means and the
k search see the digits apart (without it the silhouette peaks at k = 2).
"""
RECIPE_KEY = "recipe"  # the top-level key that records what auto resolved to


def recipe_overrides(cfg: Any, swept_clusterers: Sequence[str] = (), modality: str | None = None) -> list[str]:
    """The overrides that replace ``encoder=auto`` / ``reducer=auto`` (a composed config's choices).

    ``encoder=auto`` takes the recipe for the data's modality (:data:`RECIPES`),
    and with it the recipe's reducer when that is auto too; a named encoder
    with ``reducer=auto`` gets no reducer (the recipe's reducer was chosen for
    the recipe's encoder), and a clusterer that builds its own neighbourhood graph
    (``builds_graph``: spectral, leiden) gets none either. ``[]`` when neither is
    auto. The data loader's class says its modality, so this runs before any data is read.
    ``swept_clusterers``: the clusterers (registry keys) a sweep runs; one recipe serves every job, so
    they must agree on the reducer. ``modality``: the data's kind when the documents come from Python, not
    from the config's data.
    """
    from textcluster import registry

    auto = {group for group in ("encoder", "reducer") if (cfg.get(group) or {}).get("name") == AUTO}
    if not auto:
        return []
    if "encoder" not in auto:
        return ["reducer=none"]
    if modality is None:
        loader = registry.datasets.get(cfg["data"]["name"])
        if loader.modality is None:
            raise UserError(
                f"encoder=auto picks a recipe by the data's modality, and data={loader.key()} can give text or "
                "images; name the encoder (and reducer), e.g. encoder=hybrid reducer=umap_text"
            )
        modality = loader.modality
    recipe = dict(RECIPES[modality])
    if "reducer" in auto and _graph_clusterers(cfg, swept_clusterers):
        recipe["reducer"] = "none"  # measured: benchmarks/results/families.md
    chosen = [f"{group}={recipe[group]}" for group in ("encoder", "reducer") if group in auto]
    return chosen + [f"{RECIPE_KEY}='{modality} data: {' '.join(chosen)}'"]


def _graph_clusterers(cfg: Any, swept: Sequence[str]) -> bool:
    """Whether the clusterer (every swept one) builds its own neighbourhood graph; a sweep that mixes
    the two kinds cannot share one recipe, and is refused with the fix."""
    names = list(swept) or [(cfg.get("clusterer") or {}).get("name")]
    kinds = {_builds_graph(name) for name in names}
    if len(kinds) > 1:
        raise UserError(
            f"the sweep's clusterers ({', '.join(names)}) mix clusterers that build their own neighbourhood "
            "graph (spectral, leiden: the recipe gives them the embeddings) and others (the recipe gives them "
            "UMAP's); name the reducer for every job, e.g. reducer=none or reducer=umap_text"
        )
    return kinds == {True}


def _builds_graph(name: str | None) -> bool:
    """False for a key not registered yet: a ``plugins_dir`` plugin loads later, and the config check names
    an unknown one."""
    from textcluster import registry
    from textcluster.errors import UnknownPluginError

    try:
        return registry.clusterers.get(name).builds_graph
    except UnknownPluginError:
        return False


def to_plain(config: Any) -> dict[str, Any]:
    """A composed config (OmegaConf ``DictConfig``) as plain, resolved Python dicts and lists."""
    from omegaconf import DictConfig, OmegaConf

    return OmegaConf.to_container(config, resolve=True) if isinstance(config, DictConfig) else dict(config)
