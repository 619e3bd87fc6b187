"""Checking a composed config before anything loads: every value against what its plugin declares.

:func:`check_config` reads the whole config against what each plugin declares
(:mod:`textcluster.params`) and raises one UserError listing every problem;
whether the stages work together (an encoder that cannot read the data's
modality, a refiner on an encoder without a network) is the pipeline's own
check (:meth:`textcluster.pipeline.Pipeline.check`), which the builder calls on
the stage objects before the data loads. It imports only the modules of
the plugins the config names, and none of torch, scikit-learn or UMAP (the
registries load a plugin's module on first use and the plugin modules import
their libraries when they fit), so the command line reports a typo in about a
second. Configs here are plain dicts (:func:`textcluster.config.to_plain`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textcluster import registry
from textcluster.cache import AUTO_SHARDS
from textcluster.cache import DTYPES as CACHE_DTYPES
from textcluster.clusterers.k_selection import K_SEARCH_SETTINGS
from textcluster.config import load_local_plugins
from textcluster.data import LIMIT, LIMIT_KEY
from textcluster.errors import UnknownPluginError, UserError
from textcluster.params import NULL, Block, Bool, Choice, Int, ListOf, Str
from textcluster.recipe import AUTO
from textcluster.topics.settings import GUIDANCE_SETTINGS, TOPIC_SETTINGS

NONE = "none"  # refiner=none: no refiner stage
STAGE_REGISTRIES = {
    "data": registry.datasets,
    "encoder": registry.encoders,
    "reducer": registry.reducers,
    "clusterer": registry.clusterers,
    "refiner": registry.refiners,
}
TRAINER_SETTINGS = Block(
    {
        "max_epochs": Int(min=-1),
        "accelerator": Str(),
        "devices": Int(min=1) | Str() | ListOf(Int(min=0)),
        "precision": Int() | Str(),
        "enable_progress_bar": Bool(),
        "log_every_n_steps": Int(min=1),
        "deterministic": Bool() | Choice("warn"),
    },
    open=True,
)
TOP_LEVEL = {
    "seed": Int(min=0),
    "recipe": Str() | NULL,
    "objective": Str(),
    "k_search": K_SEARCH_SETTINGS,
    "noise": Str(),
    "report": Bool(),
    "report_map": Choice("auto", "umap", "pca"),
    "plugins_dir": Str() | NULL,
    "cache": Bool(),
    "cache_dir": Str() | NULL,
    "cache_shard_size": Int(min=1) | Choice(AUTO_SHARDS),
    "cache_dtype": Choice(*CACHE_DTYPES),
    "trainer": TRAINER_SETTINGS,
    "evaluation": Block({"metrics": ListOf(Str()), "params": Block({}, open=True)}),
    "topics": Block({"enabled": Bool(), **TOPIC_SETTINGS, **GUIDANCE_SETTINGS}),
}


def check_config(config: Mapping[str, Any]) -> None:
    """Raise one UserError naming every problem of a composed config's values (plugins_dir is loaded first)."""
    load_local_plugins(config.get("plugins_dir"))
    problems = _value_problems(config)
    if problems:
        raise UserError("; ".join(problems))


def _value_problems(config: Mapping[str, Any]) -> list[str]:
    problems = []
    for key, value in config.items():
        if key in STAGE_REGISTRIES:
            problems += _group_problems(key, value)
        elif key in TOP_LEVEL:
            problems += TOP_LEVEL[key].problems(value, key)
        else:
            problems.append(f"'{key}' is not a textcluster setting; see `textcluster --cfg job` for the keys")
    missing = [group for group in STAGE_REGISTRIES if group != "refiner" and group not in config]
    problems += [f"the config has no {group} group; add {group}=<option>" for group in missing]
    if isinstance(config.get("noise", "keep"), str):
        problems += _known_key(registry.noise_policies, config.get("noise", "keep"), "noise")
    if not problems:  # the shapes are right: the plugins named inside the blocks can be looked at
        problems += _evaluation_problems(config.get("evaluation") or {})
        problems += _trainer_problems(config.get("trainer") or {})
        problems += _objective_problems(config.get("objective", "auto"), config.get("evaluation") or {})
    return problems


METRICS_OF = {"cluster_counts": ("n_clusters", "noise_fraction")}  # evaluators whose metrics are not their key


def _objective_problems(objective: str, evaluation: Mapping[str, Any]) -> list[str]:
    """A named objective is a metric the run computes (``auto`` takes what there is; see textcluster.experiment)."""
    computed = [name for key in evaluation.get("metrics", []) for name in METRICS_OF.get(key, (key,))]
    if objective == "auto" or objective in computed:
        return []
    return [
        f"objective={objective} is not a metric evaluation.metrics computes; "
        f"add it to evaluation.metrics or set objective to one of: auto, {', '.join(computed)}"
    ]


def _evaluation_problems(evaluation: Mapping[str, Any]) -> list[str]:
    """Every metric key known, and each ``params.<key>`` block what that evaluator takes."""
    problems = []
    for key in evaluation.get("metrics", []):
        problems += _known_key(registry.evaluators, key, "evaluation.metrics")
    for key, params in (evaluation.get("params") or {}).items():
        where = f"evaluation.params.{key}"
        unknown = _known_key(registry.evaluators, key, where)
        problems += unknown or registry.evaluators.problems({"name": key, **(params or {})}, where)
    return problems


def _group_problems(group: str, settings: Any) -> list[str]:
    if not isinstance(settings, Mapping):
        return [f"{group}={settings!r} is not a group of settings"]
    settings = dict(settings)
    problems = []
    if group == "data":
        problems += LIMIT.problems(settings.pop(LIMIT_KEY, None), f"data.{LIMIT_KEY}")
    if group == "refiner" and settings.get("name") == NONE:
        return problems
    if group in ("encoder", "reducer") and settings.get("name") == AUTO:
        return problems  # its settings are checked against the plugin the recipe picks, when the pipeline picks it
    try:
        return problems + STAGE_REGISTRIES[group].problems(settings, group)
    except UnknownPluginError as error:
        return problems + [str(error)]


def _known_key(reg: registry.Registry, key: Any, where: str) -> list[str]:
    try:
        reg.get(key)
    except UnknownPluginError as error:
        return [f"{where}: {error}"]
    return []


def _trainer_problems(trainer: Mapping[str, Any]) -> list[str]:
    """Keys that are not arguments of Lightning's Trainer (imported only when a key is not one it declares)."""
    unknown = [key for key in trainer if key not in TRAINER_SETTINGS.fields]
    if not unknown:
        return []
    import inspect

    import pytorch_lightning as pl

    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    return [f"trainer.{key} is not a pytorch_lightning.Trainer argument" for key in unknown if key not in accepted]


def refiner_name(config: Mapping[str, Any]) -> str | None:
    name = (config.get("refiner") or {}).get("name", NONE)
    return None if name == NONE else name
