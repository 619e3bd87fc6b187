"""Helpers behind the Python API (``Pipeline.from_config``, ``fit``, ``predict``): configs and inputs.

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

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from textcluster.data import Dataset
from textcluster.errors import UserError


def _config_groups() -> set[str]:
    from textcluster.config import config_dir

    return {path.name for path in config_dir().iterdir() if path.is_dir()}


# Groups a run can do without (the experiment skips the stage when the group is absent).
OPTIONAL_GROUPS = ("topics",)


def _no_choice(group: str) -> str:
    """The override for ``{group: None}``: the group's ``none`` option, or dropping an optional group."""
    from textcluster.config import config_dir

    options = sorted(path.stem for path in (config_dir() / group).glob("*.yaml"))
    if "none" in options:
        return f"{group}=none"
    if group in OPTIONAL_GROUPS:
        return f"~{group}"  # Hydra refuses null as a group choice; deleting the entry drops the stage
    raise UserError(f"'{group}' cannot be None: a run needs one; choose one of {', '.join(options)}")


def compose_config(config: Any = None, overrides: Iterable[str] = ()):
    """A composed textcluster config (``DictConfig``) from a dict, override strings or a DictConfig."""
    from omegaconf import DictConfig, OmegaConf, open_dict

    from textcluster.config import compose

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


def build_from_config(config: Any = None, overrides: Iterable[str] = ()):
    """A :class:`~textcluster.pipeline.Pipeline` from a config (see :func:`compose_config`)."""
    from omegaconf import OmegaConf

    from textcluster.experiment import build_pipeline

    cfg = compose_config(config, overrides)
    pipeline = build_pipeline(cfg)
    pipeline.config_ = OmegaConf.to_container(cfg, resolve=True)
    return pipeline


def dataset_from_config(pipeline) -> Dataset:
    """The data named by the config the pipeline was built from (``fit()`` with no documents)."""
    from textcluster.data import load_dataset

    config = getattr(pipeline, "config_", None) or {}
    if "data" not in config:
        raise UserError("fit() needs documents (a list of strings, an image array or a Dataset), "
                        "or a pipeline built with Pipeline.from_config that names data=...")
    return load_dataset(config["data"], seed=int(config.get("seed", pipeline.seed)))


def as_dataset(docs: Any, labels: Any = None, ids: Any = None, name: str = "documents") -> Dataset:
    """A :class:`Dataset` from a Dataset, a list/Series of strings, or an image array (n, height, width)."""
    if isinstance(docs, Dataset):
        if labels is not None or ids is not None:
            raise UserError("labels= and ids= are for plain documents; a Dataset carries its own")
        return docs
    if isinstance(docs, (str, bytes)):
        raise UserError("pass a list of documents, not a single string (wrap it: [text])")
    if hasattr(docs, "detach") and hasattr(docs, "cpu"):  # a torch tensor
        docs = docs.detach().cpu().numpy()
    if hasattr(docs, "to_numpy") and not isinstance(docs, np.ndarray):  # pandas Series
        docs = docs.to_numpy()
    if isinstance(docs, np.ndarray) and docs.dtype.kind in "biuf":
        images = docs
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        elif images.ndim == 4 and images.shape[1] == 1:
            images = images[:, 0]
        if images.ndim != 3:
            raise UserError(f"an image array must have shape (n, height, width); got {docs.shape}")
        images = images.astype(np.float32)
        if docs.dtype.kind in "biu" or (images.size and images.max() > 1.0):
            images = images / 255.0  # 0-255 pixels to [0, 1], as the loaders give them
        return Dataset(name=name, images=images, labels=_optional_array(labels), ids=_optional_array(ids))
    texts = list(docs)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise UserError(f"documents must be strings; item {bad} is a {type(texts[bad]).__name__}")
    if not texts:
        raise UserError("no documents given")
    return Dataset(name=name, texts=texts, labels=_optional_array(labels), ids=_optional_array(ids))


def _optional_array(values: Any) -> np.ndarray | None:
    return None if values is None else np.asarray(values)


@dataclass
class Prediction:
    """What ``Pipeline.predict_details`` gives for new documents (rows in input order)."""

    dataset: Dataset
    labels: np.ndarray  # final cluster (topic) ids, as in assignments.csv; -1 is noise
    scores: np.ndarray | None  # distance to the cluster's centre or membership probability, per ``score_name``
    score_name: str | None
    embeddings: np.ndarray
    reduced: np.ndarray
    cluster_labels: np.ndarray  # the clusterer's (or refiner's) labels before noise policy and topic merging
