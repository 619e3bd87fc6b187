"""The Python API: :class:`Pipeline`, the core estimator plus configs (``from_config``) and folders (``save``/``load``).

``Pipeline.from_config`` accepts

* a dict: group choices by name and settings by dotted key, e.g.
  ``{"encoder": "pretrained", "clusterer": "kmeans", "clusterer.n_clusters": 8}``
  (a group may also be given as a dict: ``{"clusterer": {"name": "kmeans", "n_clusters": 8}}``);
* a list of Hydra override strings, as on the command line: ``["encoder=pretrained", "clusterer.n_clusters=8"]``;
* an already composed ``DictConfig``.

The package's ``conf/`` is composed with Hydra's compose API (no Hydra app, no
run folder, no logging setup). As on the command line, the embedding cache is
on (under ``cache_dir``: ``$TEXTCLUSTER_CACHE_DIR`` or ``~/.cache/textcluster``),
so fitting the same documents again skips the encoder; ``{"cache": False}``
turns it off. A cache hit restores the fitted encoder, so ``predict`` works alike.

``encoder=auto`` / ``reducer=auto`` (the defaults) take the recipe of the
documents given to ``fit`` (:mod:`textcluster.recipe`): texts get the text
recipe, images the image recipe, an array of vectors (or
``fit(texts, embeddings=vectors)``) the vectors recipe; ``recipe_`` says which.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from textcluster import pipeline as core
from textcluster.build import RecipeOptions, build_pipeline, load_data
from textcluster.config import compose, config_dir, to_plain
from textcluster.dataset import Dataset
from textcluster.errors import UserError
from textcluster.reporting.model_folder import load_model, save_model

log = logging.getLogger(__name__)


def _config_groups() -> set[str]:
    return {path.name for path in config_dir().iterdir() if path.is_dir()}


# Groups a run can do without (the experiment skips the stage when the group is absent).
OPTIONAL_GROUPS = ("topics",)


def _no_choice(group: str) -> str:
    """The override for ``{group: None}``: the group's ``none`` option, or dropping an optional group."""
    options = sorted(path.stem for path in (config_dir() / group).glob("*.yaml"))
    if "none" in options:
        return f"{group}=none"
    if group in OPTIONAL_GROUPS:
        return f"~{group}"  # Hydra refuses null as a group choice; deleting the entry drops the stage
    raise UserError(f"'{group}' cannot be None: a run needs one; choose one of {', '.join(options)}")


def compose_config(config: Any = None, overrides: Iterable[str] = ()):
    """A composed textcluster config (``DictConfig``) from a dict, override strings or a DictConfig."""
    from omegaconf import DictConfig, OmegaConf, open_dict

    overrides = [overrides] if isinstance(overrides, str) else list(overrides)
    if isinstance(config, DictConfig):
        return OmegaConf.merge(config, OmegaConf.from_dotlist(overrides)) if overrides else config.copy()
    if isinstance(config, str):
        overrides = [config] + overrides
        config = None
    elif isinstance(config, (list, tuple)):
        overrides = [str(o) for o in config] + overrides
        config = None
    elif config is not None and not isinstance(config, Mapping):
        raise UserError(f"from_config takes a dict, a list of overrides or a DictConfig, not {type(config).__name__}")

    groups = _config_groups()
    choices, values = [], {}
    for key, value in (config or {}).items():
        key = str(key)
        if key in groups and isinstance(value, str):
            choices.append(f"{key}={value}")
        elif key in groups and isinstance(value, Mapping):
            if value.get("name") is not None:
                choices.append(f"{key}={value['name']}")
            values.update({f"{key}.{sub}": v for sub, v in value.items() if sub != "name"})
        elif key in groups and value is None:
            choices.append(_no_choice(key))
        else:
            values[key] = value
    cfg = compose(choices + overrides)
    for key, value in values.items():
        if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING:
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if not isinstance(node, DictConfig):
                raise UserError(f"config key '{key}' does not exist; see `textcluster --cfg job` for the keys")
            # A plugin's own setting that its YAML leaves out (the registry checks the name when it builds).
            with open_dict(node):
                node[leaf] = value
        else:
            OmegaConf.update(cfg, key, value, merge=True)
    return cfg


_MISSING = object()


class Pipeline(core.Pipeline):
    """The pipeline of :mod:`textcluster.pipeline`, plus building from a config and saving to / loading from a folder.

    ``config`` holds the composed config a pipeline was built from (``from_config``), else None.
    """

    config: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: Any = None, overrides: Iterable[str] = ()) -> Pipeline:
        """Build from a dict (``{"encoder": "pretrained", "clusterer.n_clusters": 8}``), Hydra override
        strings or a composed config (see :func:`compose_config`). No Hydra app is started; every value is
        checked before anything is built; ``encoder=auto`` takes the recipe of the documents ``fit`` gets."""
        overrides = [overrides] if isinstance(overrides, str) else list(overrides)
        plain = to_plain(compose_config(config, overrides))
        pipeline = build_pipeline(plain, pipeline_class=cls, reads_data=False)
        if not _config_names_data(config, overrides):
            plain.pop("data", None)  # the default data set is not what fit will be given
        pipeline.config = plain
        return pipeline

    def _default_recipe_stages(self):
        """``Pipeline("auto", KMeansClusterer())`` in Python: the recipe's options from the package's configs."""
        return RecipeOptions(seed=self.seed)

    def fit(self, documents: Any = None, labels: Any = None, embeddings: Any = None) -> Pipeline:
        """Fit on ``documents``: a list of str, an image array (n, h, w), an array of vectors (n, d) or a Dataset;
        None: the config's data. ``embeddings``: your own vectors for the documents (texts): they are clustered,
        the texts name the topics."""
        if documents is None:
            if self.config is None or "data" not in self.config:
                raise UserError(
                    "fit() needs documents (a list of strings, an image array or a Dataset), "
                    "or a pipeline built with Pipeline.from_config that names data=..."
                )
            documents = load_data(self.config)
        dataset = with_embeddings(Dataset.from_documents(documents, labels), embeddings)
        super().fit(dataset)
        if self.config is not None and self.recipe_ is not None:
            self.config["recipe"] = self.recipe_.describe()  # the saved model's config says what auto became
        return self

    def fit_predict(self, documents: Any = None, labels: Any = None, embeddings: Any = None):
        """Fit (as :meth:`fit`) and return the documents' cluster (topic) ids."""
        return self.fit(documents, labels, embeddings).labels_

    def predict_details(self, documents: Any, embeddings: Any = None):
        """As the core's, with ``embeddings`` beside texts for a pipeline fitted with ``fit(texts, embeddings=...)``."""
        return super().predict_details(with_embeddings(Dataset.from_documents(documents), embeddings))

    def predict(self, documents: Any, embeddings: Any = None):
        """The cluster (topic) id of each new document, as the fitted stages assign it (nothing is refitted)."""
        return self.predict_details(documents, embeddings).labels

    def topics_over_time(self, times: Any, bins: str | int = "auto"):
        """Each topic's documents per time bin, with its keywords in the bin (a DataFrame: bin, topic, label,
        count, share, keywords); ``times``: one per fitted document, in order (dates, text pandas reads, years).
        ``bins``: auto (10-30 calendar bins), D / W / M / Q / Y or a number of equal bins."""
        from textcluster.topics.over_time import topics_over_time

        return topics_over_time(self._corpus_topics(), self.labels_, times, bins)

    def topics_per_group(self, groups: Any):
        """Each topic's documents per group (source, author, ...): a DataFrame like :meth:`topics_over_time`'s."""
        from textcluster.topics.over_time import topics_per_group

        return topics_per_group(self._corpus_topics(), self.labels_, groups)

    def _corpus_topics(self):
        self.topic_info()  # not fitted / no topics: its one-line reason
        if self.topics_.doc_term is None:
            raise UserError(
                "a loaded model keeps its topics but not its documents; call refresh_topics(documents=<the texts "
                "of the fit>) first"
            )
        return self.topics_

    def save(self, path: str | Path) -> Path:
        """Write the fitted pipeline to the folder ``path`` (a manifest and the stages' state as data)."""
        return save_model(self, path, self.config)

    @classmethod
    def load(cls, path: str | Path) -> Pipeline:
        """A pipeline saved by :meth:`save`, or the ``model/`` of a run folder (give either folder)."""
        pipeline, manifest = load_model(path, cls)
        pipeline.config, pipeline.manifest_ = manifest.get("config"), manifest
        return pipeline


def names_data(keys: Iterable[str]) -> bool:
    """Whether config keys (``data``, ``data.path``, ...) name the data (else fit is given the documents)."""
    return any(key == "data" or key.startswith("data.") for key in keys)


def _config_names_data(config: Any, overrides: list[str]) -> bool:
    if isinstance(config, Mapping):
        keys = [str(key) for key in config]
    elif isinstance(config, (list, tuple, str)):
        keys = [str(item).lstrip("+~").split("=", 1)[0] for item in ([config] if isinstance(config, str) else config)]
    else:
        keys = ["data"] if config is not None else []  # a composed DictConfig names its data
    return names_data(keys + [override.lstrip("+~").split("=", 1)[0] for override in overrides])


def with_embeddings(dataset: Dataset, embeddings: Any) -> Dataset:
    """``dataset`` (texts) with the user's vectors beside them; the dataset itself without ``embeddings``."""
    if embeddings is None:
        return dataset
    if dataset.texts is None or dataset.vectors is not None:
        raise UserError(
            "embeddings= goes with text documents (the texts name the topics); "
            "to cluster vectors without texts, pass the array itself as the documents"
        )
    vectors = Dataset.from_documents(embeddings).vectors
    if vectors is None:
        raise UserError("embeddings= takes a float array of shape (documents, dimensions)")
    return dataclasses.replace(dataset, vectors=vectors)  # the texts, labels, ids, times, groups kept
