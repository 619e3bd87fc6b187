"""Evaluation plugins: external (vs true labels), internal (geometry), topic (text runs) and cluster counts."""

from textcluster.evaluation.evaluators import (EXTERNAL, INTERNAL, TOPIC, EvaluationContext, Evaluator, SkipEvaluation,
                                               evaluate)
from textcluster.evaluation import topic_metrics  # noqa: F401,E402  (registers npmi, topic_diversity)

__all__ = ["Evaluator", "EvaluationContext", "SkipEvaluation", "EXTERNAL", "INTERNAL", "TOPIC", "evaluate"]
