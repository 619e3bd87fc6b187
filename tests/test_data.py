"""Dataset loaders on the real data sets and on small files written here; subsampling and cleaning."""

from __future__ import annotations

import gzip
import logging
import struct
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from textcluster import registry
from textcluster.data import load_dataset
from textcluster.data.loaders import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx
from textcluster.dataset import IMAGE, TEXT, Dataset
from textcluster.errors import UserError

# Class sizes of the MNIST test split (t10k), as published with the data set.
MNIST_TEST_COUNTS = {0: 980, 1: 1135, 2: 1032, 3: 1010, 4: 982, 5: 892, 6: 958, 7: 1028, 8: 974, 9: 1009}


# ------------------------------------------------------------------------------------- images


def test_digits():
    dataset = load_dataset({"name": "digits"})
    assert dataset.name == "digits" and dataset.modality == IMAGE
    assert len(dataset) == 1797 and dataset.images.shape == (1797, 8, 8)
    assert dataset.images.dtype == np.float32
    assert dataset.images.min() == 0.0 and dataset.images.max() == 1.0  # 0..16 scaled by 16
    assert dataset.n_classes == 10 and set(dataset.labels) == set(range(10))
    assert np.array_equal(dataset.ids, np.arange(1797))


@pytest.fixture(scope="module")
def mnist_dir(data_file):
    folder = data_file("mnist")
    data_file("mnist", "t10k-images-idx3-ubyte.gz")
    data_file("mnist", "t10k-labels-idx1-ubyte.gz")
    return folder


def test_mnist_from_the_shared_idx_files(mnist_dir):
    dataset = load_dataset({"name": "mnist", "path": str(mnist_dir), "split": "test"})
    assert dataset.modality == IMAGE
    assert dataset.images.shape == (10000, 28, 28) and dataset.images.dtype == np.float32
    assert dataset.images.min() == 0.0 and dataset.images.max() == 1.0
    assert Counter(dataset.labels.tolist()) == MNIST_TEST_COUNTS
    assert dataset.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the well-known first test digits
    # a digit is mostly background: about a fifth of the pixels are ink
    assert 0.1 < (dataset.images > 0.5).mean() < 0.3


def test_mnist_missing_split_files_name_them(mnist_dir):
    with pytest.raises(UserError, match=r"lacks train-images-idx3-ubyte\[\.gz\]"):
        load_dataset({"name": "mnist", "path": str(mnist_dir), "split": "train"})


def test_mnist_bad_split_and_missing_folder(tmp_path):
    with pytest.raises(
        UserError, match="data.split='validation' is not valid: it must be one of 'test', 'train', 'all'"
    ):
        load_dataset({"name": "mnist", "path": str(tmp_path), "split": "validation"})
    with pytest.raises(UserError, match="does not exist; fix the path in data.path"):
        load_dataset({"name": "mnist", "path": str(tmp_path / "absent")})
    with pytest.raises(UserError, match="needs a path"):
        load_dataset({"name": "mnist"})


def _idx(magic: int, array: np.ndarray) -> bytes:
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def _write_mnist(folder, images: bytes, labels: bytes, compress: bool):
    folder.mkdir(parents=True, exist_ok=True)
    for stem, payload in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        if compress:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(payload))
        else:
            (folder / stem).write_bytes(payload)


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_mnist_reads_small_idx_files(tmp_path, compress):
    pixels = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2) * 20
    _write_mnist(tmp_path, _idx(IDX_IMAGES_MAGIC, pixels), _idx(IDX_LABELS_MAGIC, np.array([4, 0, 9])), compress)

    dataset = load_dataset({"name": "mnist", "path": str(tmp_path)})

    assert dataset.labels.tolist() == [4, 0, 9]
    np.testing.assert_allclose(dataset.images, pixels / 255.0, rtol=1e-6)


def test_malformed_idx_files(tmp_path):
    good = _idx(IDX_IMAGES_MAGIC, np.zeros((2, 3, 3)))
    cases = {
        "magic.gz": (gzip.compress(_idx(1234, np.zeros((2, 3, 3)))), r"magic number 1234, expected 2051"),
        "truncated.gz": (gzip.compress(good[:-4]), r"header says \(2, 3, 3\) = 18 values, found 14"),
        "short": (b"\x00\x00\x08", r"only 3 bytes"),
        "cut-stream.gz": (gzip.compress(good)[:-10], r"cannot read IDX file"),
    }
    for name, (payload, message) in cases.items():
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(UserError, match=message):
            read_idx(tmp_path / name, IDX_IMAGES_MAGIC)
    (tmp_path / "good").write_bytes(good)
    assert read_idx(tmp_path / "good", IDX_IMAGES_MAGIC).shape == (2, 3, 3)


def test_mnist_image_and_label_counts_must_agree(tmp_path):
    _write_mnist(tmp_path, _idx(IDX_IMAGES_MAGIC, np.zeros((3, 2, 2))), _idx(IDX_LABELS_MAGIC, np.zeros(2)), True)
    with pytest.raises(UserError, match="has 3 images but .* has 2 labels"):
        load_dataset({"name": "mnist", "path": str(tmp_path)})


# ------------------------------------------------------------------------------------- text files


@pytest.fixture(scope="module")
def newsgroups_test(data_file):
    return data_file("20newsgroups", "test.csv")


def test_csv_on_20newsgroups(newsgroups_test):
    full = load_dataset({"name": "csv", "path": str(newsgroups_test), "label_column": "label"})
    assert full.modality == TEXT and full.name == "test"
    assert len(full) == 7528 and full.n_classes == 20
    assert "alt.atheism" in set(full.labels) and "talk.religion.misc" in set(full.labels)
    assert all(isinstance(text, str) and text.strip() for text in full.texts)

    sample = load_dataset({"name": "csv", "path": str(newsgroups_test), "label_column": "label", "limit": 500}, seed=3)
    assert len(sample) == 500
    assert np.all(np.diff(sample.ids) > 0)  # a subset in file order
    assert [full.texts[i] for i in sample.ids] == sample.texts
    assert np.array_equal(full.labels[sample.ids], sample.labels)


def test_csv_wrong_column_lists_the_columns(newsgroups_test):
    with pytest.raises(UserError, match=r"no column 'nope' for text; columns found: text, label\."):
        load_dataset({"name": "csv", "path": str(newsgroups_test), "text_column": "nope"})
    with pytest.raises(UserError, match=r"no column 'topic' for label; columns found: text, label\."):
        load_dataset({"name": "csv", "path": str(newsgroups_test), "label_column": "topic"})


@pytest.fixture(scope="module")
def snippets(data_file):
    return data_file("searchsnippets", "SearchSnippets.txt"), data_file("searchsnippets", "SearchSnippets_gnd.txt")


def test_lines_on_searchsnippets(snippets):
    texts, labels = snippets
    dataset = load_dataset({"name": "lines", "path": str(texts), "labels_path": str(labels)})
    assert dataset.name == "SearchSnippets" and dataset.modality == TEXT
    assert len(dataset) == 12340 and len(dataset.labels) == 12340
    assert dataset.n_classes == 8 and sorted(set(dataset.labels.tolist())) == list(range(1, 9))
    assert np.issubdtype(dataset.labels.dtype, np.integer)  # "1".."8" parsed as numbers
    assert texts.read_bytes().startswith(b"\xef\xbb\xbf")  # the file does start with a byte-order mark...
    assert dataset.texts[0].startswith("turtlesoft")  # ...which the loader strips
    assert not any("\ufeff" in text for text in dataset.texts[:5])


def test_lines_label_count_mismatch(tmp_path):
    (tmp_path / "docs.txt").write_text("alpha beta\ngamma delta\nepsilon\n")
    (tmp_path / "labels.txt").write_text("1\n2\n")
    with pytest.raises(UserError, match="labels.txt has 2 labels but docs.txt has 3 texts"):
        load_dataset({"name": "lines", "path": str(tmp_path / "docs.txt"), "labels_path": str(tmp_path / "labels.txt")})


def test_lines_drops_empty_documents_with_their_labels(tmp_path, caplog):
    (tmp_path / "docs.txt").write_text("one fish\n\ntwo fish\n   \nred fish\nblue fish\n")
    (tmp_path / "labels.txt").write_text("a\nb\nc\nd\ne\nf\n\n")  # trailing blank lines are not labels
    with caplog.at_level(logging.WARNING, logger="textcluster"):
        dataset = load_dataset(
            {"name": "lines", "path": str(tmp_path / "docs.txt"), "labels_path": str(tmp_path / "labels.txt")}
        )
    assert dataset.texts == ["one fish", "two fish", "red fish", "blue fish"]
    assert dataset.labels.tolist() == ["a", "c", "e", "f"]
    assert dataset.ids.tolist() == [0, 2, 4, 5]  # ids still point at the original lines
    assert "docs: dropped 2 empty documents of 6" in caplog.text


def test_all_empty_documents_is_a_user_error(tmp_path):
    pd.DataFrame({"text": ["", "   ", "\t"], "label": [1, 2, 3]}).to_csv(tmp_path / "blank.csv", index=False)
    with pytest.raises(UserError, match="all 3 documents are empty"):
        load_dataset({"name": "csv", "path": str(tmp_path / "blank.csv")})


FRAME = pd.DataFrame(
    {
        "body": ["apples and pears", "stocks fell today", None, "pears and plums", "bonds rose"],
        "topic": ["fruit", "money", "fruit", "fruit", "money"],
        "key": [10, 11, 12, 13, 14],
    }
)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
def test_table_formats_through_the_csv_loader(tmp_path, suffix, caplog):
    path = tmp_path / f"table{suffix}"
    if suffix == ".csv":
        FRAME.to_csv(path, index=False)
    elif suffix == ".tsv":
        FRAME.to_csv(path, sep="\t", index=False)
    elif suffix == ".jsonl":
        FRAME.to_json(path, orient="records", lines=True)
    elif suffix == ".json":
        FRAME.to_json(path, orient="records")  # a JSON array, not lines
    else:
        FRAME.to_parquet(path)

    with caplog.at_level(logging.WARNING, logger="textcluster"):
        dataset = load_dataset(
            {"name": "csv", "path": str(path), "text_column": "body", "label_column": "topic", "id_column": "key"}
        )

    # the missing text (null in JSON / Parquet, blank in CSV) is an empty document, dropped with its row
    assert dataset.texts == ["apples and pears", "stocks fell today", "pears and plums", "bonds rose"]
    assert dataset.labels.tolist() == ["fruit", "money", "fruit", "money"]
    assert dataset.ids.tolist() == [10, 11, 13, 14]
    assert "dropped 1 empty documents of 5" in caplog.text


def test_table_loader_rejects_unknown_format_and_folders(tmp_path):
    (tmp_path / "table.xlsx").write_bytes(b"not really")
    with pytest.raises(UserError, match=r"unknown table format '\.xlsx'"):
        load_dataset({"name": "csv", "path": str(tmp_path / "table.xlsx")})
    with pytest.raises(UserError, match="is a folder"):
        load_dataset({"name": "csv", "path": str(tmp_path)})
    (tmp_path / "broken.jsonl").write_text('{"text": "a"}\n{"text": \n')
    with pytest.raises(
        UserError, match=r"^broken\.jsonl line 2: Expecting value at column 10; fix or remove that line"
    ):
        load_dataset({"name": "csv", "path": str(tmp_path / "broken.jsonl")})


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """Keep the Hugging Face cache for these little files out of ~/.cache."""
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    return tmp_path / "hf-cache"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_hf_loader_on_a_local_file(tmp_path, hf_cache, suffix):
    path = tmp_path / f"local{suffix}"
    if suffix == ".csv":
        FRAME.to_csv(path, index=False)
    else:
        FRAME.to_json(path, orient="records", lines=True)

    dataset = load_dataset({"name": "hf", "path": str(path), "text_column": "body", "label_column": "topic"})

    assert dataset.name == "local" and dataset.modality == TEXT
    assert dataset.texts == ["apples and pears", "stocks fell today", "pears and plums", "bonds rose"]
    assert dataset.labels.tolist() == ["fruit", "money", "fruit", "money"]
    assert hf_cache.is_dir()  # the cache went where we pointed it

    with pytest.raises(UserError, match=r"no column 'text' for text; columns found: body, topic, key"):
        load_dataset({"name": "hf", "path": str(path)})


def test_hf_loader_errors_are_one_line_user_errors(tmp_path, hf_cache):
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(UserError, match="cannot tell the format"):
        load_dataset({"name": "hf", "path": str(tmp_path / "notes.txt")})
    with pytest.raises(UserError, match="needs data.path"):
        load_dataset({"name": "hf"})


# ------------------------------------------------------------------------------------- subsampling


def test_limit_is_a_seeded_repeatable_subsample():
    full = load_dataset({"name": "digits"})
    first = load_dataset({"name": "digits", "limit": 300}, seed=1)
    again = load_dataset({"name": "digits", "limit": 300}, seed=1)
    other = load_dataset({"name": "digits", "limit": 300}, seed=2)

    assert len(first) == 300 and first.images.shape == (300, 8, 8)
    assert np.array_equal(first.ids, again.ids)
    assert not np.array_equal(first.ids, other.ids)
    assert len(set(first.ids)) == 300 and np.all(np.diff(first.ids) > 0)
    assert np.array_equal(first.images, full.images[first.ids])  # rows stay aligned with their labels
    assert np.array_equal(first.labels, full.labels[first.ids])


def test_limit_edge_cases():
    assert len(load_dataset({"name": "digits", "limit": 5000})) == 1797  # more than there is: everything
    with pytest.raises(UserError, match="data.limit=0 is not valid: it must be an integer >= 1 or null"):
        load_dataset({"name": "digits", "limit": 0})


def test_dataset_contract():
    with pytest.raises(UserError, match="2 labels for 3 items"):
        Dataset(name="x", texts=["a", "b", "c"], labels=[0, 1])
    with pytest.raises(ValueError, match="holds texts, images or vectors"):
        Dataset(name="x")


def test_unknown_loader_parameter_is_rejected():
    with pytest.raises(UserError, match=r"dataset 'lines' has no parameter 'text_column'; it takes: labels_path, path"):
        registry.datasets.build({"name": "lines", "path": "x", "text_column": "t"})


def test_newsgroups_offline_without_a_copy_is_one_line(tmp_path):
    """data=newsgroups downloads only when asked; with download=false and no copy it names the fixes."""
    from textcluster.data.loaders import NewsgroupsLoader

    with pytest.raises(UserError, match=r"data=newsgroups: 20 Newsgroups is not in .* run once with network") as error:
        NewsgroupsLoader(subset="test", data_home=str(tmp_path), download=False).load()
    assert "\n" not in str(error.value)


def test_newsgroups_reads_scikit_learns_cache(tmp_path, monkeypatch):
    """The loader turns fetch_20newsgroups' bunch into a labelled text Dataset named after the subset."""
    import sklearn.datasets
    from sklearn.utils import Bunch

    from textcluster.data.loaders import NewsgroupsLoader

    seen = {}

    def fake_fetch(**kwargs):
        seen.update(kwargs)
        return Bunch(
            data=["a post about space", "a post about hockey"],
            target=np.array([1, 0]),
            target_names=["hockey", "space"],
        )

    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", fake_fetch)
    dataset = NewsgroupsLoader(subset="train", data_home=str(tmp_path)).load()
    assert dataset.name == "20newsgroups-train" and dataset.labels.tolist() == ["space", "hockey"]
    assert seen == {
        "data_home": str(tmp_path),
        "subset": "train",
        "remove": ("headers", "footers", "quotes"),
        "download_if_missing": True,
    }
