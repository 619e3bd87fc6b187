"""The stage contracts: what every dataset loader, encoder, reducer, clusterer, refiner, noise policy,
topic model and evaluator is, in one place.

Each plugin is a :class:`Plugin`: it declares its parameters (``parameters``,
see :mod:`textcluster.params`), its constructor stores each under its own name
(scikit-learn's convention, so ``get_params`` and ``clone`` work), and its
fitted attributes end in ``_``. ``get_state``/``set_state`` turn the fitted
attributes into data (numbers, strings, arrays; see :mod:`textcluster.state`)
and back, which is how a run's model is saved without a pickle.
"""

from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from textcluster.dataset import IMAGE, TEXT, VECTORS, Dataset
from textcluster.errors import UserError
from textcluster.params import Block, Constraint
from textcluster.results import EvaluationInput, NoiseReport, Refinement

if TYPE_CHECKING:
    import torch
    from torch import nn


class Plugin:
    """Base of every stage plugin.

    ``parameters`` maps each constructor parameter to the values it accepts;
    the builder checks a config against it before any data loads, and
    :meth:`check_params` gives a plugin built in Python the same checks.
    A plugin that declares nothing is checked against its constructor's
    parameter names only.
    """

    registry_key: ClassVar[str] = ""  # set by ``Registry.register``
    parameters: ClassVar[Mapping[str, Constraint] | None] = None
    group: ClassVar[str] = "plugin"  # the config group its settings live in (messages name ``<group>.<setting>``)

    @classmethod
    def key(cls) -> str:
        return cls.registry_key or cls.__name__

    @classmethod
    def config_path(cls) -> str:
        return cls.group

    @classmethod
    def parameter_names(cls) -> list[str] | None:
        """The declared parameters, else the constructor's; None when the constructor takes any keyword."""
        if cls.parameters is not None:
            return list(cls.parameters)
        return constructor_parameters(cls)

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.parameter_names() or ()}

    def clone(self, **changes: Any) -> Plugin:
        """A new, unfitted plugin with the same parameters (``changes`` replace some)."""
        return type(self)(**{**copy.deepcopy(self.get_params()), **changes})

    def check_params(self) -> None:
        """Raise a one-line UserError when a parameter value is not one the plugin declares."""
        if self.parameters is not None:
            problems = Block(self.parameters).problems(self.get_params(), self.config_path())
            if problems:
                raise UserError("; ".join(problems))

    def check_input(self, n_samples: int) -> None:
        """Called before any stage of a fit runs, with the number of items: refuse what cannot work."""

    def get_state(self) -> dict[str, Any]:
        """The fitted state as data: by default every public attribute ending in ``_``."""
        return {name: value for name, value in vars(self).items() if name.endswith("_") and not name.startswith("_")}

    def set_state(self, state: Mapping[str, Any]) -> Plugin:
        """Restore what :meth:`get_state` gave (on a plugin built with the same parameters)."""
        for name, value in state.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        """The class and the parameters that differ from the constructor's defaults (as scikit-learn shows them)."""
        defaults = default_params(type(self))
        params = ", ".join(
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if name not in defaults or not _same(defaults[name], value)
        )
        return f"{type(self).__name__}({params})"


def default_params(cls: type[Plugin]) -> dict[str, Any]:
    """What ``cls()`` holds (a block such as ``features`` whole, as the constructor completes it); the
    signature's defaults for a constructor that needs an argument."""
    try:
        return cls().get_params()
    except TypeError:
        return constructor_defaults(cls)


def constructor_defaults(cls: type) -> dict[str, Any]:
    """The constructor's parameters that have a default, with it; a constructor that passes ``**kwargs`` on to
    its base class adds the base's defaults (the walk of :func:`constructor_parameters`)."""
    defaults: dict[str, Any] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is object:
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        for parameter in parameters:
            if parameter.default is not inspect.Parameter.empty:
                defaults.setdefault(parameter.name, parameter.default)
        if not any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
            break
    return defaults


def _same(default: Any, value: Any) -> bool:
    try:
        return bool(default == value) or (default is None and value in ({}, []))
    except (TypeError, ValueError):  # an array compared element-wise
        return False


def constructor_parameters(cls: type) -> list[str] | None:
    """Constructor parameter names, or None when any name is accepted.

    A constructor that passes ``**kwargs`` on to its base class accepts the
    base's parameters too, so the walk goes up the MRO until a constructor
    without ``**kwargs``; reaching ``object`` that way means anything goes.
    """
    if cls.__init__ is object.__init__:
        return []
    names: list[str] = []
    for klass in cls.__mro__:
        if klass is object:
            return None
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        takes_kwargs = False
        for name, parameter in inspect.signature(init).parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                takes_kwargs = True
            elif name != "self" and parameter.kind is not inspect.Parameter.VAR_POSITIONAL and name not in names:
                names.append(name)
        if not takes_kwargs:
            return names
    return None


# ------------------------------------------------------------------------------------------ data


class DatasetLoader(Plugin, ABC):
    """``data=<key>``: turns its settings into a :class:`Dataset`. ``modality`` when it always gives one kind."""

    group = "data"

    modality: ClassVar[str | None] = None

    @abstractmethod
    def load(self) -> Dataset: ...


# ------------------------------------------------------------------------------------------ encoders


@dataclass
class TrainingContext:
    """What every trainable stage gets from the run: Lightning's settings, the seed, where Lightning logs."""

    trainer: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 20, "accelerator": "auto"})
    seed: int = 0
    log_dir: Path | None = None  # Lightning's CSV logs; None: no logs


class RefinementView:
    """A trained encoder as a refiner needs it: rows -> input tensors -> differentiable codes.

    ``network`` holds every trainable parameter. ``inputs(rows)`` gives the
    network's input tensors for those dataset rows (on the CPU; the refiner
    moves them). ``encode(*inputs)`` is differentiable and ends where the
    encoder's ``transform`` ends (L2-normalised when the encoder normalises),
    so the clusterer's centres live in the same space. ``augment(*inputs)``
    gives a random view (shifted image, masked tokens) and ``reconstruction_loss``
    the encoder's own pretraining loss (None when it has none). ``lengths``
    (token counts) is set by views of variable-length inputs, so refiner
    batches can be bucketed by length.
    """

    def __init__(self, network: nn.Module, n_rows: int, normalize: bool):
        self.network, self.n_rows, self.normalize = network, n_rows, normalize
        self.scale = 1.0  # a refiner may rescale the codes (a fixed factor after the network)
        self.lengths: np.ndarray | None = None

    def inputs(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def code(self, *inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode(self, *inputs: torch.Tensor) -> torch.Tensor:
        from torch.nn import functional

        codes = self.code(*inputs).float()
        codes = functional.normalize(codes, dim=1) if self.normalize else codes
        return codes * self.scale

    def augment(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return inputs

    def reconstruction_loss(self, *inputs: torch.Tensor) -> torch.Tensor | None:
        loss = getattr(self.network, "reconstruction_loss", None)
        return loss(*inputs) if callable(loss) else None

    def encode_all(self, batch_size: int = 512) -> torch.Tensor:
        """The codes of every row, in eval mode and without autograd, on the network's device."""
        import torch

        was_training = self.network.training
        self.network.eval()
        device = next(self.network.parameters()).device
        codes = []
        with torch.no_grad():
            for start in range(0, self.n_rows, batch_size):
                rows = np.arange(start, min(start + batch_size, self.n_rows))
                codes.append(self.encode(*(t.to(device) for t in self.inputs(rows))).float())
        self.network.train(was_training)
        return torch.cat(codes)


class Encoder(Plugin, ABC):
    """``encoder=<key>``: a :class:`Dataset` to an embedding matrix of shape (n, d).

    ``modalities``: what it reads. ``depends_on_seed``: False when the seed
    cannot change its output (a frozen pretrained model), so the embedding
    cache key leaves the seed out. ``copies_input``: its output is the input
    itself (precomputed vectors), which the cache and the run folder then
    leave out. ``refinable``: it has a network a refiner can train
    (:meth:`refinement_view`). ``uses_torch``: it draws from torch's global
    random generator (network weights, dropout), so the run seeds torch before
    it fits; False spares a run that never touches torch its import.
    """

    group = "encoder"

    modalities: ClassVar[tuple[str, ...]] = (TEXT, IMAGE)
    depends_on_seed: ClassVar[bool] = True
    copies_input: ClassVar[bool] = False  # True: its output is its input, so neither cached nor saved again
    refinable: ClassVar[bool] = False
    uses_torch: ClassVar[bool] = True

    def modality_problem(self, modality: str, source: str = "the data") -> str | None:
        """Why this encoder cannot read data of ``modality`` (``source``: how the data is named), else None."""
        if modality in self.modalities:
            return None
        hint = "; use encoder=dense or encoder=raw for images" if modality == IMAGE else ""
        handles = " and ".join(self.modalities)
        return f"encoder={self.key()} handles {handles} data, but {source} gives {modality} data{hint}"

    def check_modality(self, modality: str) -> None:
        problem = self.modality_problem(modality)
        if problem:
            raise UserError(problem)

    @abstractmethod
    def fit(self, dataset: Dataset, context: TrainingContext) -> Encoder: ...

    @abstractmethod
    def transform(self, dataset: Dataset) -> np.ndarray: ...

    def fit_transform(self, dataset: Dataset, context: TrainingContext) -> np.ndarray:
        return self.fit(dataset, context).transform(dataset)

    def refinement_problem(self, refiner_key: str) -> str | None:
        """Why a refiner that trains the encoder (``refiner=<refiner_key>``) cannot train this one, else None:
        the one message the pipeline's check and :meth:`refinement_view` give."""
        if self.refinable:
            return None
        return (
            f"refiner={refiner_key} needs an encoder with a trainable network, and encoder={self.key()} has none; "
            "use refiner=none, or encoder=dense, cnn, rnn, transformer or pretrained"
        )

    def refinement_view(self, dataset: Dataset) -> RefinementView:
        """The fitted network as a refiner trains it (encoders with ``refinable``)."""
        raise UserError(self.refinement_problem("<refiner>") or f"encoder={self.key()} gives no refinement view")

    def cache_identity(self) -> dict[str, Any] | None:
        """What decides the output besides the parameters (a pretrained model's weights), for cache keys."""
        return None

    def settled(self) -> dict[str, Any]:
        """What the fitted encoder chose for settings it settles itself (``auto``: a backend, a dtype, a half),
        as plain values for the model folder's record; empty when it settles nothing."""
        return {}

    def topic_words(self, n_words: int = 10) -> list[list[str]] | None:
        """The fitted encoder's own topics (a topic model's), each as its ``n_words`` top words, best first;
        None (the default) when its dimensions are not topics. The run folder keeps them (encoder_topics.json)."""
        return None


# ------------------------------------------------------------------------------------------ reducers, clusterers


class Reducer(Plugin, ABC):
    """``reducer=<key>``: dimensionality reduction between the embeddings and the clusterer."""

    group = "reducer"

    @abstractmethod
    def fit_transform(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def transform(self, X: np.ndarray) -> np.ndarray: ...


class Clusterer(Plugin, ABC):
    """``clusterer=<key>``: ``fit(X)`` sets ``labels_`` (-1 for noise); new points through ``predict_scores``.

    ``predict_method`` names the out-of-sample rule (``native`` for k-means
    and GMM, else the declared fallback); ``score_name`` what the second value
    of ``predict_scores`` is (``distance``, ``probability``) or None.
    A clusterer with an ``n_clusters`` parameter takes a number, ``auto``
    (the pipeline searches k) or ``labels`` (as many as the true classes);
    the pipeline fits a clone with the settled number.
    """

    group = "clusterer"

    predict_method: ClassVar[str] = "native"
    score_name: ClassVar[str | None] = None
    density_based: ClassVar[bool] = False  # clusters are dense regions (noise between): judged by DBCV, not silhouette
    # it builds its own neighbourhood graph of the points (spectral, leiden): the recipe gives it the encoder's
    # embeddings, not UMAP's, whose tight clumps fall apart into disconnected pieces of the graph
    builds_graph: ClassVar[bool] = False

    @abstractmethod
    def fit(self, X: np.ndarray) -> Clusterer: ...

    @abstractmethod
    def predict_scores(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]: ...

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.predict_scores(X)[0])

    def soft_membership(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(cluster ids, n x k membership probabilities)`` of the fitted points, where the clusterer has them."""
        return None

    def check_input(self, n_samples: int) -> None:
        n_clusters = getattr(self, "n_clusters", None)
        fit_size = getattr(self, "fit_size", None)  # a clusterer fitted on a sample of this many rows (k-means)
        if not isinstance(n_clusters, int):
            return
        if fit_size is not None and fit_size < n_samples and n_clusters > fit_size:
            raise UserError(
                f"clusterer.n_clusters={n_clusters} is larger than clusterer.fit_size ({fit_size}); "
                "lower clusterer.n_clusters or raise clusterer.fit_size"
            )
        if n_clusters > n_samples:
            raise UserError(
                f"clusterer.n_clusters={n_clusters} is larger than the number of samples ({n_samples}); "
                "lower clusterer.n_clusters or raise data.limit"
            )


# ------------------------------------------------------------------------------------------ refiners


class Refiner(Plugin, ABC):
    """``refiner=<key>``: sharpens the clusterer's assignment, starting from its labels.

    ``trains_encoder`` True (DEC, IDEC, contrastive): the encoder's network and
    the clusters train together, so the encoder needs a network
    (``refinable``) and its embeddings cannot come from the cache. False
    (iterative classification): the refiner reads the encoder's embeddings
    as they are and learns only its own model on top. After ``refine``,
    ``transform`` gives the codes of (new) items in the refined clusters'
    space and ``predict_scores`` assigns codes to those clusters.
    """

    group = "refiner"
    trains_encoder: ClassVar[bool] = True
    uses_torch: ClassVar[bool] = True  # as Encoder.uses_torch
    modalities: ClassVar[tuple[str, ...]] = (TEXT, IMAGE, VECTORS)

    @classmethod
    def trains_encoder_with(cls, settings: Mapping[str, Any]) -> bool:
        """``trains_encoder`` from the settings, before anything is built (a refiner may start from another)."""
        return cls.trains_encoder

    @abstractmethod
    def refine(
        self, encoder: Encoder, dataset: Dataset, embeddings: np.ndarray, labels: np.ndarray, context: TrainingContext
    ) -> Refinement: ...

    @abstractmethod
    def transform(self, encoder: Encoder, dataset: Dataset) -> np.ndarray: ...

    @abstractmethod
    def predict_scores(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


# ------------------------------------------------------------------------------------------ after clustering


class NoisePolicy(Plugin, ABC):
    """``noise=<key>``: what becomes of the points a clusterer labels -1.

    ``reassigns``: new noise points at predict time go to the nearest training
    cluster centre (True), or stay noise.
    """

    group = "noise"

    reassigns: ClassVar[bool] = True

    @abstractmethod
    def apply(
        self, labels: np.ndarray, embeddings: np.ndarray, clusterer: Clusterer | None
    ) -> tuple[np.ndarray, NoiseReport]: ...


class TopicModel(Plugin, ABC):
    """The topic stage of text runs: ``fit(texts, labels, embeddings)`` gives the topics (``labels`` per topic)."""

    group = "topics"

    @abstractmethod
    def fit(self, texts: Sequence[str], labels: np.ndarray, embeddings: np.ndarray) -> Any: ...


class SkipEvaluation(Exception):
    """An evaluator cannot run on this input; the message says why."""


class Evaluator(Plugin, ABC):
    """``evaluation.metrics=[<key>, ...]``: ``evaluate(run)`` gives ``{metric: value}`` or raises SkipEvaluation."""

    group = "evaluation"

    @classmethod
    def config_path(cls) -> str:
        return f"evaluation.params.{cls.key()}"

    @abstractmethod
    def evaluate(self, run: EvaluationInput) -> dict[str, float]: ...
