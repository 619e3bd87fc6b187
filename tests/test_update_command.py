"""``textcluster-update``: new documents added to a finished run (issue 25, item 6, from the command line).

A real run: MiniLM (64 tokens) and k-means (k = 3) on 300 posts of three 20 Newsgroups-test classes; the
update brings 80 posts of talk.religion.misc, a class the run never saw.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import compose_small, run_main

SEEN = ["comp.graphics", "rec.sport.hockey", "sci.space"]


@pytest.fixture(scope="module")
def files(data_file, tmp_path_factory):
    from textcluster.experiment import run_experiment

    folder = tmp_path_factory.mktemp("update-command")
    frame = pd.read_csv(data_file("20newsgroups", "test.csv"))
    frame[frame.label.isin(SEEN)].groupby("label", group_keys=False).head(100).to_csv(folder / "fit.csv", index=False)
    frame[frame.label == "talk.religion.misc"].head(80).to_csv(folder / "new.csv", index=False)
    overrides = ("data=csv", f"data.path={folder / 'fit.csv'}", "encoder=pretrained", "encoder.max_length=64")
    run_experiment(compose_small(*overrides, "clusterer.n_clusters=3"), folder / "run")
    return folder


@pytest.fixture
def run_dir(files, tmp_path):
    shutil.copytree(files / "run", tmp_path / "run")
    return tmp_path / "run"


def test_an_update_adds_the_documents_and_a_new_topic_and_predict_follows(run_dir, files, capsys):
    from textcluster import Pipeline
    from textcluster.update_command import main

    before = pd.read_csv(run_dir / "assignments.csv")
    code, out, err = run_main(capsys, main, str(run_dir), "data=csv", f"data.path={files / 'new.csv'}")
    assert code == 0, err
    assert out.startswith("update 1: 80 documents") and "new topic 3:" in out
    after = pd.read_csv(run_dir / "assignments.csv")
    assert len(after) == 380 and (after.cluster[:300] == before.cluster).all()  # the run's topics stay
    assert after.id[300:].tolist() == [f"update1-{row}" for row in range(80)]
    new = after[after.cluster == 3]
    assert len(new) >= 20 and new.id.str.startswith("update1-").all()
    report = json.loads((run_dir / "updates.json").read_text())[0]
    assert report["documents"] == 80 and report["new_topics"] == {"3": len(new)}
    topics = json.loads((run_dir / "topics.json").read_text())["topics"]
    assert {"god", "jesus", "christian", "bible"} & set(next(t["keywords"] for t in topics if t["id"] == 3))
    texts = pd.read_csv(files / "new.csv").text.tolist()
    assert (Pipeline.load(run_dir).predict(texts) == 3).mean() >= 0.3

    # an edit after the update replays on the added documents too, and a stopped update is left out
    from textcluster.topics_command import main as topics_main

    assert run_main(capsys, topics_main, str(run_dir), "merge", "0", "1")[0] == 0
    merged = pd.read_csv(run_dir / "assignments.csv")
    assert len(merged) == 380 and set(merged.cluster) == {0, 2, 3}
    documents = pd.read_parquet(run_dir / "documents.parquet")
    stopped = documents.tail(5).assign(update=2, id=lambda frame: "stopped-" + frame.id)
    pd.concat([documents, stopped]).to_parquet(run_dir / "documents.parquet", index=False)
    embeddings = np.load(run_dir / "embeddings.npy")
    np.save(run_dir / "embeddings.npy", np.concatenate([embeddings, embeddings[-5:]]))
    code, out, err = run_main(capsys, topics_main, str(run_dir), "rename", "3", "religion")
    assert code == 0, err
    assert len(pd.read_csv(run_dir / "assignments.csv")) == 380  # the stopped update's rows are left out


def test_bad_updates_are_one_line(run_dir, files, capsys):
    from textcluster.update_command import main

    code, _, err = run_main(capsys, main, str(run_dir))
    assert code == 2 and "data= is required" in err
    code, _, err = run_main(capsys, main, str(run_dir), "data=csv", f"data.path={files / 'new.csv'}", "output=x.csv")
    assert code == 2 and "it takes no output=" in err
    pd.read_csv(files / "new.csv").assign(doc=lambda frame: [str(i) for i in range(len(frame))]).to_csv(
        run_dir / "clash.csv", index=False
    )
    code, _, err = run_main(
        capsys, main, str(run_dir), "data=csv", f"data.path={run_dir / 'clash.csv'}", "data.id_column=doc"
    )
    assert code == 2 and "have ids the run has already" in err and len(err.strip().splitlines()) == 1
