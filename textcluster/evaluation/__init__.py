"""Evaluator plugins (``evaluation.metrics=[...]``): external (vs true labels), internal (geometry), topic, counts."""

from textcluster.evaluation.evaluators import evaluate, log_skipped, skipped_lines

__all__ = ["evaluate", "log_skipped", "skipped_lines"]
