"""textcluster-predict: a finished run's saved model assigns documents without refitting.

The runs here go through ``run_experiment`` in this process (what the ``textcluster`` command runs) and
``textcluster.predict.main`` (what the ``textcluster-predict`` script runs); one test starts the real
console script for the exit status.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import compose_small, run_main

NEWSGROUPS = ["sci.space", "rec.sport.hockey", "comp.graphics"]
NEW_DOCUMENTS = {
    "space": "nasa launch of the space shuttle rocket from kennedy space center put a satellite in orbit "
    "and the astronauts returned from the mission to the moon",
    "hockey": "the goalie stopped every shot and the team won the playoff game in overtime nhl hockey",
    "graphics": "how do i convert a jpeg image to gif format and render 3d polygons with opengl graphics",
}


def run_folder(tmp_path: Path, *overrides: str, limit: int | None = None) -> Path:
    return fitted_run(tmp_path, *overrides, limit=limit).run_dir


def fitted_run(tmp_path: Path, *overrides: str, limit: int | None = None):
    from textcluster.experiment import run_experiment

    return run_experiment(compose_small(*overrides, "report=false", limit=limit), tmp_path / "run")


def predict(capsys, *args: str) -> tuple[int, str, str]:
    """``textcluster.predict.main(args)``: (exit status, stdout, stderr)."""
    from textcluster.predict import main

    return run_main(capsys, main, *args)


@pytest.fixture(scope="module")
def newsgroups_csv(data_file, tmp_path_factory) -> Path:
    """30 posts from each of three 20 Newsgroups categories (a temporary CSV; the data stays in shared/)."""
    frame = pd.read_csv(data_file("20newsgroups", "test.csv"))
    frame = frame[frame.label.isin(NEWSGROUPS)].groupby("label").head(30).reset_index(drop=True)
    path = tmp_path_factory.mktemp("ng") / "ng3.csv"
    frame.assign(id=[f"doc{i}" for i in range(len(frame))]).to_csv(path, index=False)
    return path


def test_pretrained_run_repredicts_itself_and_places_new_documents(newsgroups_csv, tmp_path, capsys):
    run_dir = run_folder(
        tmp_path,
        "data=csv",
        f"data.path={newsgroups_csv}",
        "data.label_column=label",
        "data.id_column=id",
        "encoder=pretrained",
        "encoder.max_length=48",
        "clusterer.n_clusters=3",
    )
    manifest = json.loads((run_dir / "model" / "manifest.json").read_text())
    assert manifest["fit"]["modality"] == "text" and manifest["stages"]["encoder"]["name"] == "pretrained"
    assert sum(path.stat().st_size for path in (run_dir / "model").iterdir()) < 1_000_000  # MiniLM saved by name

    # The training documents plus three new ones, in one CSV.
    frame = pd.read_csv(newsgroups_csv)
    new = pd.DataFrame(
        {"text": list(NEW_DOCUMENTS.values()), "label": NEWSGROUPS, "id": [f"new-{name}" for name in NEW_DOCUMENTS]}
    )
    mixed = tmp_path / "mixed.csv"
    pd.concat([frame, new]).to_csv(mixed, index=False)
    code, out, err = predict(
        capsys, f"run_dir={run_dir}", "data=csv", f"data.path={mixed}", "data.label_column=label", "data.id_column=id"
    )
    assert code == 0, err
    assert "predictions:" in out

    assigned = pd.read_csv(run_dir / "assignments.csv").set_index("id")
    predicted = pd.read_csv(run_dir / "predictions.csv").set_index("id")
    assert list(predicted.columns[:4]) == ["cluster", "topic", "label", "distance"]
    assert (predicted.distance >= 0).all()
    # the topic label beside the id: the same label for a cluster in the run's assignments and in predictions
    topic_of = dict(zip(assigned.cluster, assigned.topic))
    assert (predicted.topic == predicted.cluster.map(topic_of)).all() and predicted.topic.str.contains(", ").all()
    same = predicted.loc[assigned.index, "cluster"] == assigned.cluster
    assert same.mean() >= 0.99, f"only {same.mean():.3f} of the training documents kept their cluster"

    # each cluster is named by the majority true label of its training documents
    majority = assigned.groupby("cluster").label.agg(lambda labels: labels.value_counts().index[0])
    assert sorted(majority) == sorted(NEWSGROUPS)  # the three clusters are the three newsgroups
    for name, group in zip(NEW_DOCUMENTS, NEWSGROUPS):
        assert majority[predicted.loc[f"new-{name}", "cluster"]] == group, name


def newsgroups_data(csv_path: Path) -> tuple[str, ...]:
    return ("data=csv", f"data.path={csv_path}", "data.label_column=label")


def test_kmeans_without_reducer_repredicts_exactly(newsgroups_csv, tmp_path, capsys):
    data = (*newsgroups_data(newsgroups_csv), "data.limit=80")
    run_dir = run_folder(tmp_path, *data, "encoder=raw", "clusterer.n_clusters=3")
    output = tmp_path / "out" / "predicted.csv"
    # the run's data named again, limit included: the run's seed draws the same 80 documents
    code, out, err = predict(capsys, f"run_dir={run_dir}", *data, f"output={output}")
    assert code == 0, err
    assigned, predicted = pd.read_csv(run_dir / "assignments.csv"), pd.read_csv(output)
    assert len(predicted) == 80
    assert predicted.id.tolist() == assigned.id.tolist()
    assert predicted.cluster.tolist() == assigned.cluster.tolist()


def raw_pca(csv_path: Path) -> tuple[str, ...]:
    """The labelled slice on raw TF-IDF reduced by PCA to 5 dimensions: the density clusterers' test space."""
    return (*newsgroups_data(csv_path), "encoder=raw", "reducer=pca", "reducer.n_components=5")


def test_hdbscan_run_predicts_what_hdbscan_itself_predicts(newsgroups_csv, tmp_path, capsys):
    """The saved model's route for new points is hdbscan.approximate_predict on the fitted model: the command's
    predictions are what the library computes for the run's own (reduced) points."""
    import hdbscan

    run = fitted_run(
        tmp_path, *raw_pca(newsgroups_csv), "clusterer=hdbscan", "clusterer.min_cluster_size=5", "noise=keep"
    )
    code, _, err = predict(capsys, f"run_dir={run.run_dir}", *newsgroups_data(newsgroups_csv))
    assert code == 0, err
    predicted = pd.read_csv(run.run_dir / "predictions.csv")
    assert len(np.unique(pd.read_csv(run.run_dir / "assignments.csv").cluster)) >= 2
    reduced = run.pipeline.transform(run.dataset)
    labels, strengths = hdbscan.approximate_predict(run.pipeline.clusterer_.model_, reduced.astype(np.float64))
    np.testing.assert_array_equal(predicted.cluster, labels)
    np.testing.assert_allclose(predicted.probability, strengths, atol=1e-6)


def test_dbscan_run_predicts_by_core_samples_then_the_noise_policy(newsgroups_csv, tmp_path, capsys):
    run = fitted_run(
        tmp_path,
        *raw_pca(newsgroups_csv),
        "clusterer=dbscan",
        "clusterer.eps=0.1",
        "clusterer.min_samples=3",
        "noise=nearest",
    )
    code, _, err = predict(capsys, f"run_dir={run.run_dir}", *newsgroups_data(newsgroups_csv))
    assert code == 0, err
    predicted = pd.read_csv(run.run_dir / "predictions.csv")
    assert "distance" in predicted.columns and not (predicted.cluster == -1).any()  # noise=nearest at predict too
    np.testing.assert_array_equal(predicted.cluster, run.pipeline.predict(run.dataset))  # saved model == live one
    # a core sample is its own nearest core sample: it keeps the label DBSCAN gave it
    reduced = run.pipeline.transform(run.dataset)
    core = np.array(
        [
            np.isclose(reduced[row], run.pipeline.clusterer_.core_points_).all(axis=1).any()
            for row in range(len(reduced))
        ]
    )
    assert core.sum() >= 10
    np.testing.assert_array_equal(predicted.cluster[core], run.pipeline.cluster_labels_[core])


def test_image_run_predicts_images_and_refuses_text(tmp_path, capsys):
    run_dir = run_folder(tmp_path, "encoder=raw", "clusterer.n_clusters=10", limit=300)  # digits
    code, _, err = predict(capsys, f"run_dir={run_dir}", "data=digits", "data.limit=300")
    assert code == 0, err
    assigned, predicted = pd.read_csv(run_dir / "assignments.csv"), pd.read_csv(run_dir / "predictions.csv")
    assert predicted.cluster.tolist() == assigned.cluster.tolist()
    assert "index" in predicted.columns

    docs = tmp_path / "docs.txt"
    docs.write_text("a text\nanother text\n")
    code, out, err = predict(capsys, f"run_dir={run_dir}", "data=lines", f"data.path={docs}")
    assert code == 2
    assert err.startswith("textcluster-predict: error: ") and err.count("\n") == 1
    assert "fitted on image data" in err and "text data" in err


def test_bad_run_folders_fail_with_one_line(tmp_path, capsys):
    code, _, err = predict(capsys, f"run_dir={tmp_path / 'missing'}", "data=digits")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1

    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "status.json").write_text(json.dumps({"status": "failed", "error": "UserError: boom"}))
    code, _, err = predict(capsys, f"run_dir={failed}", "data=digits")
    assert code == 2 and "no saved model" in err and "the run failed" in err and err.count("\n") == 1

    broken = tmp_path / "broken" / "model"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("not a manifest")
    code, _, err = predict(capsys, f"run_dir={broken.parent}", "data=digits")
    assert code == 2 and "manifest.json cannot be read" in err and err.count("\n") == 1

    code, _, err = predict(capsys, "data=digits")
    assert code == 2 and "run_dir= is required" in err
    code, _, err = predict(capsys, f"run_dir={tmp_path}", "colour=blue")
    assert code == 2 and "unknown argument 'colour'" in err


def predict_command(*args: str) -> subprocess.CompletedProcess:
    """The real ``textcluster-predict`` console script."""
    script = Path(sys.executable).with_name("textcluster-predict")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "textcluster.predict"]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=120)


def test_console_script_exit_status(tmp_path):
    done = predict_command(f"run_dir={tmp_path / 'nope'}", "data=digits")
    assert done.returncode == 2
    assert done.stderr.startswith("textcluster-predict: error: run_dir") and done.stderr.count("\n") == 1


def test_the_data_comes_from_the_command_line_only(tmp_path):
    """Without data= the command refuses, with the usage, before it opens the run folder; data.<key>= alone
    (which changed the run's recorded data config) is refused the same way."""
    for extra in ((), ("data.path=new.csv",)):
        done = predict_command(f"run_dir={tmp_path / 'nope'}", *extra)
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert done.stderr.startswith("textcluster-predict: error: data= is required") and done.stderr.count("\n") == 1
        assert "data=<csv|lines|" in done.stderr and "data.path=" in done.stderr


def test_an_edited_manifest_does_not_choose_what_is_read(tmp_path, capsys):
    """A run folder is someone else's data: its manifest describes the data the model was fitted on, and a
    data config written into it (a local file, a download) is never read."""
    topics = ["apple pear plum orchard fruit juice", "stock bond market trader money bank"]
    named = tmp_path / "named.csv"
    pd.DataFrame({"text": [f"{topics[i % 2]} note{i}" for i in range(30)], "id": [f"n{i}" for i in range(30)]}).to_csv(
        named, index=False
    )
    run_dir = run_folder(tmp_path, "data=csv", f"data.path={named}", "data.id_column=id", "encoder=raw")

    decoy = tmp_path / "decoy.csv"
    pd.DataFrame({"text": ["decoy document"] * 5, "id": [f"decoy{i}" for i in range(5)]}).to_csv(decoy, index=False)
    manifest_path = run_dir / "model" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["config"]["data"] = {"name": "csv", "path": str(decoy), "text_column": "text", "id_column": "id"}
    manifest_path.write_text(json.dumps(manifest))

    code, _, err = predict(capsys, f"run_dir={run_dir}")
    assert code == 2 and "data= is required" in err and err.count("\n") == 1
    code, _, err = predict(capsys, f"run_dir={run_dir}", "data.limit=5")
    assert code == 2 and "data= is required" in err and "data.limit=5" in err
    assert not (run_dir / "predictions.csv").exists()

    code, out, err = predict(capsys, f"run_dir={run_dir}", "data=csv", f"data.path={named}", "data.id_column=id")
    assert code == 0, err
    predicted = pd.read_csv(run_dir / "predictions.csv")
    assert predicted.id.tolist() == [f"n{i}" for i in range(30)]  # the named file's rows, none of the decoy's
    assert str(decoy) not in out + err
