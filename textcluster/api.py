"""The Python API: :class:`Pipeline`, the core estimator plus configs (``from_config``) and folders (``save``/``load``).

``Pipeline.from_config`` accepts

* a dict: group choices by name and settings by dotted key, e.g.
  ``{"encoder": "pretrained", "clusterer": "kmeans", "clusterer.n_clusters": 8}``
  (a group may also be given as a dict: ``{"clusterer": {"name": "kmeans", "n_clusters": 8}}``);
* a list of Hydra override strings, as on the command line: ``["encoder=pretrained", "clusterer.n_clusters=8"]``;
* an already composed ``DictConfig``.

The package's ``conf/`` is composed with Hydra's compose API (no Hydra app, no
run folder, no logging setup). Unlike the command line, the embedding cache is
off unless the config turns it on (``cache=true``): a pipeline fitted in a
notebook should hold a fitted encoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from textcluster import pipeline as core
from textcluster.build import build_pipeline, load_data
from textcluster.config import compose, config_dir, to_plain
from textcluster.errors import UserError
from textcluster.reporting.model_folder import load_model, save_model


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
    given = {o.lstrip("+~").split("=", 1)[0] for o in overrides} | set(values)
    cfg = compose(choices + overrides + ([] if "cache" in given else ["cache=false"]))
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
        checked before anything is built."""
        plain = to_plain(compose_config(config, overrides))
        pipeline = build_pipeline(plain, pipeline_class=cls, reads_data=False)
        pipeline.config = plain
        return pipeline

    def fit(self, documents: Any = None, labels: Any = None) -> Pipeline:
        """Fit on ``documents`` (a list of str, an image array (n, h, w) or a Dataset); None: the config's data."""
        if documents is None:
            if self.config is None or "data" not in self.config:
                raise UserError(
                    "fit() needs documents (a list of strings, an image array or a Dataset), "
                    "or a pipeline built with Pipeline.from_config that names data=..."
                )
            documents = load_data(self.config)
        return super().fit(documents, labels)

    def save(self, path: str | Path) -> Path:
        """Write the fitted pipeline to the folder ``path`` (a manifest and the stages' state as data)."""
        return save_model(self, path, self.config)

    @classmethod
    def load(cls, path: str | Path) -> Pipeline:
        """A pipeline saved by :meth:`save`, or the ``model/`` of a run folder (give either folder)."""
        pipeline, manifest = load_model(path, cls)
        pipeline.config, pipeline.manifest_ = manifest.get("config"), manifest
        return pipeline
