"""A quiet console: no library chatter that reads like an error, our own warnings fixed, skips folded into one line.

Each test runs the real stage (faiss imported through our module, a Lightning fit, DBCV in many dimensions,
a state with a read-only array) and checks that the noise is gone, beside a control showing that the same
library, called plainly, does make that noise: a test that could not fail would prove nothing.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

from conftest import DATA_DIR
from textcluster import console, registry
from textcluster.evaluation import evaluate, log_skipped, skipped_lines
from textcluster.results import EvaluationInput

FAISS_NOISE = re.compile(r"faiss\.loader|Could not load library|ModuleNotFoundError|swigfaiss")


def _python(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (faiss logs its probe once per process, on its first import)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_faiss_imported_through_our_stages_logs_no_probe():
    setup = "import logging; logging.basicConfig(level=logging.INFO); import numpy as np; "
    plain = _python(setup + "import faiss")
    assert plain.returncode == 0, plain.stderr
    assert "faiss.loader" in plain.stderr  # the control: a plain import narrates its CPU-feature probe at INFO
    ours = _python(
        setup + "from textcluster.neighbours import ExactNeighbours; "
        "ExactNeighbours(np.eye(4, dtype=np.float32), 'euclidean'); "
        "from textcluster.clusterers.scalable import FaissKMeans; "
        "FaissKMeans(n_clusters=2).fit(np.random.default_rng(0).normal(size=(40, 3)))"
    )
    assert ours.returncode == 0, ours.stderr
    assert not FAISS_NOISE.search(ours.stderr), ours.stderr
    assert "please provide at least" not in ours.stderr  # faiss' C++ note on few points per centre


def test_a_user_level_for_a_quieted_logger_is_kept():
    logger = logging.getLogger("faiss.loader")
    before = logger.level
    try:
        logger.setLevel(logging.DEBUG)
        console._loggers_set = False  # as in a fresh process where the user set the level first
        console.install()
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(before)
        console._loggers_set = False
        console.install()
    assert logging.getLogger("faiss.loader").getEffectiveLevel() >= logging.WARNING


class _Validated(Exception):
    """Stops UMAP.fit right after it checked its parameters (where it warns), before any numba compilation."""


def test_umap_reducer_asks_for_the_one_thread_a_seeded_umap_uses(monkeypatch):
    umap = pytest.importorskip("umap")
    check = umap.UMAP._validate_parameters

    def check_then_stop(self):
        check(self)
        raise _Validated

    monkeypatch.setattr(umap.UMAP, "_validate_parameters", check_then_stop)
    X = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    model = registry.reducers.build({"name": "umap"}, random_state=0)._umap()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fitted in (model, umap.UMAP(random_state=0)):  # ours, then the control: UMAP's default n_jobs=-1
            with pytest.raises(_Validated):
                fitted.fit(X)
    messages = [str(warning.message) for warning in caught if "n_jobs" in str(warning.message)]
    assert len(messages) == 1 and "overridden to 1 by setting random_state" in messages[0]  # the control's
    assert model.n_jobs == 1 and model.random_state == 0  # still seeded


def test_state_hands_torch_no_read_only_array(tmp_path, monkeypatch):
    import torch

    from textcluster.state import read_state, write_state

    shared = torch.from_numpy
    seen = []

    def from_numpy(array):
        seen.append(array.flags.writeable)  # torch warns once per process, so the warning itself is no witness
        return shared(array)

    monkeypatch.setattr(torch, "from_numpy", from_numpy)
    frozen = np.arange(6, dtype=np.float32).reshape(2, 3)
    frozen.flags.writeable = False  # as a memory-mapped embedding file, or a cached array a stage kept
    write_state(tmp_path, "stage", {"frozen": frozen, "weights": torch.ones(2)})
    assert seen == [True]
    assert not frozen.flags.writeable  # the caller's array is left as it was
    back = read_state(tmp_path, "stage")
    assert np.array_equal(back["frozen"], frozen) and back["weights"].tolist() == [1.0, 1.0]


def _tight_clusters(dim: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(center, 0.01, (60, dim)) for center in (0.0, 0.05, 0.1)]) * scale
    return X, np.repeat([0, 1, 2], 60)


def test_dbcv_in_many_dimensions_neither_overflows_nor_depends_on_the_scale():
    from hdbscan.validity import validity_index

    from textcluster.evaluation.metrics import density_based_validity

    X, labels = _tight_clusters(256, 0.1)  # distances about 0.01-0.1: (1/d)**256 overflows float64
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        theirs = validity_index(X, labels)
    assert any("overflow" in str(warning.message) for warning in caught)  # the control: hdbscan's own numerics
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any numpy RuntimeWarning fails the test
        ours = [density_based_validity(X * factor, labels) for factor in (1.0, 1e3, 1e6)]
    assert np.isfinite(ours).all() and ours == pytest.approx([ours[0]] * 3)  # DBCV has no unit
    assert theirs != pytest.approx(ours[0], abs=1e-4)  # hdbscan's value lost its meaning; ours did not
    doubled = np.vstack([X, X[:30]])  # exact duplicates: zero distances, left out of the core distances
    run = EvaluationInput(
        space=doubled,
        labels=np.concatenate([labels, labels[:30]]),
        true_labels=None,
        embeddings=doubled,
        modality="text",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scored = registry.evaluators.build({"name": "dbcv"}, random_state=0).evaluate(run)
    assert np.isfinite(scored["dbcv"]) and -1 <= scored["dbcv"] <= 1


def test_dbcv_agrees_with_hdbscan_where_hdbscan_does_not_overflow():
    from hdbscan.validity import validity_index

    from textcluster.evaluation.metrics import density_based_validity

    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(center, 1.0, (50, 5)) for center in (0.0, 3.0, 6.0)])
    labels = np.repeat([0, 1, 2], 50)
    labels[::13] = -1  # noise points weigh in the average as zeros, as in hdbscan
    assert density_based_validity(X, labels) == pytest.approx(validity_index(X, labels), abs=1e-9)


@pytest.fixture(scope="module")
def unlabeled_newsgroups():
    """300 posts of 20 Newsgroups-test as TF-IDF rows, their labels dropped (a corpus without labels)."""
    path = DATA_DIR / "20newsgroups" / "test.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    import pandas as pd
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = pd.read_csv(path, nrows=300)["text"].fillna("").tolist()
    tfidf = TfidfVectorizer(max_features=2000).fit_transform(texts)
    return texts, TruncatedSVD(64, random_state=0).fit_transform(tfidf)


def test_evaluators_on_an_unlabeled_corpus_fold_their_skips_into_one_quiet_line(unlabeled_newsgroups, caplog):
    from sklearn.cluster import KMeans

    texts, X = unlabeled_newsgroups
    labels = KMeans(4, n_init=1, random_state=0).fit_predict(X)
    keys = ["acc", "nmi", "ari", "ami", "homogeneity", "completeness", "v_measure", "purity"]
    keys += ["silhouette", "calinski_harabasz", "davies_bouldin", "dbcv", "cluster_counts"]
    objects = {key: registry.evaluators.build({"name": key}, random_state=0) for key in keys}
    run = EvaluationInput(space=X, labels=labels, true_labels=None, embeddings=X, modality="text", texts=texts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # DBCV on 64 dimensions: no overflow warning from its numerics
        metrics, skipped = evaluate(objects, run)
    assert {"silhouette", "dbcv", "n_clusters"} <= set(metrics) and np.isfinite(metrics["dbcv"])
    assert list(skipped) == keys[:8]
    with caplog.at_level(logging.INFO):
        log_skipped(skipped)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "skipped 8 metrics that need true labels: acc, nmi, ari, ami, homogeneity, completeness, v_measure, "
        "purity (the data has no labels; set data.label_column / data.labels_path to score them)"
    ]
    assert all(record.levelno == logging.INFO for record in caplog.records)  # expected, not a fault


def test_other_skip_reasons_stay_visible_one_line_each():
    lines = skipped_lines(
        {
            "npmi": "topic metrics need text data",
            "topic_diversity": "topic metrics need text data",
            "silhouette": "needs 2 to n-1 clusters, found 1 among 10 clustered points",
        }
    )
    assert lines == [
        "skipped 2 metrics (npmi, topic_diversity): topic metrics need text data",
        "skipped silhouette: needs 2 to n-1 clusters, found 1 among 10 clustered points",
    ]
    assert skipped_lines({}) == []


class _Tiny:
    """A LightningModule of one linear layer, trained one epoch on 64 rows (7 batches < log_every_n_steps)."""

    @staticmethod
    def make():
        import pytorch_lightning as pl
        import torch

        class Tiny(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.layer = torch.nn.Linear(4, 4)

            def training_step(self, batch, batch_idx):
                (x,) = batch
                loss = ((self.layer(x) - x) ** 2).mean()
                self.log("train_loss", loss, on_epoch=True)
                return loss

            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.01)

        return Tiny()


LIGHTNING_NOISE = re.compile(
    r"Tip: |TPU available|HPU available|GPU available: False|LeafSpec|smaller than the logging interval"
    r"|stopped: `max_epochs"
)


def test_lightning_training_shows_no_tips_inventory_or_known_deprecations(tmp_path, caplog, capsys):
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from textcluster.contracts import TrainingContext
    from textcluster.training.lightning import make_trainer

    loader = DataLoader(TensorDataset(torch.randn(64, 4)), batch_size=10)
    context = TrainingContext(
        trainer={"max_epochs": 1, "accelerator": "cpu", "enable_progress_bar": False, "log_every_n_steps": 10},
        log_dir=tmp_path,
    )
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO):
        warnings.resetwarnings()
        warnings.simplefilter("always")  # everything shows, except what textcluster.console filters
        make_trainer(context).fit(_Tiny.make(), loader)
    shown = [str(warning.message) for warning in caught] + [record.getMessage() for record in caplog.records]
    shown += capsys.readouterr().err.splitlines()
    assert not [line for line in shown if LIGHTNING_NOISE.search(line)], shown
    assert (tmp_path / "logs").is_dir()  # the CSV logger still ran (the log-interval note was about it)


def test_model2vec_progress_bar_is_off_inside_the_block_only(capsys):
    inference = pytest.importorskip("model2vec.distill.inference")
    original = inference.tqdm
    with console.no_progress_bars("model2vec.distill.inference"):
        bar = inference.tqdm(total=3, desc="Encoding tokens")
        bar.update(3)
        bar.close()
    assert "Encoding tokens" not in capsys.readouterr().err
    assert inference.tqdm is original
    console.install()
    for name in ("model2vec.distill.inference", "skeletoken.base", "model2vec.persistence.persistence"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
