"""Build a pipeline from a composed config and run it into a run folder."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from textcluster import registry
from textcluster.cache import EmbeddingCache
from textcluster.config import load_local_plugins
from textcluster.data import load_dataset
from textcluster.encoders.base import TrainingContext
from textcluster.errors import UserError
from textcluster.pipeline import Pipeline, PipelineResult
from textcluster.reporting.run_folder import write_results, write_status, write_versions
from textcluster.topics import TopicModeler

log = logging.getLogger(__name__)


def _plain(node) -> dict:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)


def build_evaluators(evaluation: dict, seed: int) -> dict:
    params = evaluation.get("params") or {}
    return {key: registry.evaluators.build({"name": key, **(params.get(key) or {})}, random_state=seed)
            for key in evaluation.get("metrics", [])}


def build_cache(cfg: DictConfig) -> EmbeddingCache | None:
    """The embedding cache named by ``cache_dir`` when ``cache`` is true, else None."""
    if not cfg.get("cache", False):
        return None
    cache_dir = cfg.get("cache_dir")
    if not cache_dir:
        raise UserError("cache=true needs cache_dir=<folder>; or turn the embedding cache off with cache=false")
    return EmbeddingCache(Path(str(cache_dir)).expanduser())


def build_topic_model(topics) -> TopicModeler | None:
    """The topic stage from the ``topics`` config group; None when absent or ``topics.enabled=false``."""
    if topics is None:
        return None
    settings = _plain(topics)
    if not settings.pop("enabled", True):
        return None
    known = ("top_n_words", "n_representative", "label_words", "n_topics", "vectorizer")
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise UserError(f"topics has no key {', '.join(map(repr, unknown))}; its keys: enabled, {', '.join(known)}")
    return TopicModeler(**settings)


def build_pipeline(cfg: DictConfig, run_dir: Path | None = None) -> Pipeline:
    """Instantiate every stage named in ``cfg`` from its registry."""
    seed = int(cfg.seed)
    encoder_config = _plain(cfg.encoder)
    return Pipeline(
        encoder=registry.encoders.build(encoder_config),
        reducer=registry.reducers.build(_plain(cfg.reducer), random_state=seed),
        clusterer=registry.clusterers.build(_plain(cfg.clusterer), random_state=seed),
        evaluators=build_evaluators(_plain(cfg.evaluation), seed),
        seed=seed,
        training=TrainingContext(trainer=_plain(cfg.trainer), seed=seed, run_dir=run_dir),
        cache=build_cache(cfg),
        encoder_config=encoder_config,
        noise=str(cfg.get("noise") or "keep"),
        topic_model=build_topic_model(cfg.get("topics")),
        refiner=registry.refiners.build(_plain(cfg.refiner)) if "refiner" in cfg else None,
    )


def run_experiment(cfg: DictConfig, run_dir: Path) -> PipelineResult:
    """Load data, run the pipeline, write the run folder. Raises UserError on bad input."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_status(run_dir, "running")
    try:
        load_local_plugins(cfg.get("plugins_dir"))
        write_versions(run_dir, int(cfg.seed))
        dataset = load_dataset(_plain(cfg.data), seed=int(cfg.seed))
        log.info("data: %s, %d %s items%s", dataset.name, len(dataset), dataset.modality,
                 f", {dataset.n_classes} classes" if dataset.has_labels else "")
        pipeline = build_pipeline(cfg, run_dir)
        result = pipeline.run(dataset)
        write_results(run_dir, result)
    except Exception as error:
        write_status(run_dir, "failed", f"{type(error).__name__}: {error}")
        raise
    # After a successful run only; neither can fail the finished run (each logs a warning instead).
    save_run_model(run_dir, cfg, pipeline, result)
    if cfg.get("report", True):
        from textcluster.reporting.report import write_report_safely

        write_report_safely(run_dir, result, _plain(cfg), str(cfg.get("report_map") or "auto"))
    return result


def save_run_model(run_dir: Path, cfg: DictConfig, pipeline: Pipeline, result: PipelineResult) -> Path | None:
    """``<run_dir>/model/``: the fitted pipeline for ``textcluster-predict`` and ``Pipeline.load``."""
    from textcluster.persistence import MODEL_DIR, ModelNotSaved

    try:
        pipeline.remember_fit(result)
        config = _plain(cfg)
        return pipeline.save(run_dir / MODEL_DIR, extra={"data": config.get("data"), "config": config})
    except ModelNotSaved as error:
        log.warning("no model saved in %s: %s", run_dir, error)
    except Exception as error:  # the run's results are written; a model that cannot be pickled must not undo that
        log.warning("no model saved in %s (%s: %s)", run_dir, type(error).__name__, error, exc_info=True)
    return None
