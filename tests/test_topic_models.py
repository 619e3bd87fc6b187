"""Topic models as encoders (encoder=lda, encoder=nmf) and clusterer=argmax: end to end on real snippets,
the topic words in the run folder, the saved model, bad settings refused before any data loads."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import compose_small, read_json, read_status
from textcluster.clusterers.argmax import ArgmaxClusterer
from textcluster.contracts import TrainingContext
from textcluster.dataset import Dataset
from textcluster.errors import UserError
from textcluster.experiment import run_experiment
from textcluster.registry import clusterers, encoders
from textcluster.state import read_state, write_state

N_TOPICS, LIMIT = 8, 1500
# NMI on a 1,500-snippet sample (seed 0), measured with these settings: lda 0.058 (argmax) / 0.058 (kmeans),
# seeds 1 and 2 0.058 and 0.044; nmf 0.236 / 0.236. Random labels score about 0.005.
MIN_NMI = {"lda": 0.025, "nmf": 0.15}
CLUSTERERS = {"argmax": ["clusterer=argmax"], "kmeans": ["clusterer=kmeans", f"clusterer.n_clusters={N_TOPICS}"]}


@pytest.fixture(scope="module")
def snippets(data_dir):
    texts, labels = (
        data_dir / "searchsnippets" / "SearchSnippets.txt",
        data_dir / "searchsnippets" / "SearchSnippets_gnd.txt",
    )
    if not texts.is_file() or not labels.is_file():
        pytest.skip(f"{texts} or {labels} not found in the shared data folder")
    return ["data=lines", f"data.path={texts}", f"data.labels_path={labels}"]


def run_topic_model(snippets, run_dir, encoder: str, clusterer: str):
    cfg = compose_small(
        *snippets,
        f"encoder={encoder}",
        f"encoder.n_components={N_TOPICS}",
        "reducer=none",
        *CLUSTERERS[clusterer],
        "report=false",
        limit=LIMIT,
    )
    return run_experiment(cfg, run_dir)


@pytest.mark.parametrize("clusterer", sorted(CLUSTERERS))
@pytest.mark.parametrize("encoder", ["lda", "nmf"])
def test_topic_model_end_to_end_on_snippets(snippets, tmp_path, encoder, clusterer):
    run = run_topic_model(snippets, tmp_path, encoder, clusterer)
    assert read_status(tmp_path) == "completed"
    pipeline = run.pipeline
    mixtures = pipeline.embeddings_
    assert mixtures.shape == (LIMIT, N_TOPICS) and (mixtures >= 0).all()
    np.testing.assert_allclose(mixtures.sum(axis=1), 1.0, atol=1e-5)  # topic mixtures, for nmf too
    assert pipeline.metrics_["nmi"] > MIN_NMI[encoder]
    if clusterer == "argmax":
        assert (pipeline.labels_ == mixtures.argmax(axis=1)).all()  # one cluster per topic
        assert set(pipeline.labels_) <= set(range(N_TOPICS))

    entries = read_json(tmp_path / "encoder_topics.json")
    assert [entry["topic"] for entry in entries] == list(range(N_TOPICS))
    assert all(len(entry["words"]) == 10 == len(set(entry["words"])) for entry in entries)
    vocabulary = pipeline.encoder_.features_.vectorizer_.vocabulary_
    assert all(word in vocabulary for entry in entries for word in entry["words"])
    assert len({tuple(entry["words"]) for entry in entries}) == N_TOPICS  # every topic has its own words
    assert len({entry["words"][0] for entry in entries}) > N_TOPICS // 2  # not one word heading every topic


@pytest.mark.parametrize("encoder", ["lda", "nmf"])
def test_a_saved_topic_model_embeds_and_predicts_as_the_fitted_one(snippets, tmp_path, encoder):
    from textcluster import Pipeline

    run = run_topic_model(snippets, tmp_path, encoder, "argmax")
    texts = list(run.dataset.texts)
    loaded = Pipeline.load(tmp_path)
    assert loaded.manifest_["stages"]["encoder"]["name"] == encoder
    np.testing.assert_array_equal(loaded.embed(texts), run.pipeline.embeddings_)
    assert (loaded.predict(texts) == run.pipeline.labels_).all()
    details = loaded.predict_details(texts[:50])
    assert details.score_name == "probability"
    np.testing.assert_allclose(details.scores, run.pipeline.embeddings_[:50].max(axis=1), rtol=1e-6)
    words = [entry["words"] for entry in read_json(tmp_path / "encoder_topics.json")]
    assert loaded.encoder_.topic_words() == words  # the vocabulary and the topics came back


STATE_CASES = {
    "lda-batch": {"name": "lda", "n_components": 3},
    "lda-online": {"name": "lda", "n_components": 3, "learning_method": "online", "doc_topic_prior": 0.1},
    "nmf-frobenius": {"name": "nmf", "n_components": 3},
    "nmf-kullback-leibler": {"name": "nmf", "n_components": 3, "beta_loss": "kullback-leibler"},
}
THEMES = ["rocket orbit launch space", "hockey team goal season", "bank money stock market"]


@pytest.mark.parametrize("case", sorted(STATE_CASES))
def test_state_round_trip_and_each_document_embedded_on_its_own(case, tmp_path):
    dataset = Dataset("t", texts=[f"{THEMES[i % 3]} note{i % 7} extra{i % 5}" for i in range(60)])
    fitted = encoders.build(STATE_CASES[case]).fit(dataset, TrainingContext(seed=3))
    mixtures = fitted.transform(dataset)
    files = write_state(tmp_path, "encoder", fitted.get_state())
    assert {path.suffix for path in files} == {".json", ".safetensors"}  # arrays as data, no pickle
    loaded = encoders.build(STATE_CASES[case]).set_state(read_state(tmp_path, "encoder"))
    # the same arrays and the same computation; float32 sums may differ in the last bit between two calls
    # (threaded BLAS on some CPUs: 6e-8 seen for nmf-kullback-leibler on an AMD EPYC)
    np.testing.assert_allclose(loaded.transform(dataset), mixtures, rtol=1e-6, atol=1e-7)
    assert loaded.topic_words(4) == fitted.topic_words(4)

    # a document's mixture does not depend on the batch it comes in (cache shards, single predictions)
    few = Dataset("few", texts=dataset.texts[5:9] + ["nothing known here"])
    alone = fitted.transform(few)
    np.testing.assert_allclose(alone[:4], mixtures[5:9], rtol=0, atol=1e-6)
    np.testing.assert_allclose(alone[4], 1 / 3, atol=1e-6)  # no known word: the uniform mixture


def test_the_seed_is_used_and_repeatable():
    dataset = Dataset("t", texts=[f"{THEMES[i % 3]} {THEMES[(i + 1) % 3].split()[i % 4]} w{i}" for i in range(60)])
    fit = lambda seed: encoders.build({"name": "lda", "n_components": 3}).fit(dataset, TrainingContext(seed=seed))
    np.testing.assert_array_equal(fit(1).transform(dataset), fit(1).transform(dataset))
    assert not np.allclose(fit(1).transform(dataset), fit(2).transform(dataset))
    assert encoders.get("lda").depends_on_seed and encoders.get("nmf").depends_on_seed


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["encoder=lda", "encoder.n_components=0"], "encoder.n_components=0 is not valid: it must be an integer >= 2"),
        (["encoder=nmf", "encoder.n_components=0"], "encoder.n_components=0 is not valid: it must be an integer >= 2"),
        (["encoder=nmf", "encoder.beta_loss=itakura"], "encoder.beta_loss='itakura' is not valid: it must be one of"),
        (["encoder=lda", "encoder.learning_method=fast"], "encoder.learning_method='fast' is not valid"),
        (
            ["encoder=lda", "encoder.doc_topic_prior=0"],
            "encoder.doc_topic_prior=0 is not valid: it must be a number > 0",
        ),
        (["encoder=lda", "+encoder.features.sublinear_tf=true"], "encoder.features.sublinear_tf is not a setting"),
        (["encoder=lda", "data=digits"], "encoder=lda handles text data, but data=digits gives image data"),
        (["encoder=nmf", "data=digits"], "encoder=nmf handles text data, but data=digits gives image data"),
    ],
)
def test_bad_settings_fail_in_one_line_before_data_loads(tmp_path, overrides, message):
    missing = tmp_path / "no-such-file.txt"  # loading it would fail: the check must come first
    data = [] if any(o.startswith("data=") for o in overrides) else ["data=lines", f"data.path={missing}"]
    cfg = compose_small(*data, *overrides, "reducer=none", "clusterer=argmax")
    with pytest.raises(UserError) as raised:
        run_experiment(cfg, tmp_path / "run")
    assert message in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "run" / "versions.json").exists()  # written only after the checks, before the data


def test_images_are_refused_by_the_encoder_itself():
    for key in ("lda", "nmf"):
        with pytest.raises(UserError, match=f"encoder={key} handles text data, but the data gives image data"):
            encoders.build({"name": key}).check_modality("image")


def test_too_many_topics_for_the_corpus_is_a_user_error():
    dataset = Dataset("tiny", texts=[f"{THEMES[i % 3]} n{i}" for i in range(6)])
    with pytest.raises(UserError, match=r"encoder\.n_components=20 is more topics than tiny can give"):
        encoders.build({"name": "nmf"}).fit(dataset, TrainingContext())
    with pytest.raises(UserError, match=r"encoder\.n_components=20 is more topics than the 6 documents"):
        encoders.build({"name": "lda"}).check_input(6)


def test_argmax_clusterer_labels_by_the_largest_value_and_predicts_natively():
    X = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1], [0.5, 0.5, 0.0]])
    fitted = clusterers.build({"name": "argmax"}, random_state=0).fit(X)
    assert fitted.labels_.tolist() == [0, 2, 1, 0]  # a tie goes to the lower index
    labels, scores = fitted.predict_scores(np.array([[0.0, 0.1, 0.9]]))
    assert labels.tolist() == [2] and scores.tolist() == [0.9]
    assert ArgmaxClusterer.predict_method == "native" and ArgmaxClusterer.score_name == "probability"
    unused = fitted.fit(np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0]])).labels_
    assert set(unused) == {0}  # a column that is no row's largest gives no cluster
    with pytest.raises(UserError, match="fitted on 3 columns but got an array of shape"):
        fitted.predict_scores(np.ones((2, 4)))
    with pytest.raises(UserError, match="has no parameter 'n_clusters'"):
        clusterers.build({"name": "argmax", "n_clusters": 3})


def test_only_topic_models_name_topics():
    assert encoders.build({"name": "raw"}).topic_words() is None  # the Encoder contract's default
