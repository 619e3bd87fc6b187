"""One source for every default: a plugin's constructor holds them, its YAML holds its name and declared deltas.

The composed config (what the command line runs) and ``Plugin()`` (what the Python API runs) must build equal
objects; a YAML that repeats a default, or changes one without a comment saying why, fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from textcluster import registry
from textcluster.build import build_evaluators, build_stage
from textcluster.config import compose, config_dir, to_plain
from textcluster.defaults import GROUPS, group_defaults, plain

STAGE_GROUPS = ("encoder", "reducer", "clusterer", "refiner", "data")
NOT_PLUGINS = {("encoder", "auto"), ("reducer", "auto"), ("refiner", "none")}  # resolved or skipped, not built
KEY_LINE = re.compile(r"^(\s*)([A-Za-z_]\w*):(.*)$")


def plugin_yamls() -> list[tuple[str, str]]:
    return sorted(
        (group, path.stem)
        for group in STAGE_GROUPS
        for path in (config_dir() / group).glob("*.yaml")
        if (group, path.stem) not in NOT_PLUGINS
    )


def params_of(plugin: Any) -> dict[str, Any]:
    return plain(plugin.get_params())


def yaml_file(group: str, option: str) -> Path:
    return config_dir() / group / f"{option}.yaml"


def plugin_name(group: str, option: str) -> str:
    """The registry key an option builds: its ``name``, else the name of the sibling YAML it starts from."""
    data = yaml.safe_load(yaml_file(group, option).read_text())
    if "name" in data:
        return data["name"]
    siblings = [str(entry) for entry in data.get("defaults", []) if entry != "_self_" and "@" not in str(entry)]
    return plugin_name(group, siblings[0])


def declared_deltas(group: str, option: str) -> dict[str, Any]:
    """The settings an option's YAML sets itself and through the sibling YAMLs its defaults list names
    (``- umap``, ``- dec_da@start``), as a nested dict; ``name`` and the defaults list aside."""
    data = yaml.safe_load(yaml_file(group, option).read_text()) or {}
    deltas: dict[str, Any] = {}
    for entry in data.get("defaults", []):
        if not isinstance(entry, str) or entry == "_self_" or entry.split("@")[0].endswith("_defaults"):
            continue
        sibling, _, package = entry.partition("@")
        inherited = {"name": yaml.safe_load(yaml_file(group, sibling).read_text())["name"]}
        inherited.update(declared_deltas(group, sibling))
        if package:
            deltas[package] = inherited
        else:
            deltas.update({key: value for key, value in inherited.items() if key != "name"})
    own = {key: value for key, value in data.items() if key not in ("defaults", "name")}
    return merge(deltas, own)


def merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def leaves(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"features.max_df": 0.5, ...}``: every setting that is not a block, by its dotted path."""
    found = {}
    for key, value in settings.items():
        path = f"{prefix}{key}"
        found.update(leaves(value, path + ".") if isinstance(value, Mapping) else {path: value})
    return found


def built_from_config(group: str, option: str) -> Any:
    """The plugin the command line builds for ``group=option``: Hydra's compose, then the real builder."""
    settings = to_plain(compose([f"{group}={option}"]))[group]
    if group == "data":
        settings.pop("limit")  # load_dataset applies it; the loader never sees it
        return registry.datasets.build(settings, where="data")
    return build_stage(group, settings, seed=0)


def python_default(group: str, option: str) -> Any:
    """What Python builds for the same option: the class with the YAML's declared deltas, else ``Plugin()``."""
    deltas = declared_deltas(group, option)
    cls = GROUPS[group].get(plugin_name(group, option))
    if isinstance(deltas.get("start"), Mapping):  # a refiner started from another: its config, as composed
        deltas["start"] = {**group_defaults(group, deltas["start"]["name"]), **deltas["start"]}
    return cls(**deltas)


@pytest.mark.parametrize("group,option", plugin_yamls())
def test_the_config_and_the_constructor_build_equal_plugins(group, option):
    """Every parameter of the plugin the command line builds is the constructor's default, or a delta its
    YAML declares (then ``Plugin(**deltas)`` is what Python builds)."""
    built = built_from_config(group, option)
    expected = python_default(group, option)
    assert type(built) is type(expected)
    assert params_of(built) == params_of(expected)
    listed = to_plain(compose([f"{group}={option}"]))[group]
    assert set(listed) == set(group_defaults(group, built.key())), "the composed config lists every setting"


def test_a_plugin_built_in_python_equals_its_yaml_option():
    """The disagreements this file was written for: the YAML's values are the constructor's now."""
    dense, umap = built_from_config("encoder", "dense"), built_from_config("reducer", "umap")
    assert params_of(dense) == params_of(registry.encoders.get("dense")())
    assert dense.input_dropout == 0.2 and dense.augment["enabled"] is True
    assert umap.fit_size == registry.reducers.get("umap")().fit_size == 50_000


@pytest.mark.parametrize("group,option", plugin_yamls())
def test_a_yaml_sets_only_declared_deltas(group, option):
    """A value in a plugin's YAML differs from the constructor's default and says why in a comment on its
    line; so a YAML that repeats the defaults (a second source), or changes one silently, fails."""
    text = yaml_file(group, option).read_text()
    own = {key: value for key, value in (yaml.safe_load(text) or {}).items() if key not in ("defaults", "name")}
    data = yaml.safe_load(text)
    name = plugin_name(group, option)
    entries = [str(entry).split("@")[0] for entry in data.get("defaults", []) if entry != "_self_"]
    assert entries, f"{group}/{option}.yaml has no defaults list: pull {name}_defaults, keep only the deltas"
    inherited = {}
    for entry in data.get("defaults", []):
        if entry != "_self_" and not str(entry).split("@")[0].endswith("_defaults"):
            sibling, _, package = str(entry).partition("@")
            values = declared_deltas(group, sibling)
            inherited = merge(inherited, {package: values} if package else values)
    defaults = merge(group_defaults(group, name), inherited)
    commented = commented_keys(text)
    for path, value in leaves(own).items():
        default = leaves(defaults).get(path, object())
        assert plain(value) != default, f"{group}/{option}.yaml repeats {path}: {value}, the default; delete it"
        assert path in commented, f"{group}/{option}.yaml: {path}: {value} differs from the default; say why"


def commented_keys(text: str) -> set[str]:
    """The dotted keys of a YAML whose line carries a comment (``key: value  # why``)."""
    found, stack = set(), []
    for line in text.splitlines():
        match = KEY_LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if "#" in match.group(3):
            found.add(".".join(name for _, name in stack))
    return found


def every_plugin() -> list[tuple[str, str]]:
    return [(group, key) for group, plugins in GROUPS.items() for key in plugins.keys()]  # noqa: SIM118


@pytest.mark.parametrize("group,key", every_plugin())
def test_every_registered_plugin_serves_its_defaults(group, key):
    """``<group>/<key>_defaults`` builds ``Plugin()`` again, for every plugin (a third-party one too)."""
    cls = GROUPS[group].get(key)
    served = {name: value for name, value in group_defaults(group, key).items() if name not in ("name", "limit")}
    assert params_of(cls(**served)) == params_of(cls())


def test_the_evaluators_settings_are_their_constructors():
    composed = to_plain(compose([]))
    built = build_evaluators(composed["evaluation"], seed=0)
    for key, evaluator in built.items():
        assert params_of(evaluator) == params_of(registry.evaluators.get(key)()), key
    assert composed["evaluation"]["params"]["silhouette"] == {"sample_size": 5000}


def test_the_topics_yaml_and_the_topic_model_agree():
    """The topics group (served from TopicModeler's signature and its vectorizer block, without building one:
    that imports scikit-learn) builds what TopicModeler() and Guidance() are."""
    from textcluster.build import build_guidance, build_topics
    from textcluster.topics import TopicModeler
    from textcluster.topics.guided import Guidance

    topics = to_plain(compose([]))["topics"]
    assert params_of(build_topics(topics)) == params_of(TopicModeler())
    guidance = {key: topics[key] for key in Guidance.parameters}
    assert build_guidance(topics) is None and plain(guidance) == params_of(Guidance())


def test_a_plugin_yaml_written_out_in_full_still_composes(tmp_path):
    """A user's plugin whose YAML lists every setting (no defaults list) composes as before, and one that
    pulls its defaults from its constructor composes to the same config."""
    (tmp_path / "mine.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from textcluster.contracts import Clusterer
            from textcluster.params import Int
            from textcluster.registry import clusterers

            @clusterers.register("defaults_test_mine")
            class Mine(Clusterer):
                parameters = {"n_clusters": Int(min=1), "random_state": Int(min=0)}

                def __init__(self, n_clusters: int = 3, random_state: int = 0):
                    self.n_clusters, self.random_state = n_clusters, random_state

                def fit(self, X):
                    self.labels_ = np.zeros(len(X), dtype=int)
                    return self

                def predict_scores(self, X):
                    return np.zeros(len(X), dtype=int), None
            """
        )
    )
    (tmp_path / "clusterer").mkdir()
    (tmp_path / "clusterer" / "mine_full.yaml").write_text("name: defaults_test_mine\nn_clusters: 3\n")
    (tmp_path / "clusterer" / "mine.yaml").write_text(
        "defaults:\n  - defaults_test_mine_defaults\n  - _self_\n\nname: defaults_test_mine\n"
    )
    composed = [
        to_plain(compose([f"plugins_dir={tmp_path}", f"clusterer={option}"]))["clusterer"]
        for option in ("mine_full", "mine")
    ]
    assert composed[0] == composed[1] == {"name": "defaults_test_mine", "n_clusters": 3}
    assert build_stage("clusterer", composed[1]).get_params() == {"n_clusters": 3, "random_state": 0}


def test_the_defaults_are_no_options_to_choose():
    """The served configs stay out of `textcluster --help`'s lists of options."""
    done = subprocess.run(
        [sys.executable, "-m", "textcluster.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "encoder: auto, cnn, dense," in done.stdout and "_defaults" not in done.stdout
