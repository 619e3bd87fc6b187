"""From a composed config to plugin objects: check every value first (:mod:`textcluster.checks`), then
build through the registries. Configs here are plain dicts (:func:`textcluster.config.to_plain`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textcluster import registry
from textcluster.cache import AUTO_SHARDS, EmbeddingCache
from textcluster.checks import STAGE_REGISTRIES, check_config, refiner_name
from textcluster.clusterers.k_selection import KSearch
from textcluster.contracts import TrainingContext
from textcluster.data import load_dataset
from textcluster.dataset import Dataset
from textcluster.errors import UserError
from textcluster.pipeline import Pipeline
from textcluster.topics import TopicModeler
from textcluster.topics.guided import Guidance
from textcluster.topics.settings import GUIDANCE_SETTINGS

__all__ = ["build_pipeline", "check_config", "load_data"]  # check_config: re-exported for the API's callers


def load_data(config: Mapping[str, Any]) -> Dataset:
    return load_dataset(config["data"], seed=int(config.get("seed", 0)))


def build_stage(group: str, settings: Mapping[str, Any], seed: int = 0) -> Any:
    """One stage plugin from its config group (``{"name": key, ...}``); random_state goes where it is taken."""
    context = {} if group == "encoder" else {"random_state": seed}
    return STAGE_REGISTRIES[group].build(settings, where=group, **context)


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
    """Check the config (see :func:`check_config`), then instantiate every stage it names (no data is read)."""
    check_config(config, reads_data)
    seed = int(config.get("seed", 0))
    refiner = config["refiner"] if refiner_name(config) is not None else None
    return pipeline_class(
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
    )
