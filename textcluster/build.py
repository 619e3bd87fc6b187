"""From a composed config to plugin objects: check every value first (:mod:`textcluster.checks`), then
build through the registries. Configs here are plain dicts (:func:`textcluster.config.to_plain`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textcluster import registry
from textcluster.cache import AUTO_SHARDS, EmbeddingCache
from textcluster.checks import STAGE_REGISTRIES, check_config, refiner_name
from textcluster.clusterers.k_selection import KSearch
from textcluster.config import option_config
from textcluster.contracts import TrainingContext
from textcluster.data import load_dataset
from textcluster.dataset import Dataset
from textcluster.errors import UserError
from textcluster.params import settings_block
from textcluster.pipeline import Pipeline
from textcluster.recipe import Auto, as_auto
from textcluster.topics.guided import Guidance
from textcluster.topics.model import TopicModeler
from textcluster.topics.settings import GUIDANCE_SETTINGS

__all__ = ["build_pipeline", "check_config", "load_data"]  # check_config: re-exported for the API's callers


def load_data(config: Mapping[str, Any]) -> Dataset:
    return load_dataset(config["data"], seed=int(config.get("seed", 0)))


def build_stage(group: str, settings: Mapping[str, Any], seed: int = 0, checked: bool = True) -> Any:
    """One stage plugin from its config group (``{"name": key, ...}``); random_state goes where it is taken.
    ``checked``: :func:`check_config` has checked the settings already. ``auto`` stays for the recipe to settle
    (:class:`~textcluster.recipe.Auto`, holding the user's settings for the stage it picks)."""
    if as_auto(settings.get("name")) is not None:
        return Auto({key: value for key, value in settings.items() if key != "name"})
    context = {} if group == "encoder" else {"random_state": seed}
    return STAGE_REGISTRIES[group].build(settings, where=group, check=not checked, **context)


@dataclass(frozen=True)
class RecipeOptions:
    """How the pipeline builds a recipe's option (``reducer=umap_text``): that option's config (its YAML),
    the user's settings laid over it, checked like any config."""

    plugins_dir: str | None = None
    seed: int = 0

    def __call__(self, group: str, option: str, settings: Mapping[str, Any]) -> Any:
        config = settings_block(option_config(group, option, self.plugins_dir), settings)
        return build_stage(group, config, self.seed, checked=False)


def build_topics(topics: Mapping[str, Any] | None) -> TopicModeler | None:
    settings = {key: value for key, value in (topics or {}).items() if key not in GUIDANCE_SETTINGS}
    if not topics or not settings.pop("enabled", True):
        return None
    return TopicModeler(**settings)


def build_guidance(topics: Mapping[str, Any] | None) -> Guidance | None:
    """The seed lists and zero-shot names of the topics group (they steer the clustering, topics on or off)."""
    settings = {key: value for key, value in (topics or {}).items() if key in GUIDANCE_SETTINGS}
    guidance = Guidance(**settings)
    return guidance if guidance.active else None


def build_evaluators(evaluation: Mapping[str, Any], seed: int) -> dict[str, Any]:
    params = evaluation.get("params") or {}
    return {
        key: registry.evaluators.build({"name": key, **(params.get(key) or {})}, random_state=seed)
        for key in evaluation.get("metrics", [])
    }


def build_cache(config: Mapping[str, Any]) -> EmbeddingCache | None:
    """The embedding cache named by ``cache_dir`` when ``cache`` is true, else None."""
    if not config.get("cache", False):
        return None
    if not config.get("cache_dir"):
        raise UserError("cache=true needs cache_dir=<folder>; or turn the embedding cache off with cache=false")
    return EmbeddingCache(
        Path(str(config["cache_dir"])).expanduser(),
        shard_size=config.get("cache_shard_size") or AUTO_SHARDS,
        dtype=str(config.get("cache_dtype") or "float32"),
    )


def build_pipeline(
    config: Mapping[str, Any],
    log_dir: Path | None = None,
    pipeline_class: type[Pipeline] = Pipeline,
    reads_data: bool = True,
) -> Pipeline:
    """Check the config (see :func:`check_config`), instantiate every stage it names and check that they work
    together (:meth:`Pipeline.check`) on the data's modality where ``reads_data`` (no data is read)."""
    check_config(config)
    seed = int(config.get("seed", 0))
    refiner = config["refiner"] if refiner_name(config) is not None else None
    pipeline = pipeline_class(
        encoder=build_stage("encoder", config["encoder"], seed),
        clusterer=build_stage("clusterer", config["clusterer"], seed),
        reducer=build_stage("reducer", config["reducer"], seed),
        refiner=None if refiner is None else build_stage("refiner", refiner, seed),
        noise=registry.noise_policies.build({"name": config.get("noise", "keep")}, where="noise"),
        topics=build_topics(config.get("topics")),
        evaluators=build_evaluators(config.get("evaluation") or {}, seed),
        training=TrainingContext(trainer=dict(config.get("trainer") or {}), seed=seed, log_dir=log_dir),
        cache=build_cache(config),
        seed=seed,
        k_search=KSearch(**(config.get("k_search") or {})),
        guidance=build_guidance(config.get("topics")),
        recipe_stages=RecipeOptions(config.get("plugins_dir"), seed),
    )
    loader = registry.datasets.get(config["data"]["name"]) if reads_data else None
    source = f"data={loader.key()}" if loader is not None else "the data"
    pipeline.check(None if loader is None else loader.modality, source)  # the data's class says its modality
    return pipeline
