"""Running the evaluators and wording what they skipped: ``evaluate(evaluators, run) -> (metrics, skipped)``.

Apart from the evaluator plugins (:mod:`textcluster.evaluation.evaluators`), which the registry imports key by
key, so that the package's ``__init__`` can offer these without importing a plugin module.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from textcluster.contracts import Evaluator, SkipEvaluation
from textcluster.results import EvaluationInput

log = logging.getLogger(__name__)

NO_TRUE_LABELS = "no true labels (set data.label_column / data.labels_path)"  # why every external metric skips


def evaluate(
    evaluator_objects: Mapping[str, Evaluator], run: EvaluationInput
) -> tuple[dict[str, float], dict[str, str]]:
    """Run every evaluator; returns ``(metrics, skipped)`` where skipped maps key -> reason."""
    results: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for key, evaluator in evaluator_objects.items():
        try:
            results.update(evaluator.evaluate(run))
        except SkipEvaluation as reason:
            skipped[key] = str(reason)
    return results, skipped


def skipped_lines(skipped: Mapping[str, str]) -> list[str]:
    """One line per reason for the skipped metrics (``{key: reason}``), not one per metric: an unlabeled corpus
    skips every external metric for the same reason, which eight lines would repeat."""
    by_reason: dict[str, list[str]] = {}
    for key, reason in skipped.items():
        by_reason.setdefault(reason, []).append(key)
    lines = []
    for reason, keys in by_reason.items():
        names = ", ".join(keys)
        if reason == NO_TRUE_LABELS:
            lines.append(
                f"skipped {len(keys)} metric{'s' if len(keys) > 1 else ''} that need true labels: {names} "
                "(the data has no labels; set data.label_column / data.labels_path to score them)"
            )
        elif len(keys) > 1:
            lines.append(f"skipped {len(keys)} metrics ({names}): {reason}")
        else:
            lines.append(f"skipped {names}: {reason}")
    return lines


def log_skipped(skipped: Mapping[str, str], logger: logging.Logger = log) -> None:
    """Log :func:`skipped_lines` at INFO (a skipped metric is expected, not a fault: the summary lists them too)."""
    for line in skipped_lines(skipped):
        logger.info(line)
