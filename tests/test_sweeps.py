"""Optuna sweeps: the run's objective, how ``auto`` settles it, its check, and a real search through Hydra."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import compose_small, read_json, run_textcluster, shrink_overrides
from textcluster.build import build_pipeline, check_config, load_data
from textcluster.config import compose, config_dir, to_plain
from textcluster.errors import UserError
from textcluster.experiment import settled_objective


@pytest.fixture(scope="module")
def unlabelled_snippets(data_file, tmp_path_factory):
    """600 real SearchSnippets as a CSV without a label column: a corpus of one's own."""
    lines = data_file("searchsnippets", "SearchSnippets.txt").read_text().splitlines()[:600]
    path = tmp_path_factory.mktemp("corpus") / "snippets.csv"
    path.write_text("text\n" + "\n".join('"' + line.replace('"', "'") + '"' for line in lines) + "\n")
    return path


@pytest.mark.parametrize(
    "clusterer, expected",
    [(("clusterer=kmeans", "clusterer.n_clusters=8"), "silhouette"), (("clusterer=hdbscan",), "dbcv")],
    ids=["kmeans", "hdbscan"],
)
def test_auto_objective_without_labels_is_an_internal_criterion(unlabelled_snippets, clusterer, expected):
    config = to_plain(
        compose_small("data=csv", f"data.path={unlabelled_snippets}", "encoder=raw", "reducer=pca", *clusterer)
    )
    pipeline = build_pipeline(config)
    pipeline.fit(load_data(config))
    assert "nmi" not in pipeline.metrics_
    assert settled_objective("auto", pipeline) == expected
    assert -1 <= pipeline.metrics_[expected] <= 1
    assert settled_objective("davies_bouldin", pipeline) == "davies_bouldin"  # a named one stays


def test_an_objective_the_run_does_not_compute_is_refused_before_data_loads():
    config = to_plain(compose_small("objective=nmi", "evaluation.metrics=[silhouette]"))
    with pytest.raises(
        UserError, match="objective=nmi is not a metric evaluation.metrics computes; .*auto, silhouette"
    ):
        check_config(config)
    check_config(to_plain(compose_small("evaluation.metrics=[acc]")))  # auto takes what the run has


def test_optuna_search_over_the_searchsnippets_preset(data_file, tmp_path):
    """Two trials of the real preset on 300 snippets: each a run folder, the best one reported by Optuna."""
    sweep = tmp_path / "sweep"
    result = run_textcluster(
        "-m",
        "hparams_search=searchsnippets",
        f"data.path={data_file('searchsnippets', 'SearchSnippets.txt')}",
        f"data.labels_path={data_file('searchsnippets', 'SearchSnippets_gnd.txt')}",
        "data.limit=300",
        "hydra.sweeper.n_trials=2",
        "trainer.enable_progress_bar=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    trials = sorted(path.parent for path in sweep.glob("*/metrics.json"))
    assert len(trials) == 2
    assert all(read_json(trial / "status.json")["status"] == "completed" for trial in trials)
    nmis = [read_json(trial / "metrics.json")["nmi"] for trial in trials]
    printed = [float(value) for value in re.findall(r"objective\s+nmi \(([0-9.]+)", result.stdout)]
    assert printed == pytest.approx(nmis, abs=1e-4)
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(nmis))
    assert set(best["best_params"]) == {
        "reducer.n_neighbors",
        "reducer.n_components",
        "reducer.min_dist",
        "reducer.metric",
        "clusterer.n_init",
    }
    overrides = [yaml.safe_load((trial / ".hydra" / "overrides.yaml").read_text()) for trial in trials]
    assert overrides[0] != overrides[1]  # the sampler proposed two different trials


SEARCHES = sorted(path.stem for path in (config_dir() / "hparams_search").glob("*.yaml"))


def search_space(search: str) -> dict[str, list]:
    """``hydra.sweeper.params`` of a preset: each key with the values at its ends (ranges) or all its choices."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        params = compose("config", [f"hparams_search={search}"], return_hydra_config=True).hydra.sweeper.params
    space = {}
    for override in OverridesParser.create().parse_overrides([f"{key}={value}" for key, value in params.items()]):
        sweep = override.value()
        space[override.key_or_group] = (
            [sweep.start, sweep.end] if hasattr(sweep, "start") else [choice for choice in sweep.list]
        )
    return space


@pytest.mark.parametrize("search", SEARCHES)
def test_every_value_a_search_offers_is_a_valid_config(search):
    """A trial stops the whole search on a bad value, so each end of each range must pass the config check."""
    space = search_space(search)
    assert space, f"conf/hparams_search/{search}.yaml searches nothing"
    for key, values in space.items():
        for value in values:
            check_config(to_plain(compose(["data=lines", f"hparams_search={search}", f"{key}={value}"])))


def test_a_sweep_over_clusterers_of_both_kinds_takes_each_its_recipe(tmp_path):
    """``choice(kmeans,spectral)``: k-means clusters the recipe's UMAP, spectral (its own neighbourhood graph)
    the encoder's codes; each job settles its own recipe (the sweep was refused while the recipe was settled
    on the command line, once for every job)."""
    sweep = tmp_path / "sweep"
    result = run_textcluster(
        "-m",
        "clusterer=choice(kmeans,spectral)",
        "clusterer.n_clusters=4",
        "data=digits",
        "data.limit=120",
        "encoder.hidden_dims=[32]",  # the image recipe's dense autoencoder, set with encoder=auto
        *shrink_overrides(["report=false"]),
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    recipes = {}
    for job in sorted(path for path in sweep.iterdir() if path.is_dir()):
        config = read_json(job / "model" / "manifest.json")["config"]
        recipes[config["clusterer"]["name"]] = config["recipe"]
        assert config["encoder"]["hidden_dims"] == [32]  # the setting given with encoder=auto reached dense
    assert recipes == {
        "kmeans": "image data: encoder=dense reducer=umap_n2d",
        "spectral": "image data: encoder=dense reducer=none",
    }


def test_a_trial_without_its_objective_scores_the_worst_and_the_search_goes_on(unlabelled_snippets, tmp_path):
    """One cluster has no silhouette: the trial is -inf to a maximising search (nan would stop Optuna)."""
    sweep = tmp_path / "sweep"
    result = run_textcluster(
        "-m",
        "hydra/sweeper=optuna",
        "hydra.sweeper.direction=maximize",
        "hydra.sweeper.n_trials=2",
        "clusterer.n_clusters=choice(1)",
        "data=csv",
        f"data.path={unlabelled_snippets}",
        "data.limit=200",
        "encoder=raw",
        "reducer=pca",
        "report=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("objective             silhouette (nan") == 2
    assert result.stderr.count("objective silhouette was skipped (see above): the sweep scores this run -inf") == 2
    assert yaml.safe_load((sweep / "optimization_results.yaml").read_text())["best_value"] == float("-inf")
