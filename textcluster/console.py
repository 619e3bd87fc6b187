"""What reaches the console: third-party chatter quieted at its source, one filter per known message.

A run should print only what a user may need to act on. The libraries below
log or warn about their own internals on every run (a CPU-feature probe, a
tip, a deprecation inside another library); each entry names the library and
the message and says why hiding it is harmless. Nothing here is a blanket
filter: every warnings filter matches a message *and* the module that issues
it, every logger change touches one library's logger, so a warning about a
user's input or a failed step still shows. Our own warnings are fixed where
they arise, never listed here.

:func:`install` is cheap to call again. The stages that import a chatty
library call it right before the import (faiss in the UMAP reducer and the
faiss clusterer, model2vec in the static encoder, Lightning in the trainer
factory, ...), so the ``textcluster`` command and the Python API
(``textcluster.api.Pipeline``) are quiet alike, whichever stage runs first.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# Loggers set to WARNING: their INFO records are progress notes about the library itself; their warnings
# and errors still show.
QUIET_LOGGERS = (
    # faiss' loader tries its AVX512 and AVX2 builds before the generic one and logs each miss with a
    # ModuleNotFoundError, which reads like a failure; the build it loads works, and a faiss that cannot
    # load at all raises ImportError (and logs at ERROR).
    "faiss.loader",
    # model2vec's distillation and loading narrate their steps (SIF weighting, PCA, explained variance,
    # "Saved model to" a temporary folder we rename); our own log line says the distillation happens once.
    "model2vec",
    # skeletoken rewrites the tokenizer for model2vec and logs every padding-token change and token-id remap.
    "skeletoken",
    # matplotlib's "generated new fontManager", once per machine when it builds its font cache for the report.
    "matplotlib.font_manager",
)

# Lightning's own INFO lines (rank_zero_info) that are news to nobody: devices the machine does not have (the
# line of a GPU that is there stays: it says whether training used it); advertising tips; the planned end of
# training at max_epochs. Its other INFO lines and every warning pass (it warns when a GPU is there unused).
LIGHTNING_LOGGERS = (
    "pytorch_lightning.utilities.rank_zero",
    "lightning.pytorch.utilities.rank_zero",
    "lightning_fabric.utilities.rank_zero",
)
LIGHTNING_CHATTER = re.compile(
    r"(TPU|HPU|IPU) available: "  # "TPU available: False, using: 0 TPU cores"
    r"|GPU available: False"  # "GPU available: False, used: False"
    r"|LOCAL_RANK: \d+ - CUDA_VISIBLE_DEVICES"  # which CUDA devices each process sees
    r"|\U0001f4a1 Tip: "  # "💡 Tip: ... try installing litlogger / litmodels / tensorboard"
    r"|`Trainer\.fit` stopped: `max_epochs=\d+` reached"  # the planned end, not an early stop
)

# (message regex, category, module regex): each a warning a library raises about itself.
QUIET_WARNINGS: tuple[tuple[str, type[Warning], str], ...] = (
    # torch deprecated its LeafSpec class; Lightning's own pytree helper still builds one. Nothing for a
    # user to change (a later Lightning release updates the helper).
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"pytorch_lightning\.utilities\._pytree"),
    # Lightning asks for a log interval shorter than an epoch when an epoch has few batches (a small data
    # set); the losses are still logged once per epoch, which is what the run's CSV log and the
    # best-weights keeper read.
    (r"The number of training batches \(\d+\) is smaller than the logging interval", Warning, r"pytorch_lightning"),
)

_loggers_set = False
_lock = threading.Lock()


class _DropLightningChatter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not LIGHTNING_CHATTER.search(record.getMessage())


def _has_filter(message: str, category: type[Warning], module: str) -> bool:
    return any(
        action == "ignore"
        and getattr(text, "pattern", None) == message
        and kind is category
        and getattr(where, "pattern", None) == module
        for action, text, kind, where, _line in warnings.filters
    )


def install() -> None:
    """Quiet the known chatter; cheap to call again (each stage calls it before its library's import).

    The loggers are set once. The warnings filters are checked on every call and added where missing: a
    ``warnings.catch_warnings()`` block around an earlier call (a notebook's, a test's) drops them when it
    ends, and a filter that was added once and then lost would let the warning through.
    """
    global _loggers_set
    with _lock:
        if not _loggers_set:
            for name in QUIET_LOGGERS:
                logger = logging.getLogger(name)
                if logger.level == logging.NOTSET:  # a level a user set (even DEBUG, to see the probe) is kept
                    logger.setLevel(logging.WARNING)
            for name in LIGHTNING_LOGGERS:
                logging.getLogger(name).addFilter(_DropLightningChatter())
            _loggers_set = True
        for message, category, module in QUIET_WARNINGS:
            if not _has_filter(message, category, module):
                warnings.filterwarnings("ignore", message=message, category=category, module=module)


@contextmanager
def no_progress_bars(*modules: str) -> Iterator[None]:
    """Within the block, the ``tqdm`` that each named (already imported) module calls draws nothing.

    For a library step that draws a progress bar with no way to turn it off (model2vec's distillation
    "Encoding tokens" bar): on a console it overwrites our log lines, in a log file it is one line of
    carriage returns. The module's own name ``tqdm`` is swapped for a disabled one and put back after.
    """
    import importlib
    from functools import partial

    swapped = []
    for name in modules:
        module = importlib.import_module(name)
        original = getattr(module, "tqdm", None)
        if original is not None:
            module.tqdm = partial(original, disable=True)
            swapped.append((module, original))
    try:
        yield
    finally:
        for module, original in swapped:
            module.tqdm = original
