"""Editing the topics of a fitted pipeline without re-encoding (issue 25, item 2): merge, update, split,
reduce outliers, rename; predict follows each edit, and a saved model keeps them.

Real slice: 480 posts of four 20 Newsgroups-test classes. ``encoder=raw`` (TF-IDF features) where the
encoder does not matter; for split and outliers, vectors that follow the true classes (``fit(texts,
embeddings=...)``), so the expected topics are known exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import normalized_mutual_info_score

from textcluster.errors import UserError

CLASSES = ["comp.graphics", "rec.sport.hockey", "sci.space", "talk.religion.misc"]


@pytest.fixture(scope="module")
def posts(data_file) -> pd.DataFrame:
    frame = pd.read_csv(data_file("20newsgroups", "test.csv"))
    frame = frame[frame.label.isin(CLASSES)]
    return frame.groupby("label", group_keys=False).head(120).reset_index(drop=True)


def fit_raw(posts, **settings):
    from textcluster import Pipeline

    config = {"encoder": "raw", "clusterer.n_clusters": 4, "cache": False, **settings}
    return Pipeline.from_config(config).fit(posts.text.tolist())


def class_vectors(truth: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(truth.max() + 1, 16)) * 4
    return (centres[truth] + rng.normal(size=(len(truth), 16))).astype(np.float32)


def test_a_merge_moves_the_merged_topics_documents_and_nothing_else(posts, tmp_path):
    from textcluster import Pipeline

    pipeline = fit_raw(posts)
    texts = posts.text.tolist()
    before = pipeline.predict(texts)
    a, b = sorted({int(before[0]), int(before[-1])})
    assert a != b
    pipeline.merge_topics([b, a])
    after = pipeline.predict(texts)
    merged = np.isin(before, [a, b])
    assert (after[merged] == a).all() and (after[~merged] == before[~merged]).all()
    assert (pipeline.labels_ == after).all() and len(pipeline.topics_) == 3
    sizes = dict(zip(pipeline.topic_info().topic, pipeline.topic_info()["size"]))
    assert sizes[a] == merged.sum() and b not in sizes
    loaded = Pipeline.load(pipeline.save(tmp_path / "model"))
    assert (loaded.predict(texts) == after).all()  # the saved model carries the edit
    assert loaded.topic_edits_ == [{"edit": "merge", "topics": [a, b]}]
    with pytest.raises(UserError, match=f"merge: no topic 99; the topics are {a}, "):
        pipeline.merge_topics([a, 99])


def test_an_update_of_max_df_removes_the_common_words_from_every_label(posts):
    pipeline = fit_raw(posts, **{"topics.shared_words": "keep"})  # keep: the common words do reach the labels
    texts = posts.text.tolist()
    counts = CountVectorizer(stop_words="english", min_df=2).fit(texts)
    share = np.asarray((counts.transform(texts) > 0).mean(axis=0)).ravel()
    common = {word for word, s in zip(counts.get_feature_names_out(), share) if s > 0.15}
    labelled = {word for topic in pipeline.topics_.topics for word in topic.keywords}
    assert labelled & common  # e.g. "com", "edu", "article": the update has words to remove
    pipeline.update_topics(**{"vectorizer.max_df": 0.15})
    keywords = {word for topic in pipeline.topics_.topics for word in topic.keywords}
    assert not keywords & common and len(keywords) >= 30
    assert pipeline.topics.vectorizer["max_df"] == 0.15  # later edits keep the new setting
    with pytest.raises(UserError, match="'vectoriser' is no topics setting"):
        pipeline.update_topics(vectoriser={"max_df": 0.2})


def test_a_split_separates_what_a_merge_joined_and_predict_follows(posts):
    from textcluster import Pipeline

    texts, truth = posts.text.tolist(), pd.factorize(posts.label)[0]
    vectors = class_vectors(truth)
    pipeline = Pipeline.from_config({"clusterer.n_clusters": 4, "cache": False}).fit(texts, embeddings=vectors)
    first, second = int(pipeline.labels_[truth == 0][0]), int(pipeline.labels_[truth == 2][0])
    pipeline.merge_topics([first, second])
    joined = np.isin(truth, [0, 2])
    assert len(set(pipeline.labels_[joined])) == 1
    pipeline.split_topic(min(first, second))
    assert normalized_mutual_info_score(truth, pipeline.labels_) == pytest.approx(1.0)
    assert len(pipeline.topics_) == 4 and pipeline.topic_edits_[-1]["edit"] == "split"
    new = class_vectors(truth, seed=1)[:40]  # the same classes' vectors: their topics are the split's
    assert (pipeline.predict(texts[:40], embeddings=new) == pipeline.labels_[:40]).all()
    with pytest.raises(UserError, match="give n from 2 to"):
        pipeline.split_topic(min(first, second), n=50)


def test_reduce_outliers_gives_every_document_a_topic_and_predict_follows(posts):
    from textcluster import Pipeline

    texts, truth = posts.text.tolist(), pd.factorize(posts.label)[0]
    vectors = class_vectors(truth)
    vectors[::10] = np.random.default_rng(2).uniform(-12, 12, size=(len(vectors[::10]), 16))  # strays
    config = {"clusterer": "hdbscan", "clusterer.min_cluster_size": 20, "noise": "keep", "cache": False}
    pipeline = Pipeline.from_config(config).fit(texts, embeddings=vectors)
    outliers = pipeline.labels_ == -1
    assert outliers.sum() >= 10
    before = pipeline.labels_.copy()
    pipeline.reduce_outliers()
    assert (pipeline.labels_ >= 0).all() and (pipeline.labels_[~outliers] == before[~outliers]).all()
    assert (pipeline.predict(texts, embeddings=vectors) >= 0).all()
    assert -1 not in set(pipeline.topic_info().topic)
    with pytest.raises(UserError, match="there are no outliers"):
        pipeline.reduce_outliers()


def test_a_name_stays_through_later_edits_and_a_loaded_model_edits_with_its_documents(posts, tmp_path):
    from textcluster import Pipeline

    pipeline = fit_raw(posts)
    texts = posts.text.tolist()
    named = int(pipeline.labels_[0])
    others = sorted(set(pipeline.labels_.tolist()) - {named})
    pipeline.rename_topic(named, "my topic")
    pipeline.merge_topics(others[:2])
    assert pipeline.topics_.label_of([named]) == ["my topic"]
    assert pipeline.predict_details(texts[:1]).topic_labels == ["my topic"]

    loaded = Pipeline.load(fit_raw(posts).save(tmp_path / "model"))
    with pytest.raises(UserError, match="needs the documents the pipeline was fitted on"):
        loaded.merge_topics(others[:2])
    loaded.rename_topic(named, "my topic").merge_topics(others[:2], documents=texts)
    assert (loaded.predict(texts) == pipeline.labels_).all()
    assert loaded.topic_info().label.tolist() == pipeline.topic_info().label.tolist()
