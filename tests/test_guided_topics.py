"""Guided (seed words) and zero-shot (topic names) topics (issue 25, item 4; textcluster.topics.guided).

A real slice: 500 posts of five 20 Newsgroups-test classes, encoded once with ``encoder=pretrained``
(MiniLM, 64 tokens; every fit below reads the same embedding cache entry), k-means with k = 4, one less than
the classes: without guidance hockey and baseball posts share a sports topic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from textcluster.errors import UserError

CLASSES = ["comp.graphics", "rec.sport.baseball", "rec.sport.hockey", "sci.space", "talk.religion.misc"]
BASE = {"encoder": "pretrained", "encoder.max_length": 64, "clusterer.n_clusters": 4}
HOCKEY_SEEDS = ["hockey", "nhl", "puck"]
NAMES = ["ice hockey", "outer space"]
MIN_SIMILARITY = 0.3  # MiniLM's similarities of posts to short names are low (benchmarks/results/guided-topics.md)


@pytest.fixture(scope="module")
def posts(data_file) -> pd.DataFrame:
    frame = pd.read_csv(data_file("20newsgroups", "test.csv"))
    frame = frame[frame.label.isin(CLASSES)]
    frame = frame.groupby("label", group_keys=False).head(100).reset_index(drop=True)
    return frame.assign(label=frame.label.str.split(".").str[-1])


def fit(posts: pd.DataFrame, **settings):
    from textcluster import Pipeline

    return Pipeline.from_config({**BASE, **settings}).fit(posts.text.tolist())


@pytest.fixture(scope="module")
def plain(posts):
    return fit(posts)


@pytest.fixture(scope="module")
def guided(posts):
    return fit(posts, **{"topics.seed_topics": [HOCKEY_SEEDS]})


@pytest.fixture(scope="module")
def zero_shot(posts):
    return fit(posts, **{"topics.zero_shot": NAMES, "topics.zero_shot_min_similarity": MIN_SIMILARITY})


def topics_of(pipeline, posts: pd.DataFrame, label: str, purity: float = 0.8, recall: float = 0.6) -> list:
    """The topics that are about one class: at least ``purity`` of their posts are of it, and they hold at
    least ``recall`` of its posts."""
    truth = posts.label.to_numpy()
    found = []
    for topic in pipeline.topics_.topics:
        members = truth[pipeline.labels_ == topic.id]
        hits = (members == label).sum()
        if len(members) and hits / len(members) >= purity and hits / (truth == label).sum() >= recall:
            found.append(topic)
    return found


def test_a_guided_topic_appears_when_its_seed_words_are_given_and_not_without(plain, guided, posts):
    assert topics_of(plain, posts, "hockey") == []  # k=4 over five classes: hockey shares a topic
    hockey = topics_of(guided, posts, "hockey")
    assert len(hockey) == 1
    topic = hockey[0]
    assert "hockey" in topic.keywords  # its own words, by c-TF-IDF
    assert topic.label.startswith("hockey, nhl, puck")  # the label carries the seed words
    assert guided.guidance_.seed_topic_ids == [topic.id]
    contains = posts.text.str.contains(r"\b(?:hockey|nhl|puck)\b").sum()
    assert guided.guidance_.seeded_sizes == [contains]  # whole words: each post with a seed word was pulled
    # the encoder's output is not changed: the pull is what the reducer sees
    np.testing.assert_array_equal(guided.embeddings_, plain.embeddings_)


def test_predict_pulls_new_documents_by_the_same_rule(guided, posts):
    texts = posts.text.tolist()[::3]  # a third of the posts, every class in it: each prediction encodes again
    agreement = (guided.predict(texts) == guided.labels_[::3]).mean()
    assert agreement > 0.9  # UMAP's transform of a fitted point is close to, not exactly, its fitted place
    hockey_id = guided.guidance_.seed_topic_ids[0]
    seeded = [text for text in posts.text if "nhl" in text.split()]
    assert (guided.predict(seeded) == hockey_id).mean() > 0.9
    # predict_proba and transform see the pulled documents too, as predict does
    columns = np.asarray(guided.topic_ids_)
    assert (columns[guided.predict_proba(seeded).argmax(axis=1)] == hockey_id).mean() > 0.9
    np.testing.assert_allclose(guided.transform(seeded), guided.predict_details(seeded).reduced, rtol=1e-5)


def test_zero_shot_names_take_the_documents_that_match_them_and_the_rest_is_clustered(zero_shot, posts):
    truth = posts.label.to_numpy()
    labels = zero_shot.labels_
    by_id = {topic.id: topic for topic in zero_shot.topics_.topics}
    assert [by_id[0].label, by_id[1].label] == NAMES  # ids 0, 1: the names in order, labelled by them
    sizes = zero_shot.guidance_.zero_shot_sizes
    assert [by_id[0].size, by_id[1].size] == sizes and min(sizes) >= 20
    assert (truth[labels == 0] == "hockey").mean() > 0.9
    assert (truth[labels == 1] == "space").mean() > 0.9
    rest = labels[labels > 1]
    assert len(rest) == len(posts) - sum(sizes)
    assert sorted(set(rest)) == [2, 3, 4, 5]  # the clusterer's k=4 clusters come after the names: no collision


def test_predict_applies_the_zero_shot_rule_to_new_documents(zero_shot, posts):
    prediction = zero_shot.predict_details(posts.text.tolist()[::3])  # a third: each prediction encodes again
    fitted = zero_shot.labels_[::3]
    taken = fitted < len(NAMES)
    np.testing.assert_array_equal(prediction.labels[taken], fitted[taken])
    assert (prediction.labels[~taken] >= len(NAMES)).all()
    assert np.isnan(prediction.scores[taken]).all()  # a k-means distance says nothing about a name's match
    labels = prediction.frame()["topic"].to_numpy()
    assert set(labels[taken]) == set(NAMES)


def test_topic_probabilities_follow_the_zero_shot_rule(zero_shot, posts):
    columns = list(zero_shot.topic_ids_)
    new = zero_shot.predict_proba(posts.text.tolist()[::3])  # a third: each prediction encodes again
    for proba, fitted in ((new, zero_shot.labels_[::3]), (zero_shot.training_proba(), zero_shot.labels_)):
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        rows = np.flatnonzero(fitted < len(NAMES))
        np.testing.assert_allclose(proba[rows, [columns.index(label) for label in fitted[rows]]], 1.0)


def test_a_density_clusterers_memberships_cover_every_document_in_the_pipelines_ids():
    """HDBSCAN's membership vectors describe the documents it clustered; the noise policy and the training
    probabilities read them over all documents, a zero-shot document wholly in its topic."""
    from textcluster.topics.guided import GuidedFit

    class Clusterer:
        def soft_membership(self):
            return np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])

    guided = GuidedFit(names=["a", "b"], name_vectors=np.eye(2, 3))
    guided.taken_ = np.array([-1, 1, -1, -1, 0])
    ids, proba = guided.membership_view(Clusterer()).soft_membership()
    assert ids.tolist() == [0, 1, 2, 3]
    expected = [[0, 0, 0.9, 0.1], [0, 1, 0, 0], [0, 0, 0.2, 0.8], [0, 0, 0.5, 0.5], [1, 0, 0, 0]]
    np.testing.assert_allclose(proba, expected)


def test_a_saved_model_keeps_the_names_and_the_seed_lists(zero_shot, guided, posts, tmp_path):
    from textcluster import Pipeline

    texts = posts.text.tolist()[:60]
    for pipeline, folder in ((zero_shot, "zero-shot"), (guided, "guided")):
        loaded = Pipeline.load(pipeline.save(tmp_path / folder))
        np.testing.assert_array_equal(loaded.predict(texts), pipeline.predict(texts))
        assert loaded.guidance_.get_state()["zero_shot"]["documents"] == pipeline.guidance_.zero_shot_sizes
        assert loaded.guidance_.seed_topics == pipeline.guidance_.seed_topics


def test_topics_json_records_what_each_zero_shot_topic_took(zero_shot, posts):
    from textcluster.reporting.topics_files import topics_payload

    entries = topics_payload(zero_shot.topics_, posts.text.tolist(), list(range(len(posts))))["topics"]
    named = {entry["label"]: entry["size"] for entry in entries if entry["label"] in NAMES}
    assert named == dict(zip(NAMES, zero_shot.guidance_.zero_shot_sizes))


# ------------------------------------------------------------------------------------- checked up front


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["topics.seed_topics=[space,nasa]"], r"topics\.seed_topics\[0\]='space' is not valid: it must be a list"),
        (["topics.seed_topics=[[]]"], r"topics\.seed_topics\[0\]=\[\] is not valid"),
        (["topics.zero_shot_min_similarity=1.5"], r"topics\.zero_shot_min_similarity=1\.5 is not valid"),
        (["topics.seed_weight=0"], r"topics\.seed_weight=0 is not valid: it must be a number in \(0, 1\]"),
        (["topics.zero_shot=[space,Space]"], r"topics\.zero_shot names space more than once"),
        (["data=mnist", "topics.zero_shot=[space]"], r"topics\.zero_shot needs text documents .* gives image"),
        (["data=newsgroups", "encoder=pretrained", "refiner=dec", "topics.seed_topics=[[space]]"], r"use refiner=none"),
    ],
)
def test_bad_guidance_settings_are_refused_before_data_loads(overrides, message):
    from textcluster.build import build_pipeline
    from textcluster.config import compose, to_plain

    with pytest.raises(UserError, match=message):  # the values (check_config), then the stages together
        build_pipeline(to_plain(compose(overrides)))


def test_the_api_refuses_guidance_on_documents_with_their_own_vectors():
    from textcluster import Pipeline

    pipeline = Pipeline.from_config({"clusterer.n_clusters": 2, "topics.zero_shot": ["space"]})
    with pytest.raises(UserError, match="come with their own embeddings"):
        pipeline.fit(["a post about space", "one about hockey"] * 3, embeddings=np.eye(6, 4, dtype=np.float32))


def test_the_config_and_the_constructor_agree():
    from textcluster.config import compose, to_plain
    from textcluster.topics.guided import Guidance

    settings = to_plain(compose([]))["topics"]  # conf/topics/default.yaml pulls Guidance's defaults
    assert {key: settings[key] for key in Guidance.parameters} == Guidance().get_params()
