"""Evaluation plugins: external (vs true labels), internal (geometry) and cluster counts."""

from textcluster.evaluation.evaluators import EXTERNAL, INTERNAL, Evaluator, SkipEvaluation, evaluate

__all__ = ["Evaluator", "SkipEvaluation", "EXTERNAL", "INTERNAL", "evaluate"]
