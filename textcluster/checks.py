"""Checking a composed config before anything loads: every value against what its plugin declares.

:func:`check_config` reads the whole config against what each plugin declares
(:mod:`textcluster.params`) and against the other stages (an encoder that
cannot read the data's modality, a refiner on an encoder without a network)
and raises one UserError listing every problem. It imports only the modules of
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
from textcluster.config import AUTO, RECIPES, load_local_plugins
from textcluster.data import LIMIT, LIMIT_KEY
from textcluster.dataset import IMAGE
from textcluster.errors import UnknownPluginError, UserError
from textcluster.params import NULL, Block, Bool, Choice, Int, ListOf, Str
from textcluster.topics.guided import guidance_problems
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


def check_config(config: Mapping[str, Any], reads_data: bool = True) -> None:
    """Raise one UserError naming every problem of a composed config (plugins_dir is loaded first).

    ``reads_data``: the run reads the config's ``data`` (the command line), so the encoder must handle
    its modality; the Python API fits on documents it is handed, and checks them when they come.
    """
    load_local_plugins(config.get("plugins_dir"))
    problems = _value_problems(config)
    if not problems:
        problems = _stage_problems(config, reads_data)
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
        return problems + [
            f"{group}=auto is resolved from the data's modality when the command line or Pipeline.from_config "
            f"composes the config (not in a sweep); name the {group}, e.g. {group}={RECIPES['text'][group]}"
        ]
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


def _stage_problems(config: Mapping[str, Any], reads_data: bool) -> list[str]:
    """Stages that cannot work together, found from their classes alone."""
    loader = registry.datasets.get(config["data"]["name"]) if reads_data else None
    modality = loader.modality if loader is not None else None
    encoder = registry.encoders.get(config["encoder"]["name"])
    problems = []
    if modality is not None and modality not in encoder.modalities:
        hint = "; use encoder=dense or encoder=raw for images" if modality == IMAGE else ""
        problems.append(
            f"encoder={encoder.key()} handles {' and '.join(encoder.modalities)} data, but "
            f"data={loader.key()} gives {modality} data{hint}"
        )
    refiner = registry.refiners.get(refiner_name(config)) if refiner_name(config) is not None else None
    if refiner is not None and modality is not None and modality not in refiner.modalities:
        problems.append(
            f"refiner={refiner.key()} handles {' and '.join(refiner.modalities)} data, but "
            f"data={loader.key()} gives {modality} data; use another refiner or refiner=none"
        )
    if refiner is not None and refiner.trains_encoder_with(config["refiner"]) and not encoder.refinable:
        problems.append(
            f"refiner={refiner_name(config)} needs an encoder with a trainable network, and "
            f"encoder={encoder.key()} has none; use refiner=none, or encoder=dense, cnn, rnn, "
            "transformer or pretrained"
        )
    topics = config.get("topics") or {}
    if modality == IMAGE and topics.get("enabled", True) and topics.get("n_topics") is not None:
        problems.append(
            f"topics.n_topics={topics['n_topics']} needs text data; data={loader.key()} gives images. "
            "Set topics.n_topics=null"
        )
    problems += guidance_problems(topics, modality, refiner_name(config))  # seed lists, zero-shot names
    return problems


def refiner_name(config: Mapping[str, Any]) -> str | None:
    name = (config.get("refiner") or {}).get("name", NONE)
    return None if name == NONE else name
