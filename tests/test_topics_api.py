"""Topics as part of the model, and the notebook-shaped API around them (issue 25, items 1 and 7).

A real slice: 480 posts of four 20 Newsgroups-test classes, encoded with ``encoder=raw`` (TF-IDF features;
the encoder does not matter here and a transformer would cost minutes), k-means with k = 4.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import normalized_mutual_info_score

from textcluster.errors import UserError

CLASSES = ["comp.graphics", "rec.sport.hockey", "sci.space", "talk.religion.misc"]
SMALL = {"encoder": "raw", "clusterer.n_clusters": 4, "cache": False}


@pytest.fixture(scope="module")
def posts(data_file) -> pd.DataFrame:
    frame = pd.read_csv(data_file("20newsgroups", "test.csv"))
    frame = frame[frame.label.isin(CLASSES)]
    return frame.groupby("label", group_keys=False).head(120).reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(posts):
    from textcluster import Pipeline

    return Pipeline.from_config(SMALL).fit(posts.text.tolist())


def test_a_saved_model_loads_with_its_topics(fitted, posts, tmp_path):
    from textcluster import Pipeline

    loaded = Pipeline.load(fitted.save(tmp_path / "model"))
    assert loaded.topics_.summary() == fitted.topics_.summary()
    pd.testing.assert_frame_equal(loaded.topic_info(), fitted.topic_info())
    info = loaded.topic_info()
    assert list(info.columns) == ["topic", "label", "size", "share", "keywords", "representative_texts"]
    assert info["size"].sum() == len(posts) and info["size"].is_monotonic_decreasing
    # the representative texts are the posts themselves (cut to 500 characters), not row numbers
    first = loaded.topics_.topics[0]
    rows = first.representative_docs
    assert [text[:80] for text in first.representative_texts] == [posts.text[row][:80] for row in rows]
    assert all(len(text) <= 500 for text in first.representative_texts)
    # the topics of a loaded model name what the posts are about: each class gets its own topic
    truth = posts.label.to_numpy()
    assert normalized_mutual_info_score(truth, fitted.labels_) > 0.5


def test_predictions_carry_the_topic_label(fitted, posts):
    new = posts.text.tolist()[:40]
    prediction = fitted.predict_details(new)
    frame = prediction.frame()
    assert list(frame.columns) == ["cluster", "topic", "distance", "text"]
    labels = {topic.id: topic.label for topic in fitted.topics_.topics}
    assert frame.topic.tolist() == [labels[c] for c in frame.cluster]
    assert (frame.cluster.to_numpy() == fitted.labels_[:40]).mean() >= 0.95


def test_a_run_folder_loads_with_its_topics_and_labelled_assignments(posts, tmp_path):
    from textcluster import Pipeline
    from textcluster.api import compose_config
    from textcluster.experiment import run_experiment

    csv_path = tmp_path / "posts.csv"
    posts[["text"]].head(240).to_csv(csv_path, index=False)
    config = compose_config(SMALL | {"data": "csv", "data.path": str(csv_path), "report": False})
    run = run_experiment(config, tmp_path / "run")
    loaded = Pipeline.load(tmp_path / "run")
    assert loaded.topics_.summary() == run.pipeline.topics_.summary()
    with open(tmp_path / "run" / "assignments.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = dict(zip(loaded.topic_info().topic, loaded.topic_info().label))
    assert [row["topic"] for row in rows] == [labels[int(row["cluster"])] for row in rows]


def test_topics_print_as_a_short_table(fitted):
    text = repr(fitted.topics_)
    lines = text.splitlines()
    assert lines[0] == f"Topics: 4 topics over {len(fitted.labels_):,} documents"
    assert len(lines) == 5 and all(topic.label in text for topic in fitted.topics_.topics)


def test_pipeline_repr_shows_the_stages_and_their_changed_parameters(fitted):
    text = repr(fitted)
    assert "clusterer=KMeansClusterer(n_clusters=4)" in text  # the default n_init, seed... are left out
    assert "fitted on 480 items (text): 4 clusters; topic_info() lists the topics" in text


def test_from_config_takes_the_recipe_of_the_documents_given():
    from textcluster import Pipeline

    pipeline = Pipeline.from_config({"clusterer.n_clusters": 3})
    assert repr(pipeline.encoder) == "'auto'" and pipeline.recipe_stages is not None  # settled by fit
    assert pipeline.settle_recipe("text")[0].describe() == "text data: encoder=hybrid reducer=umap_text"
    assert "data" not in pipeline.config  # no default data set stands in for the documents fit will get
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(loc, 0.1, size=(30, 8)) for loc in (-1.0, 0.0, 1.0)]).astype(np.float32)
    labels = pipeline.fit_predict(vectors)
    assert type(pipeline.encoder_).__name__ == "PrecomputedEncoder"
    assert pipeline.recipe_.describe() == pipeline.config["recipe"] == "vectors data: encoder=precomputed reducer=none"
    assert pipeline.fit_info_["recipe"] == pipeline.config["recipe"]  # saved with the model
    assert normalized_mutual_info_score(np.repeat([0, 1, 2], 30), labels) == pytest.approx(1.0)
    with pytest.raises(UserError, match="fit\\(\\) needs documents"):
        pipeline.fit()
    named = Pipeline.from_config({"data": "digits", "clusterer.n_clusters": 3})
    assert named.config["data"]["name"] == "digits"  # data named: fit() reads it, and its images decide


def test_your_own_embeddings_cluster_and_the_texts_name_the_topics(posts):
    from textcluster import Pipeline

    texts, truth = posts.text.tolist(), pd.factorize(posts.label)[0]
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 16)) * 4  # vectors that follow the true classes exactly
    embeddings = (centres[truth] + rng.normal(size=(len(texts), 16))).astype(np.float32)
    pipeline = Pipeline.from_config({"clusterer.n_clusters": 4, "cache": False})
    pipeline.fit(texts, embeddings=embeddings)
    assert normalized_mutual_info_score(truth, pipeline.labels_) == pytest.approx(1.0)
    info = pipeline.topic_info()
    space = info[info.keywords.map(lambda words: "space" in words or "nasa" in words)]
    assert len(space) == 1 and space["size"].iloc[0] == 120  # the sci.space posts, named by their words
    assert (pipeline.predict(texts[:10], embeddings=embeddings[:10]) == pipeline.labels_[:10]).all()
    with pytest.raises(UserError, match="embeddings= goes with text documents"):
        pipeline.fit(embeddings, embeddings=embeddings)
