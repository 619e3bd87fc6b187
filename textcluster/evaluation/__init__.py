"""Evaluator plugins (``evaluation.metrics=[...]``): external (vs true labels), internal (geometry), topic, counts."""

from textcluster.evaluation.evaluators import evaluate

__all__ = ["evaluate"]
