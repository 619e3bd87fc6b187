"""The plugin registries: lookup errors, parameter checks, context passing, the YAML configs matching the classes."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from textcluster import registry
from textcluster.config import config_dir
from textcluster.contracts import Plugin
from textcluster.errors import UnknownPluginError, UserError
from textcluster.recipe import RECIPES
from textcluster.registry import Registry

BUILTIN = {
    "datasets": {"digits", "mnist", "csv", "lines", "hf"},
    "encoders": {"dense", "raw"},
    "reducers": {"none", "pca", "umap"},
    "clusterers": {"kmeans", "dbscan", "hdbscan", "gmm", "spectral", "leiden"},
    "evaluators": {
        "acc",
        "nmi",
        "ari",
        "ami",
        "purity",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "dbcv",
        "cluster_counts",
    },
    "refiners": {"dec", "idec", "contrastive"},
    "noise_policies": {"keep", "nearest", "soft"},
}


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_builtin_plugins_are_registered(kind):
    keys = registry.ALL[kind].keys()
    assert BUILTIN[kind] <= set(keys)  # installed plugin packages may add more
    assert keys == sorted(keys)


def test_unknown_key_error_lists_known_keys():
    with pytest.raises(UnknownPluginError) as raised:
        registry.clusterers.get("nope")

    error = raised.value
    assert isinstance(error, UserError) and isinstance(error, KeyError)
    message = str(error)
    assert message.startswith("unknown clusterer 'nope'; known clusterers: ")  # not quoted like a KeyError
    listed = message.split("known clusterers: ", 1)[1].split(".", 1)[0].split(", ")
    assert set(listed) == set(registry.clusterers.keys())
    assert {"kmeans", "dbscan", "hdbscan"} <= set(listed)


def test_unknown_key_through_build_is_a_user_error():
    with pytest.raises(UserError, match=r"unknown encoder 'nope'; known encoders: .*dense.*raw"):
        registry.encoders.build({"name": "nope"})


def test_build_rejects_unknown_parameter_naming_accepted_ones():
    with pytest.raises(UserError) as raised:
        registry.clusterers.build({"name": "kmeans", "n_clusterz": 3, "n_init": 2})
    message = str(raised.value)
    assert "clusterer 'kmeans' has no parameter 'n_clusterz'" in message
    assert "n_init" not in message.split(";")[0]  # only the bad key is blamed
    assert message.endswith("it takes: fit_size, max_iter, n_clusters, n_init, random_state")


def test_build_checks_declared_values_before_constructing():
    with pytest.raises(
        UserError, match=r"clusterer\.n_init='three' is not valid: it must be an integer >= 1 or 'auto'"
    ):
        registry.clusterers.build({"name": "kmeans", "n_init": "three"})
    with pytest.raises(UserError, match=r"reducer\.metric='cosin' is not valid: it must be one of 'euclidean', "):
        registry.reducers.build({"name": "umap", "metric": "cosin"})


def test_build_of_a_plugin_without_parameters_says_so():
    with pytest.raises(UserError, match=r"has no parameter 'sample_size'; it takes: \(nothing\)"):
        registry.evaluators.build({"name": "cluster_counts", "sample_size": 10})


def test_build_without_name_is_a_user_error():
    with pytest.raises(UserError, match="no 'name' key"):
        registry.clusterers.build({"n_clusters": 3})


def test_random_state_goes_only_to_plugins_that_accept_it():
    kmeans = registry.clusterers.build({"name": "kmeans", "n_clusters": 3}, random_state=7)
    assert kmeans.random_state == 7

    dbscan = registry.clusterers.build({"name": "dbscan", "eps": 0.3}, random_state=7)  # takes no random_state
    assert dbscan.eps == 0.3 and not hasattr(dbscan, "random_state")

    counts = registry.evaluators.build({"name": "cluster_counts"}, random_state=7)  # takes nothing at all
    assert not hasattr(counts, "random_state")
    calinski = registry.evaluators.build({"name": "calinski_harabasz"}, random_state=7)  # samples above 100,000
    assert calinski.random_state == 7 and calinski.sample_size == 100_000

    silhouette = registry.evaluators.build({"name": "silhouette"}, random_state=7)
    assert silhouette.random_state == 7


def test_config_value_wins_over_context():
    kmeans = registry.clusterers.build({"name": "kmeans", "random_state": 3}, random_state=7)
    assert kmeans.random_state == 3


def test_plugin_taking_kwargs_receives_context_and_any_parameter():
    gadgets = Registry("gadgets", "gadget", "textcluster.errors", Plugin)  # a fresh registry with no entry points

    @gadgets.register("flexible")
    class Flexible(Plugin):
        def __init__(self, **params):
            self.params = params

    built = gadgets.build({"name": "flexible", "anything": 1}, random_state=5)
    assert built.params == {"anything": 1, "random_state": 5}
    assert Flexible.registry_key == "flexible"
    assert gadgets.keys() == ["flexible"]
    assert "flexible" in gadgets and "rigid" not in gadgets


def test_a_key_cannot_be_taken_twice():
    gadgets = Registry("gadgets", "gadget", "textcluster.errors", Plugin)

    @gadgets.register("one")
    class First(Plugin):
        pass

    gadgets.register("one")(First)  # the same class again is harmless
    with pytest.raises(ValueError, match="already taken by"):

        @gadgets.register("one")
        class Second(Plugin):
            pass


def test_a_plugin_must_keep_its_stage_contract():
    with pytest.raises(
        UserError, match="registered as clusterer 'loose' but does not subclass textcluster.contracts.Clusterer"
    ):

        @registry.clusterers.register("loose")
        class Loose:  # a duck-typed class: no declared parameters, no state, no predict_scores
            def fit(self, X):
                return self


GROUP_TO_REGISTRY = {
    "clusterer": "clusterers",
    "encoder": "encoders",
    "reducer": "reducers",
    "data": "datasets",
    "refiner": "refiners",
}


def every_plugin() -> list[type]:
    return [registry.ALL[kind].get(key) for kind in sorted(registry.ALL) for key in registry.ALL[kind].keys()]  # noqa: SIM118


@pytest.mark.parametrize("cls", every_plugin(), ids=lambda cls: f"{cls.group}-{cls.key()}")
def test_every_plugin_declares_exactly_its_constructor_parameters(cls):
    """What the builder checks is what the constructor takes, and get_params gives it back whole."""
    from textcluster.contracts import constructor_parameters

    assert issubclass(cls, Plugin) and cls.parameters is not None, f"{cls.__name__} declares no parameters"
    assert set(cls.parameters) == set(constructor_parameters(cls))  # **shared passed on: the base's count too
    instance = cls()
    params = instance.get_params()
    assert set(params) == set(cls.parameters)
    assert type(instance)(**params).get_params() == params  # clone-able: the parameters are stored as given
    instance.check_params()  # the defaults are values the plugin declares


@pytest.mark.parametrize(
    "group,option",
    sorted((group, path.stem) for group in GROUP_TO_REGISTRY for path in (config_dir() / group).glob("*.yaml")),
)
def test_every_builtin_yaml_builds_its_plugin(group, option):
    """Each conf/<group>/<option>.yaml names a registered key and only parameters the class takes.

    An option is named after its plugin (umap.yaml: name umap) or is a named variant of one
    (umap_text.yaml: name umap), which presets pick so a user's reducer=none still replaces it whole."""
    from textcluster.config import compose

    # composed as a run sees it: an option may start from another through its defaults list (hybrid: pretrained)
    params = OmegaConf.to_container(compose([f"{group}={option}"])[group], resolve=True)
    params.pop("limit", None)  # data.limit is applied by load_dataset, not by the loader
    if group == "refiner" and params["name"] == "none":
        return  # refiner=none: no refiner stage
    plugin = registry.ALL[GROUP_TO_REGISTRY[group]].build(params, random_state=0)
    assert type(plugin).registry_key == params.get("name", option)
    assert option == params.get("name", option) or option.startswith(params["name"] + "_")
    plugin.check_params()


@pytest.mark.parametrize("data", ["csv", "lines", "newsgroups", "digits", "mnist"])
def test_auto_encoder_and_reducer_settle_in_the_pipeline_by_the_data_modality(data):
    """One compose keeps ``auto``; the pipeline builds the recipe's options as ``encoder=<option>`` would."""
    from textcluster.build import build_pipeline
    from textcluster.config import compose, to_plain

    cfg = to_plain(compose([f"data={data}"]))
    assert (cfg["encoder"], cfg["reducer"]) == ({"name": "auto"}, {"name": "auto"})
    modality = registry.datasets.get(data).modality
    options = RECIPES[modality]
    recipe, encoder, reducer = build_pipeline(cfg).settle_recipe(modality)
    named = to_plain(compose([f"encoder={options['encoder']}", f"reducer={options['reducer']}"]))
    assert encoder.get_params() == registry.encoders.build(named["encoder"]).get_params()
    assert reducer.get_params() == registry.reducers.build(named["reducer"], random_state=0).get_params()
    assert recipe.describe() == f"{modality} data: encoder={options['encoder']} reducer={options['reducer']}"
    raw = build_pipeline(to_plain(compose([f"data={data}", "encoder=raw"]))).settle_recipe(modality)
    assert raw[0].options == {"reducer": "none"} and type(raw[2]).__name__ == "IdentityReducer"  # no recipe reducer
    kept = build_pipeline(to_plain(compose([f"data={data}", "encoder=raw", "reducer=pca"])))
    assert kept.settle_recipe(modality)[0] is None
    graph = build_pipeline(to_plain(compose([f"data={data}", "clusterer=leiden"]))).settle_recipe(modality)
    assert graph[0].describe() == f"{modality} data: encoder={options['encoder']} reducer=none"  # its own kNN graph


# ------------------------------------------------------------------------------------- config discovery


def test_stale_config_entry_point_is_ignored_with_a_warning(monkeypatch, caplog):
    from importlib.metadata import EntryPoint

    from textcluster import config

    stale = [
        EntryPoint("gone", "no_such_textcluster_plugin.conf", config.CONFIG_ENTRY_POINT_GROUP),
        EntryPoint("module", "json.decoder", config.CONFIG_ENTRY_POINT_GROUP),
    ]  # a module, not a folder
    monkeypatch.setattr(config, "entry_points", lambda group: stale if group == config.CONFIG_ENTRY_POINT_GROUP else [])
    with caplog.at_level("WARNING", logger="textcluster.config"):
        assert config.entry_point_config_dirs() == []
    assert "gone=no_such_textcluster_plugin.conf does not name a package folder; ignored" in caplog.text
    assert "module=json.decoder does not name a package folder" in caplog.text
    assert config.with_search_path(["seed=1"]) == ["seed=1"]  # no folder: no search path override


def test_plugins_dir_is_read_from_the_overrides():
    from textcluster.config import plugins_dir_from_overrides

    assert plugins_dir_from_overrides(["seed=1", "plugins_dir=/x/y", "encoder=raw"]) == "/x/y"
    assert plugins_dir_from_overrides(["+plugins_dir=rel"]) == "rel"
    assert plugins_dir_from_overrides(["plugins_dir=null", "seed=1"]) is None
    assert plugins_dir_from_overrides(["data.plugins_dir=/x"]) is None


@pytest.mark.parametrize("kind", ["encoders", "refiners", "clusterers", "evaluators"])
def test_each_key_is_registered_by_the_module_its_package_names(kind):
    """PLUGIN_MODULES lets the registry import one module per key (checking a config imports no torch); a
    key registered elsewhere, or a module that no longer registers its key, would break that."""
    import importlib

    reg = registry.ALL[kind]
    modules = importlib.import_module(reg.builtin_module).PLUGIN_MODULES
    for key, module in modules.items():
        cls = reg.get(key)
        assert cls.__module__ == f"{reg.builtin_module}.{module}", key
    listed = reg.keys()
    builtin = {key for key in listed if reg.get(key).__module__.startswith(reg.builtin_module + ".")}
    assert builtin == set(modules)  # every built-in key is in the table


def test_the_encoders_accept_exactly_the_activations_losses_and_cells_their_networks_have():
    from textcluster.encoders import dense, dense_network, rnn, rnn_network, sequence, sequence_network

    assert set(dense.ACTIVATION_NAMES) == set(dense_network.ACTIVATIONS)
    assert set(dense.RECONSTRUCTION_LOSS_NAMES) == set(dense_network.RECONSTRUCTION_LOSSES)
    assert set(sequence.OBJECTIVE_NAMES) == set(sequence_network.OBJECTIVES)
    assert set(rnn.CELL_NAMES) == set(rnn_network.CELLS)


def test_checking_the_default_configs_imports_no_heavy_library():
    """The command line checks a config before it imports torch, scikit-learn or UMAP (a typo is reported
    in about a second); a plugin module that imports one of them at its top undoes that."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from textcluster.checks import check_config\n"
        "from textcluster.config import compose, to_plain\n"
        "for overrides in (['encoder=dense'], ['encoder=cnn'], ['encoder=rnn'], ['encoder=transformer'], "
        "['encoder=raw', 'clusterer=hdbscan'], ['data=embeddings', "
        "'data.path=x.npy', 'encoder=precomputed', 'reducer=umap'], "
        "['data=csv', 'data.path=x.csv', 'encoder=hybrid', 'reducer=umap_text']):\n"
        "    check_config(to_plain(compose(overrides)))\n"
        "heavy = sorted(m for m in ('torch', 'sklearn', 'umap', 'pytorch_lightning', 'faiss', 'transformers') "
        "if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"checking a config imported {done.stdout.strip()}"
