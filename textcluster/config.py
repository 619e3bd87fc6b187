"""Where configs live, how plugins add theirs, and Hydra's compose API for the Python API, tests and notebooks."""

from __future__ import annotations

import copy
import difflib
import functools
import importlib.util
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
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


SEARCH_PATH_KEY = "hydra.searchpath"


def with_search_path(overrides: Sequence[str]) -> list[str]:
    """``overrides`` with the plugin config folders (entry points, ``plugins_dir``) on Hydra's search path.

    Hydra keeps only the last ``hydra.searchpath=[...]``, so a user's own is not left beside ours (one of the
    two would be dropped): its folders come first in the one override that replaces it. The override replaces
    conf/config.yaml's search path too, so it names the plugins' defaults (:mod:`textcluster.defaults`), which
    every thinned plugin YAML pulls in.
    """
    from textcluster.defaults import register_source

    folders = entry_point_config_dirs()
    local = load_local_plugins(plugins_dir_from_overrides(overrides))
    if local is not None:
        folders.append(local)
    given = [override for override in overrides if override.lstrip("+~").split("=", 1)[0] == SEARCH_PATH_KEY]
    if not folders and not given:
        return list(overrides)
    paths = _search_path_value(given[-1]) if given else []
    wanted = [register_source(), *(f"file://{folder}" for folder in folders)]
    paths += [path for path in wanted if path not in paths]
    kept = [override for override in overrides if override not in given]
    return kept + [f"{SEARCH_PATH_KEY}=[" + ",".join(_quoted(path) for path in paths) + "]"]


def _search_path_value(override: str) -> list[str]:
    """The folders of a user's ``hydra.searchpath=[...]`` (a malformed one is Hydra's to report)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        value = OverridesParser.create().parse_override(override).value()
    except HydraException as error:
        raise UserError(hydra_error_message(error)) from None
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _quoted(path: str) -> str:
    return path if re.fullmatch(r"[\w/.:\-]+", path) else "'" + path.replace("'", "\\'") + "'"


def register_auto_options() -> None:
    """``encoder=auto`` and ``reducer=auto`` (the defaults): a node that takes any setting, so
    ``encoder.lexical_weight=0.5`` reaches whichever encoder the recipe picks when the pipeline fits
    (:mod:`textcluster.recipe`: text -> hybrid and umap_text, images -> dense and umap_n2d, vectors ->
    precomputed). Hydra closes every node read from YAML (struct mode); this one is left open, which
    only a node given to Hydra's ConfigStore can be."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from textcluster.recipe import AUTO

    for group in ("encoder", "reducer"):
        node = OmegaConf.create({"name": AUTO})
        OmegaConf.set_struct(node, False)
        ConfigStore.instance().store(group=group, name=AUTO, node=node)


def compose(overrides: Iterable[str] = (), config_name: str = "config"):
    """Compose the textcluster config with Hydra's compose API (no run folder, no logging setup). ``auto``
    stages stay as they are: the pipeline takes the recipe for the documents it fits (:mod:`textcluster.recipe`)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    overrides = with_search_path(list(overrides))
    register_auto_options()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, ValueError) as error:  # ValueError: Hydra's word for an override without a key ('=3')
        raise UserError(hydra_error_message(error)) from None


def option_config(group: str, option: str, plugins_dir: str | None = None) -> dict[str, Any]:
    """The settings of one option of a group (``conf/reducer/umap_text.yaml``, with its defaults) as plain dicts:
    what a recipe's option starts from. Inside the command's Hydra app, from the app's own search path.
    Read once per process (the builder's check and the fit ask alike; a sweep's jobs share the process)."""
    return copy.deepcopy(_option_config(group, option, plugins_dir))


@functools.lru_cache(maxsize=64)
def _option_config(group: str, option: str, plugins_dir: str | None) -> dict[str, Any]:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    from textcluster.defaults import register_source

    name = f"{group}/{option}"
    # An option composed on its own does not read config.yaml's search path, which names the plugins' defaults
    # that the option's YAML pulls in: the override names them (and the plugin folders) itself.
    overrides = with_search_path([f"{PLUGINS_DIR_KEY}={plugins_dir}"] if plugins_dir else [])
    overrides = [override for override in overrides if override.startswith(SEARCH_PATH_KEY)]
    overrides = overrides or [f"{SEARCH_PATH_KEY}=[{register_source()}]"]
    # inside the command's Hydra app its own config folder is set; elsewhere this module's
    hydra_app = nullcontext() if GlobalHydra.instance().is_initialized() else None
    try:
        with hydra_app or initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return to_plain(hydra_compose(config_name=name, overrides=overrides))[group]
    except (HydraException, ValueError) as error:
        raise UserError(hydra_error_message(error)) from None


def check_overrides(overrides: Iterable[str]) -> None:
    """``overrides`` parsed as Hydra will parse them: a malformed override or one without a key is a UserError
    of one line here, before Hydra starts (Hydra's own words for them are several lines, or a ValueError)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise UserError(hydra_error_message(error)) from None
    for override in parsed:
        if not override.key_or_group:  # Hydra would fail later with a ValueError about a group ("Got int")
            raise UserError(f"the override '{override.input_line}' has no key; write key=value, without spaces")


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


def to_plain(config: Any) -> dict[str, Any]:
    """A composed config (OmegaConf ``DictConfig``) as plain, resolved Python dicts and lists."""
    from omegaconf import DictConfig, OmegaConf

    return OmegaConf.to_container(config, resolve=True) if isinstance(config, DictConfig) else dict(config)
