"""Refiners (dec, idec, contrastive) and the gmm clusterer: the losses move toward their targets, runs repeat."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from conftest import compose_small, read_json, read_status, run_textcluster
from textcluster import registry
from textcluster.contracts import RefinementView, TrainingContext
from textcluster.data import load_dataset
from textcluster.errors import UserError
from textcluster.experiment import run_experiment
from textcluster.refiners.base import initial_centers, unit_spread_scale
from textcluster.training.clustering import (
    ClusteringModule,
    kl_divergence,
    nt_xent,
    student_t_assignment,
    target_distribution,
)

CONTEXT = TrainingContext(trainer={"max_epochs": 1, "accelerator": "cpu", "enable_progress_bar": False}, seed=0)
SMALL_DENSE = dict(
    name="dense",
    hidden_dims=[64, 64, 128],
    embedding_dim=10,
    input_dropout=0.2,
    augment={"enabled": True, "max_shift": 0.1, "max_rotation": 10.0},
)


@pytest.fixture(scope="module")
def digits_and_encoder():
    """A dense autoencoder trained for a few epochs on 400 digits, and k-means labels on its codes."""
    torch.manual_seed(0)
    dataset = load_dataset({"name": "digits", "limit": 400}, seed=0)
    encoder = registry.encoders.build(SMALL_DENSE)
    context = TrainingContext(trainer={**CONTEXT.trainer, "max_epochs": 5}, seed=0)
    embeddings = encoder.fit(dataset, context).transform(dataset)
    labels = KMeans(10, n_init=4, random_state=0).fit(embeddings).labels_
    return dataset, encoder, embeddings, labels


def settings(**overrides) -> dict:
    base = dict(
        lr=1e-4,
        update_interval=10,
        tol=0.001,
        alpha=1.0,
        augment=False,
        clustering_weight=1.0,
        reconstruction_weight=0.0,
        contrastive_weight=0.0,
        temperature=0.5,
        target="full",
        center_lr_scale=1.0,
    )
    return {**base, **overrides}


def module_for(encoder, dataset, labels, **overrides) -> ClusteringModule:
    """The refiner's own set-up: raw codes, rescaled to unit spread, centres from the clusterer's labels."""
    view = encoder.refinement_view(dataset)
    view.normalize = False
    codes = view.encode_all().numpy()
    view.scale = unit_spread_scale(codes, labels)
    centers, _ = initial_centers(codes * view.scale, labels)
    return ClusteringModule(view, centers, settings(**overrides))


def fixed_batch_losses(module: ClusteringModule, rows: np.ndarray, steps: int, loss_of, lr: float | None = None):
    """Optimizer steps on one fixed batch (the module's Adam, or plain gradient descent at ``lr``); the losses."""
    optimizer = module.configure_optimizers() if lr is None else torch.optim.SGD(module.parameters(), lr=lr)
    inputs = module.view.inputs(rows)
    losses = []
    module.network.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_of(module, inputs)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


# ------------------------------------------------------------------------------------- the maths


def test_student_t_and_target_distribution_by_hand():
    codes = torch.tensor([[0.0, 0.0], [3.0, 0.0]])
    centers = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    q = student_t_assignment(codes, centers, alpha=1.0)
    # row 0: kernels 1 and 1/2 -> q = (2/3, 1/3); row 1: kernels 1/10 and 1/5 -> q = (1/3, 2/3)
    torch.testing.assert_close(q, torch.tensor([[2 / 3, 1 / 3], [1 / 3, 2 / 3]]))
    p = target_distribution(q)
    # f = (1, 1): p_ij ~ q_ij^2 -> row 0: (4/9, 1/9) / (5/9)
    torch.testing.assert_close(p, torch.tensor([[0.8, 0.2], [0.2, 0.8]]))
    assert float(kl_divergence(p, p)) == pytest.approx(0.0, abs=1e-7)
    assert float(kl_divergence(p, q)) > 0


def test_nt_xent_prefers_matching_views():
    torch.manual_seed(0)
    views = torch.randn(8, 4)
    matched = nt_xent(views, views + 0.01 * torch.randn(8, 4), temperature=0.5)
    shuffled = nt_xent(views, views[torch.randperm(8)], temperature=0.5)
    assert float(matched) < float(shuffled)


# ------------------------------------------------------------------------------------- the refiners' steps


def test_dec_steps_move_the_assignment_toward_the_target(digits_and_encoder):
    dataset, encoder, _, labels = digits_and_encoder
    module = module_for(encoder, dataset, labels)
    view = module.view
    rows = np.arange(128)
    with torch.no_grad():
        p = target_distribution(module.assign(view.encode(*view.inputs(rows))))  # fixed target

    def loss_of(module, inputs):
        return kl_divergence(p, module.assign(view.encode(*inputs)))

    # Plain gradient descent with a small step: KL(p || q) must fall at every step (a wrong sign or a
    # target that moved with q would not). Large steps make DEC unstable, hence its small learning rate.
    losses = fixed_batch_losses(module, rows, steps=12, loss_of=loss_of, lr=1e-3)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.985 * losses[0], losses


def test_idec_and_contrastive_losses_decrease_on_a_fixed_batch(digits_and_encoder):
    dataset, encoder, _, labels = digits_and_encoder
    for extra in (dict(reconstruction_weight=1.0, clustering_weight=0.1), dict(contrastive_weight=1.0)):
        module = module_for(encoder, dataset, labels, **extra)
        view = module.view
        rows = np.arange(64)

        def loss_of(module, inputs, extra=extra, view=view):
            if extra.get("contrastive_weight"):
                torch.manual_seed(1)  # the same two augmented views at every step: a fixed batch
                first, second = view.augment(*inputs), view.augment(*inputs)
                return nt_xent(module.projection(view.encode(*first)), module.projection(view.encode(*second)), 0.5)
            return view.reconstruction_loss(*inputs)

        losses = fixed_batch_losses(module, rows, steps=8, loss_of=loss_of)
        assert losses[-1] < losses[0], (extra, losses)


def test_contrastive_views_differ_for_images(digits_and_encoder):
    dataset, encoder, _, _ = digits_and_encoder
    view = encoder.refinement_view(dataset)
    view.network.train()
    (x,) = view.inputs(np.arange(16))
    (first,), (second,) = view.augment(x), view.augment(x)
    assert not torch.equal(first, second)  # random shifts/rotations and masking noise
    view.network.eval()
    assert torch.equal(view.augment(x)[0], x)  # no augmentation outside training


# ------------------------------------------------------------------------------------- refine() end to end


def test_dec_refine_sharpens_and_predict_agrees(digits_and_encoder):
    import copy

    dataset, encoder, embeddings, labels = digits_and_encoder
    encoder = copy.deepcopy(encoder)
    refiner = registry.refiners.build(
        {"name": "dec", "max_epochs": 15, "update_interval": 5, "lr": 1e-4, "rescale": True}
    )  # this briefly trained encoder's codes are small
    start = module_for(encoder, dataset, labels)
    q_before = start.assign(start.view.encode_all()).detach()

    result = refiner.refine(encoder, dataset, embeddings, labels, CONTEXT)

    assert result.embeddings.shape == (400, 10) and set(result.labels) <= set(labels)
    q_after = torch.from_numpy(refiner.predict_proba(result.embeddings))
    # DEC's point: the soft assignments become more confident
    assert float(q_after.max(dim=1).values.mean()) > float(q_before.max(dim=1).values.mean())
    np.testing.assert_array_equal(refiner.predict_scores(refiner.transform(encoder, dataset))[0], result.labels)


def test_refiner_run_is_repeatable_and_written(tmp_path):
    overrides = ["refiner=dec", "refiner.max_epochs=3", "refiner.update_interval=4", "trainer.max_epochs=2"]
    first = run_experiment(compose_small(*overrides, limit=300), tmp_path / "a").pipeline
    second = run_experiment(compose_small(*overrides, limit=300), tmp_path / "b").pipeline
    assert read_status(tmp_path / "a") == "completed"
    metrics = read_json(tmp_path / "a" / "metrics.json")
    assert metrics["refine_s"] > 0 and 0 <= metrics["acc"] <= 1
    assert first.embeddings_.shape == (300, 10)
    assert not np.allclose(np.linalg.norm(first.embeddings_, axis=1), 1.0)  # the refiner clusters raw codes
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_allclose(first.embeddings_, second.embeddings_, atol=1e-6)


def test_contrastive_refiner_on_text_tokens(data_file, tmp_path):
    texts = data_file("searchsnippets", "SearchSnippets.txt")
    labels = data_file("searchsnippets", "SearchSnippets_gnd.txt")
    cfg = compose_small(
        "data=lines",
        f"data.path={texts}",
        f"data.labels_path={labels}",
        "encoder=cnn",
        "clusterer.n_clusters=8",
        "encoder.embedding_dim=8",
        "encoder.token_dim=16",
        "encoder.tokenizer.vocab_size=600",
        "encoder.features.max_features=300",
        "encoder.filters=16",
        "refiner=contrastive",
        "refiner.max_epochs=1",
        "refiner.lr=0.001",
        limit=200,
    )
    pipeline = run_experiment(cfg, tmp_path).pipeline
    assert pipeline.embeddings_.shape == (200, 8) and len(set(pipeline.labels_)) > 1
    assert read_json(tmp_path / "metrics.json")["refine_s"] > 0


def test_contrastive_fine_tunes_the_pretrained_transformer(data_file):
    texts = data_file("searchsnippets", "SearchSnippets.txt")
    labels_path = data_file("searchsnippets", "SearchSnippets_gnd.txt")
    dataset = load_dataset({"name": "lines", "path": str(texts), "labels_path": str(labels_path), "limit": 48}, seed=0)
    encoder = registry.encoders.build({"name": "pretrained", "batch_size": 16})
    embeddings = encoder.fit(dataset).transform(dataset)
    labels = KMeans(4, n_init=2, random_state=0).fit(embeddings).labels_
    weight = encoder.model_.embeddings.word_embeddings.weight
    before = weight.detach().clone()
    refiner = registry.refiners.build({"name": "contrastive", "max_epochs": 1, "batch_size": 16, "lr": 1e-4})
    result = refiner.refine(encoder, dataset, embeddings, labels, CONTEXT)
    assert result.embeddings.shape == (48, 384)
    assert not torch.equal(encoder.model_.embeddings.word_embeddings.weight.detach(), before)  # fine-tuned
    assert not encoder.model_.training  # back in eval mode for embedding


def test_refiner_needs_a_trainable_encoder(tmp_path):
    completed = run_textcluster("encoder=raw", "refiner=dec", "data.limit=200", run_dir=tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines()[-1] == (
        "textcluster: error: refiner=dec needs an encoder with a trainable network, and encoder=raw has none; use "
        "refiner=none, or encoder=dense, cnn, rnn, transformer or pretrained"
    )
    # refused by the config check, before the run started: no status, nothing that could pass for a result
    assert not (tmp_path / "status.json").exists()
    assert not (tmp_path / "versions.json").exists()


def test_contrastive_refuses_an_encoder_without_augmentation(digits_and_encoder):
    import copy

    dataset, encoder, embeddings, labels = digits_and_encoder
    plain = copy.deepcopy(encoder)
    plain.network_.augment = torch.nn.Identity()
    plain.network_.input_dropout = torch.nn.Identity()
    refiner = registry.refiners.build({"name": "contrastive", "max_epochs": 1})
    with pytest.raises(UserError, match="refiner=contrastive needs two different views"):
        refiner.refine(plain, dataset, embeddings, labels, CONTEXT)


def test_refiner_settings_are_checked_before_building():
    with pytest.raises(UserError, match=r"refiner\.update_interval=0 is not valid: it must be an integer >= 1"):
        registry.refiners.build({"name": "dec", "update_interval": 0})
    with pytest.raises(UserError, match="refiner 'dec' has no parameter 'target'"):
        registry.refiners.build({"name": "dec", "target": "batch"})


# ------------------------------------------------------------------------------------- gmm


def test_gmm_clusterer_predicts_its_own_labels(digits_and_encoder):
    _, _, embeddings, _ = digits_and_encoder
    gmm = registry.clusterers.build({"name": "gmm", "n_clusters": 10}, random_state=0).fit(embeddings)
    np.testing.assert_array_equal(gmm.predict(embeddings), gmm.labels_)
    proba = gmm.predict_proba(embeddings)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)  # float32 codes
    assert len(set(gmm.labels_)) == 10
    with pytest.raises(UserError, match="larger than the number of samples"):
        registry.clusterers.build({"name": "gmm", "n_clusters": 500}).check_input(len(embeddings))


def test_a_refined_run_predicts_its_own_assignments(tmp_path):
    """Predict goes through the refiner (refined codes, refined centres) and reproduces the fitted labels."""
    from textcluster import Pipeline

    cfg = compose_small(
        "refiner=dec", "refiner.max_epochs=3", "refiner.update_interval=4", "trainer.max_epochs=2", limit=300
    )
    run = run_experiment(cfg, tmp_path)
    loaded = Pipeline.load(tmp_path)
    np.testing.assert_array_equal(loaded.predict(run.dataset), run.pipeline.labels_)
    np.testing.assert_array_equal(loaded.embed(run.dataset), run.pipeline.embeddings_)


def test_variable_length_views_train_on_length_bucketed_batches():
    from textcluster.training.clustering import row_loader

    class Tokens(RefinementView):  # token rows of 3 to 60 ids: the padded width is what a batch costs
        def __init__(self, lengths):
            super().__init__(torch.nn.Linear(1, 1), len(lengths), normalize=False)
            self.lengths = self.token_counts = np.asarray(lengths)

        def inputs(self, rows):
            return (torch.zeros(len(rows), int(self.token_counts[rows].max())),)

    lengths = np.random.default_rng(0).integers(3, 61, size=1000)
    view = Tokens(lengths)
    loader = row_loader(1000, view, 50, shuffle=True, seed=0)
    epochs = [[batch[0].tolist() for batch in loader] for _ in range(2)]  # Lightning iterates one loader per epoch
    for batches in epochs:
        assert sorted(row for batch in batches for row in batch) == list(range(1000))  # every row once
    assert epochs[0] != epochs[1]  # a new draw each epoch
    bucketed = np.mean([max(lengths[b]) for b in epochs[0]])
    view.lengths = None  # fixed-width inputs: plain shuffled batches
    plain = np.mean([max(lengths[batch[0].numpy()]) for batch in row_loader(1000, view, 50, shuffle=True, seed=0)])
    assert bucketed < 0.6 * plain, (bucketed, plain)
