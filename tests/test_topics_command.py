"""``textcluster-topics``: editing a finished run's topics from the command line (issue 25, item 2).

One real run (400 posts of four 20 Newsgroups-test classes, ``encoder=raw``, k-means k = 5, the report on)
is copied for each test, so every test edits a fresh run folder.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from conftest import compose_small, run_main

CLASSES = ["comp.graphics", "rec.sport.hockey", "sci.space", "talk.religion.misc"]


@pytest.fixture(scope="module")
def finished_run(data_file, tmp_path_factory):
    from textcluster.experiment import run_experiment

    folder = tmp_path_factory.mktemp("topics-command")
    frame = pd.read_csv(data_file("20newsgroups", "test.csv"))
    frame = frame[frame.label.isin(CLASSES)].groupby("label", group_keys=False).head(100)
    frame.to_csv(folder / "posts.csv", index=False)
    overrides = ("data=csv", f"data.path={folder / 'posts.csv'}", "data.label_column=label", "encoder=raw")
    run_experiment(compose_small(*overrides, "clusterer.n_clusters=5"), folder / "run")
    return folder / "run"


@pytest.fixture
def run_dir(finished_run, tmp_path):
    shutil.copytree(finished_run, tmp_path / "run")
    return tmp_path / "run"


def topics_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from textcluster.topics_command import main

    return run_main(capsys, main, *argv)


def assignments(run_dir) -> pd.DataFrame:
    return pd.read_csv(run_dir / "assignments.csv")


def test_a_merge_rewrites_the_run_and_predict_follows(run_dir, capsys):
    from textcluster import Pipeline

    before = assignments(run_dir)
    a, b = sorted(before.cluster.unique())[:2]
    code, out, err = topics_cli(capsys, str(run_dir), "merge", str(b), str(a))
    assert code == 0, err
    assert "merge: done in" in out and out.splitlines()[1].split() == ["topic", "size", "label"]
    after = assignments(run_dir)
    merged = before.cluster.isin([a, b])
    assert (after.cluster[merged] == a).all() and (after.cluster[~merged] == before.cluster[~merged]).all()
    topics = json.loads((run_dir / "topics.json").read_text())
    assert b not in [entry["id"] for entry in topics["topics"]]
    assert {entry["id"]: entry["size"] for entry in topics["topics"]}[a] == merged.sum()
    assert (after.topic == after.cluster.map({e["id"]: e["label"] for e in topics["topics"]})).all()
    assert json.loads((run_dir / "topic_edits.json").read_text()) == [{"edit": "merge", "topics": [int(a), int(b)]}]
    assert "Topics edited after the fit (merge" in (run_dir / "report.html").read_text()
    texts = pd.read_parquet(run_dir / "documents.parquet").text.tolist()
    assert (Pipeline.load(run_dir).predict(texts) == after.cluster.to_numpy()).all()


def test_update_rename_split_and_the_edit_list(run_dir, capsys):
    code, _, err = topics_cli(capsys, str(run_dir), "update", "topics.vectorizer.max_df=0.1", "topics.top_n_words=6")
    assert code == 0, err
    texts = pd.read_parquet(run_dir / "documents.parquet").text.tolist()
    share = pd.Series([w for text in texts for w in set(text.split())]).value_counts() / len(texts)
    keywords = {
        word for entry in json.loads((run_dir / "topics.json").read_text())["topics"] for word in entry["keywords"]
    }
    assert keywords and not keywords & set(share[share > 0.1].index)
    assert all(len(e["keywords"]) <= 6 for e in json.loads((run_dir / "topics.json").read_text())["topics"])

    largest = int(assignments(run_dir).cluster.value_counts().index[0])
    assert topics_cli(capsys, str(run_dir), "rename", str(largest), "the big one")[0] == 0
    assert (
        "the big one" in (run_dir / "topics.md").read_text() and "the big one" in (run_dir / "report.html").read_text()
    )
    code, out, err = topics_cli(capsys, str(run_dir), "split", str(largest), "3")
    assert code == 0, err
    assert len(set(assignments(run_dir).cluster)) == 5 + 2
    code, out, _ = topics_cli(capsys, str(run_dir), "edits")
    assert [line.split()[1] for line in out.splitlines()[:3]] == ["edit=update", "edit=rename", "edit=split"]


def test_a_stop_between_two_files_is_mended_by_the_next_command(run_dir, capsys):
    stale = assignments(run_dir)
    a, b = sorted(stale.cluster.unique())[:2]
    assert topics_cli(capsys, str(run_dir), "merge", str(a), str(b))[0] == 0
    stale.to_csv(run_dir / "assignments.csv", index=False)  # as if stopped after the model, before this file
    assert topics_cli(capsys, str(run_dir), "rename", str(a), "joined")[0] == 0
    mended = assignments(run_dir)
    assert (mended.cluster[stale.cluster.isin([a, b])] == a).all() and (
        mended.topic[mended.cluster == a] == "joined"
    ).all()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["merge", "0"], "merge takes two or more topic ids, got 1 argument(s): merge TOPIC TOPIC [TOPIC ...]"),
        (["merge", "0", "99"], "merge: no topic 99; the topics are 0, 1, 2, 3, 4"),
        (["fuse", "0", "1"], "unknown action 'fuse'; the actions are merge, rename, update"),
        (["update", "vectorizer.max_df=0.1"], "update takes topics.KEY=VALUE"),
        (["update", "topics.n_topics=3"], "update_topics cannot change n_topics; merge topics instead"),
        (["split", "x"], "'x' is not a topic id"),
    ],
)
def test_bad_edits_are_one_line_and_change_nothing(run_dir, capsys, argv, message):
    before = {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}
    code, out, err = topics_cli(capsys, str(run_dir), *argv)
    assert code == 2 and err.startswith("textcluster-topics: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert before == {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}


def test_a_folder_that_is_no_text_run_is_refused(tmp_path, capsys):
    code, _, err = topics_cli(capsys, str(tmp_path))
    assert code == 2 and "no saved model" in err
