"""New documents as they arrive: ``Pipeline.partial_fit`` (issue 25, item 6).

Real slice: MiniLM (first 64 tokens, to keep the test short) on 20 Newsgroups-test posts. The fit sees three
classes (150 posts each); updates bring 40 more posts of each of those classes, then 80 posts of
talk.religion.misc, a class the fit never saw.
"""

from __future__ import annotations

import pandas as pd
import pytest

from textcluster.errors import UserError

SEEN = ["comp.graphics", "rec.sport.hockey", "sci.space"]
UNSEEN = "talk.religion.misc"


@pytest.fixture(scope="module")
def batches(data_file) -> dict[str, pd.DataFrame]:
    frame = pd.read_csv(data_file("20newsgroups", "test.csv"))
    seen = frame[frame.label.isin(SEEN)]
    return {
        "fit": seen.groupby("label", group_keys=False).head(100),
        "same": seen.groupby("label", group_keys=False).tail(30),
        "unseen": frame[frame.label == UNSEEN].head(80),
        "more": frame[frame.label == UNSEEN].iloc[80:120],
    }


@pytest.fixture(scope="module")
def updated(batches):
    from textcluster import Pipeline

    config = {"encoder": "pretrained", "encoder.max_length": 64, "clusterer.n_clusters": 3, "cache": False}
    pipeline = Pipeline.from_config(config).fit(batches["fit"].text.tolist())
    fitted = pipeline.labels_.copy()
    pipeline.partial_fit(batches["same"].text.tolist())
    after_same = dict(pipeline.updates_[-1])
    pipeline.partial_fit(batches["unseen"].text.tolist())
    return pipeline, fitted, after_same


def test_documents_of_the_fitted_topics_join_them(updated, batches):
    pipeline, fitted, report = updated
    assert report["new_topics"] == {} and report["documents"] == 90
    assert report["fitted"] >= 75  # about 95% by the radius rule
    assert sum(report["grown"].values()) == report["fitted"] and max(report["drift"].values()) < 0.5
    assert (pipeline.labels_[: len(fitted)] == fitted).all()  # the earlier assignments are left alone


def test_documents_of_an_unseen_class_form_a_new_topic(updated, batches):
    pipeline, fitted, _ = updated
    report = pipeline.updates_[-1]
    assert len(report["new_topics"]) == 1
    new_topic, size = [(int(key), value) for key, value in report["new_topics"].items()][0]
    assert size >= 20
    keywords = pipeline.topics_.topics[[t.id for t in pipeline.topics_.topics].index(new_topic)].keywords
    assert {"god", "jesus", "christian", "bible"} & set(keywords)
    assert (pipeline.labels_[: len(fitted)] == fitted).all()
    # predict follows: most posts of the new class go to the new topic, posts of the others almost never
    assert (pipeline.predict(batches["unseen"].text.tolist()) == new_topic).mean() >= 0.4
    assert (pipeline.predict(batches["same"].text.tolist()) == new_topic).mean() <= 0.05
    assert new_topic in pipeline.topic_ids_.tolist()


def test_an_updated_model_saves_and_loads_like_any_other(updated, batches, tmp_path):
    from textcluster import Pipeline

    pipeline = updated[0]
    loaded = Pipeline.load(pipeline.save(tmp_path / "model"))
    texts = batches["unseen"].text.tolist()
    assert (loaded.predict(texts) == pipeline.predict(texts)).all()
    assert loaded.updates_ == pipeline.updates_
    with pytest.raises(UserError, match="call refresh_topics\\(documents=<the texts of the fit>\\) first"):
        loaded.partial_fit(texts)


def test_later_documents_of_the_new_topic_join_it(updated, batches):
    pipeline = updated[0]  # runs after the tests above: it updates the shared pipeline once more
    new_topic = int(next(iter(pipeline.updates_[-1]["new_topics"])))
    pipeline.partial_fit(batches["more"].text.tolist())
    assert pipeline.updates_[-1]["grown"].get(str(new_topic), 0) >= 5
    assert len(pipeline.labels_) == 300 + 90 + 80 + 40


def test_a_clusterer_without_centres_is_refused(batches):
    from textcluster import Pipeline

    config = {"encoder": "raw", "clusterer": "gmm", "clusterer.n_clusters": 3, "cache": False}
    pipeline = Pipeline.from_config(config).fit(batches["fit"].text.tolist()[:200])
    with pytest.raises(UserError, match="partial_fit moves cluster centres, and clusterer=gmm"):
        pipeline.partial_fit(batches["same"].text.tolist())
