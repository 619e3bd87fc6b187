"""The estimate that decides the hybrid encoder's semantic half: FLOPs from the corpus and the model's shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textcluster.encoders import cost

MINILM = cost.DEFAULT_SHAPE


def test_minilm_costs_what_the_speed_benchmark_counts():
    # 21.2 MFLOP per token in the dense layers (6 x 2 x (4 x 384^2 + 2 x 384 x 1536)), plus attention
    assert cost.document_flops(1, MINILM) == pytest.approx(6 * 2 * (4 * 384**2 + 2 * 384 * 1536) + 6 * 4 * 384)
    # benchmarks/results/encoder-speed.md: 27.3 tokens per text on average, 587 MFLOP per text
    assert cost.document_flops(27.3, MINILM) / 1e6 == pytest.approx(587, rel=0.02)


def test_tokens_follow_the_words_and_stop_at_max_length():
    tokens = cost.token_counts([0, 10, 100, 10_000], max_length=256)
    assert tokens.tolist() == [2, 15, 132, 256]


def test_the_estimate_grows_with_documents_length_and_model_and_shrinks_with_cores():
    short, long = [20] * 1_000, [400] * 1_000
    base = cost.cpu_seconds_estimate(short, 256, MINILM, cores=2)
    assert cost.cpu_seconds_estimate(short * 10, 256, MINILM, cores=2) == pytest.approx(10 * base)
    assert cost.cpu_seconds_estimate(long, 256, MINILM, cores=2) > 8 * base  # 256 tokens against 28
    assert cost.cpu_seconds_estimate(long, 128, MINILM, cores=2) < cost.cpu_seconds_estimate(long, 256, MINILM, 2) / 2
    assert cost.cpu_seconds_estimate(short, 256, MINILM, cores=8) == pytest.approx(base / 4)
    mpnet = {"num_hidden_layers": 12, "hidden_size": 768, "intermediate_size": 3072}
    assert cost.cpu_seconds_estimate(short, 256, mpnet, cores=2) > 7 * base


def test_a_million_short_texts_exceed_twenty_minutes_on_two_cores_and_a_hundred_thousand_do_not():
    """The default budget's consequence on this project's 2-core machine (about 257 short texts/s measured)."""
    words = np.full(1_000_000, 18)
    assert cost.cpu_seconds_estimate(words, 256, MINILM, cores=2) > 20 * 60
    assert cost.cpu_seconds_estimate(words[:100_000], 256, MINILM, cores=2) < 20 * 60


def test_bfloat16_runs_at_its_own_measured_rate():
    """A million 18-word texts: about 60 minutes of float32 MiniLM on 2 cores (the 100,000-text cell of
    benchmarks/results/scale-default.md took 353 s), about 22 in bfloat16, still over the 20-minute budget."""
    words = np.full(1_000_000, 18)
    float32 = cost.cpu_seconds_estimate(words, 256, MINILM, cores=2, dtype="float32")
    bfloat16 = cost.cpu_seconds_estimate(words, 256, MINILM, cores=2, dtype="bfloat16")
    assert bfloat16 == pytest.approx(float32 * 75 / 200)
    assert 20 * 60 < bfloat16 < 30 * 60
    # a dtype without its own measured rate (float16 on a CPU) is estimated as float32
    assert cost.cpu_seconds_estimate(words, 256, MINILM, cores=2, dtype="float16") == float32


def test_the_shape_comes_from_the_model_folder(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"num_hidden_layers": 12, "hidden_size": 768}))
    assert cost.model_shape(tmp_path) == {"num_hidden_layers": 12, "hidden_size": 768, "intermediate_size": 1536}
    assert cost.model_shape(None) == MINILM and cost.model_shape(tmp_path / "missing") == MINILM
