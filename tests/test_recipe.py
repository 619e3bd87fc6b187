"""The recipe (:mod:`textcluster.recipe`): what ``encoder=auto`` / ``reducer=auto`` become, and the pipeline
that applies it when it fits, as it settles ``n_clusters=auto``."""

from __future__ import annotations

import numpy as np
import pytest

from textcluster.errors import UserError
from textcluster.recipe import RECIPES, Auto, as_auto, choose


@pytest.mark.parametrize("modality", sorted(RECIPES))
def test_the_modality_chooses_encoder_and_reducer(modality):
    recipe = choose(modality, {"encoder", "reducer"})
    assert dict(recipe.options) == RECIPES[modality]
    assert recipe.describe() == (
        f"{modality} data: encoder={RECIPES[modality]['encoder']} reducer={RECIPES[modality]['reducer']}"
    )


def test_a_named_encoder_or_a_graph_clusterer_gets_no_reducer():
    assert dict(choose("text", {"reducer"}).options) == {"reducer": "none"}  # chosen for the recipe's encoder
    assert dict(choose("image", {"encoder", "reducer"}, builds_graph=True).options) == {
        "encoder": "dense",
        "reducer": "none",
    }
    assert dict(choose("text", {"encoder"}).options) == {"encoder": "hybrid"}  # a named reducer stays
    with pytest.raises(ValueError, match="no recipe for 'audio' data"):
        choose("audio", {"encoder"})


def test_auto_is_the_string_or_the_placeholder_with_settings():
    assert as_auto("auto") == Auto() and as_auto("pca") is None and as_auto(None) is None
    assert as_auto(Auto({"lr": 0.1})).settings == {"lr": 0.1}
    assert repr(Auto()) == "'auto'" and repr(Auto({"lr": 0.1})) == "auto(lr=0.1)"


def _vectors() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(loc, 0.05, size=(20, 6)) for loc in (-1.0, 1.0)]).astype(np.float32)


def test_the_pipeline_settles_the_recipe_at_fit_and_records_it():
    from textcluster.clusterers.builtin import KMeansClusterer
    from textcluster.encoders.precomputed import PrecomputedEncoder
    from textcluster.pipeline import Pipeline

    built = []

    def stages(group, option, settings):
        built.append((group, option, dict(settings)))
        return PrecomputedEncoder(**settings) if group == "encoder" else None  # reducer=none

    pipeline = Pipeline(Auto({"normalize": True}), KMeansClusterer(n_clusters=2), reducer="auto", recipe_stages=stages)
    pipeline.fit(_vectors())
    assert built == [("encoder", "precomputed", {"normalize": True}), ("reducer", "none", {})]
    assert pipeline.recipe_.describe() == "vectors data: encoder=precomputed reducer=none"
    assert pipeline.encoder_.normalize and pipeline.fit_info_["recipe"] == pipeline.recipe_.describe()
    assert as_auto(pipeline.encoder) is not None  # the parameter stays as given, as n_clusters=auto does
    assert len(set(pipeline.labels_)) == 2


def test_auto_in_python_takes_the_recipe_from_the_configs():
    from textcluster import Pipeline
    from textcluster.clusterers.builtin import KMeansClusterer
    from textcluster.pipeline import Pipeline as CorePipeline

    pipeline = Pipeline("auto", KMeansClusterer(n_clusters=2), reducer="auto").fit(_vectors())
    assert pipeline.recipe_.describe() == "vectors data: encoder=precomputed reducer=none"
    with pytest.raises(UserError, match="encoder='auto' takes a recipe of config options; use textcluster.Pipeline"):
        CorePipeline("auto", KMeansClusterer(n_clusters=2)).fit(_vectors())  # the core reads no configs


def test_a_setting_the_recipes_encoder_lacks_is_one_line_before_data_loads():
    from textcluster.build import build_pipeline
    from textcluster.config import compose, to_plain

    config = to_plain(compose(["data=digits", "encoder.lexical_weight=0.5"]))
    assert config["encoder"] == {"name": "auto", "lexical_weight": 0.5}  # the auto node takes any setting
    with pytest.raises(UserError, match=r"^encoder=auto is encoder=dense here \(image data: .*no parameter 'lexical"):
        build_pipeline(config)


def test_the_builder_checks_each_value_once(monkeypatch):
    """check_config reads every setting against its plugin; building the stages does not read them again."""
    from textcluster import registry
    from textcluster.build import build_pipeline
    from textcluster.config import compose, to_plain

    calls = []
    original = registry.Registry.problems

    def counted(self, config, where=None):
        calls.append(where)
        return original(self, config, where)

    monkeypatch.setattr(registry.Registry, "problems", counted)
    build_pipeline(to_plain(compose(["data=digits", "encoder=raw", "reducer=pca", "clusterer.n_clusters=3"])))
    assert calls.count("clusterer") == 1 and calls.count("encoder") == 1 and calls.count("reducer") == 1
