"""Evaluator plugins (``evaluation.metrics=[...]``): external (vs true labels), internal (geometry), topic, counts.

The plugins (:mod:`textcluster.evaluation.evaluators`) are imported when a key is first asked for (see
:mod:`textcluster.registry`), not here: they import :mod:`textcluster.evaluation.metrics` through this
package, so importing them from this ``__init__`` would make an import cycle.
"""

from textcluster.evaluation.scoring import evaluate, log_skipped, skipped_lines

__all__ = ["evaluate", "log_skipped", "skipped_lines"]

# key -> the module whose decorator registers it (tests/test_registry.py checks the two agree)
PLUGIN_MODULES = {
    key: "evaluators"
    for key in (
        *("acc", "nmi", "ari", "ami", "homogeneity", "completeness", "v_measure", "purity"),  # external
        *("silhouette", "calinski_harabasz", "davies_bouldin", "dbcv"),  # internal
        *("cluster_counts", "npmi", "topic_diversity"),
    )
}
