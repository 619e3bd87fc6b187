"""How to read each metric the evaluation plugins (and the pipeline's noise policy) write to metrics.json.

One entry per metric key: its range, which way is better and what a good value looks like, in one line the
report prints beside the value. The thresholds are rules of thumb, not laws: an internal metric is measured in
the clustered space (after the reducer; UMAP's space scores higher than the raw embeddings), so compare runs
on the same corpus and space. ``tests/test_report.py`` runs every registered evaluator and checks that each key
it writes has an entry here, so a new metric cannot reach the report unexplained.
"""

from __future__ import annotations

from typing import NamedTuple


class MetricGuide(NamedTuple):
    name: str  # what the report calls it
    group: str  # the report's sub-heading: labels, shape, topics, counts
    scale: str  # its range and direction, short
    reading: str  # what the number says and what good looks like, one line


LABELS = "Against the true labels"
SHAPE = "Cluster shape (no labels needed)"
TOPICS = "Topics"
COUNTS = "Counts"
GROUPS = (LABELS, SHAPE, TOPICS, COUNTS)  # the order of the report's quality sub-sections

GUIDE: dict[str, MetricGuide] = {
    "acc": MetricGuide(
        "accuracy",
        LABELS,
        "0 to 1, higher is better",
        "share of documents whose cluster is matched to their true class (one cluster per class, best matching); "
        "chance is about 1 / classes, above 0.8 is strong",
    ),
    "nmi": MetricGuide(
        "NMI",
        LABELS,
        "0 to 1, higher is better",
        "how much the clusters tell about the true classes; 0 = nothing, above 0.5 useful, above 0.7 strong",
    ),
    "ari": MetricGuide(
        "adjusted Rand index",
        LABELS,
        "-0.5 to 1, 0 = chance",
        "pairs of documents grouped alike by clusters and classes, corrected for chance; above 0.5 is good agreement",
    ),
    "ami": MetricGuide(
        "adjusted mutual information",
        LABELS,
        "about 0 to 1, 0 = chance",
        "NMI corrected for chance (many small clusters no longer score for free); above 0.5 useful, 0.7 strong",
    ),
    "homogeneity": MetricGuide(
        "homogeneity",
        LABELS,
        "0 to 1, higher is better",
        "1 = every cluster holds one class only; splitting classes into more clusters raises it",
    ),
    "completeness": MetricGuide(
        "completeness",
        LABELS,
        "0 to 1, higher is better",
        "1 = every class sits in one cluster; merging clusters raises it",
    ),
    "v_measure": MetricGuide(
        "V-measure",
        LABELS,
        "0 to 1, higher is better",
        "the harmonic mean of homogeneity and completeness (equal to NMI); read like NMI",
    ),
    "purity": MetricGuide(
        "purity",
        LABELS,
        "0 to 1, higher is better",
        "share of documents in their cluster's majority class; more clusters always raise it, read it with k",
    ),
    "silhouette": MetricGuide(
        "silhouette",
        SHAPE,
        "-1 to 1, higher is better",
        "how much closer documents are to their own cluster than to the next; above 0.5 well separated, "
        "0.25 to 0.5 some structure, below 0.25 overlapping",
    ),
    "calinski_harabasz": MetricGuide(
        "Calinski-Harabasz",
        SHAPE,
        "0 and up, higher is better",
        "spread between clusters over spread within them; no absolute scale: compare runs on the same data only",
    ),
    "davies_bouldin": MetricGuide(
        "Davies-Bouldin",
        SHAPE,
        "0 and up, lower is better",
        "how much each cluster overlaps its most similar one; below 1 is well separated, above 2 blurred",
    ),
    "dbcv": MetricGuide(
        "DBCV",
        SHAPE,
        "-1 to 1, higher is better",
        "density-based validity: above 0 clusters are denser than the gaps between them; near 0 or below, "
        "the clusters are not dense islands (usual for k-means on text)",
    ),
    "npmi": MetricGuide(
        "NPMI coherence",
        TOPICS,
        "-1 to 1, higher is better",
        "whether a topic's top keywords occur in the same documents; above 0 more than chance, 0.1 to 0.3 "
        "is usual for readable topics",
    ),
    "topic_diversity": MetricGuide(
        "topic diversity",
        TOPICS,
        "0 to 1, higher is better",
        "share of distinct words among all topics' top keywords; near 1 the topics differ, below 0.5 many repeat",
    ),
    "n_clusters": MetricGuide(
        "clusters",
        COUNTS,
        "a count",
        "clusters found, outliers not counted",
    ),
    "noise_fraction": MetricGuide(
        "outliers",
        COUNTS,
        "0 to 1, lower is better",
        "share of documents left without a cluster (topic -1) in the final labels",
    ),
    "noise_fraction_before": MetricGuide(
        "outliers before the noise policy",
        COUNTS,
        "0 to 1",
        "share the clusterer itself left as noise (density clusterers); the noise setting may assign them",
    ),
    "noise_fraction_after": MetricGuide(
        "outliers after the noise policy",
        COUNTS,
        "0 to 1, lower is better",
        "share still without a cluster once noise=soft / nearest assigned what it could",
    ),
}

UNKNOWN_GROUP = "Other metrics"  # a plugin's metric that has no entry: shown, without a reading


def guide_for(key: str) -> MetricGuide:
    """The entry for ``key``; a plugin's metric without one gets its key as name and no reading."""
    return GUIDE.get(key) or MetricGuide(key, UNKNOWN_GROUP, "", "a plugin's metric: see its documentation")
