"""The report's figures (matplotlib, Agg backend): each function writes one PNG and returns a caption.

* ``embedding_map``: the documents in 2-D (UMAP of the embeddings; PCA for tiny data or when UMAP is
  unavailable), coloured by cluster, noise in grey, each topic's label placed so that none overlaps another;
* ``cluster_sizes``: documents per cluster;
* ``topic_keywords``: the top c-TF-IDF keywords of each topic, one small bar chart per topic;
* ``topic_tree``: the dendrogram of the topic tree (topics.json's ``tree``), with the topics.n_topics cut;
* ``topics_over_time`` / ``topics_per_group``: the largest topics' documents per time bin, their shares per group;
* ``confusion_matrix``: true labels x clusters, clusters ordered by their best-matching class;
* ``cluster_examples``: image runs, a row of example images per cluster.

Every title goes through :func:`set_title`, which wraps it to its axes' width, so none is cut at the edge.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from textcluster.clusterers.k_selection import how_chosen
from textcluster.compiled import keep_compiled_code
from textcluster.labels import NOISE
from textcluster.neighbours import fit_umap
from textcluster.reporting.label_placement import place_labels
from textcluster.storage import atomic_write

log = logging.getLogger(__name__)

MAP_MAX_POINTS = 5000  # the map shows a seeded sample of this many points at most
UMAP_MIN_POINTS = 100  # below this the map uses PCA (UMAP's neighbourhood graph needs more points)
# umap-learn's default for large data; it gives up to 10,000 points 500, which took 4.1 s against 1.8 s on the
# 5,000 points of a map for no difference an overview shows
MAP_EPOCHS = 200
MAX_TOPIC_PANELS = 24
MAX_CONFUSION_SIDE = 60
MAX_TREE_LEAVES = 100  # a larger topic tree shows its last merges only (dendrogram's truncate_mode="lastp")
TREE_LABEL_CHARS = 50
EXAMPLES_PER_CLUSTER = 10
MAX_TREND_TOPICS = 8  # lines in the topics-over-time chart (more cannot be told apart)
MAX_BAR_GROUPS = 30  # bars in the topics-per-group chart: the groups with the most documents
MAX_EXAMPLE_CLUSTERS = 30
MAP_LABEL_CHARS = 32  # a topic label on the PNG map is cut to this many characters
TITLE_SIZE = 11  # points
CHAR_WIDTH = 0.6  # an average character's width in a sans-serif font, in font sizes (wrapping estimates)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display: files only
    import matplotlib.pyplot as plt

    return plt


def cluster_colours(clusters: Sequence[int]) -> dict[int, tuple]:
    """A stable colour per cluster id (noise grey)."""
    plt = _pyplot()
    real = [c for c in clusters if c != NOISE]
    cmap = plt.get_cmap("tab10" if len(real) <= 10 else "tab20" if len(real) <= 20 else "gist_ncar")
    n = max(len(real), 1)
    colours = {c: cmap(i % cmap.N) if len(real) <= 20 else cmap(0.05 + 0.9 * i / n) for i, c in enumerate(sorted(real))}
    colours[NOISE] = (0.7, 0.7, 0.7, 1.0)
    return colours


def map_coordinates(
    embeddings: np.ndarray, seed: int = 0, method: str = "auto", metric: str = "euclidean"
) -> tuple[np.ndarray, str]:
    """``(n x 2 coordinates, method used)``: UMAP (auto, from UMAP_MIN_POINTS points on) or PCA. ``metric``:
    UMAP's distance, the run's reducer's where it has one (the same geometry, and numba's code for it is
    compiled already: a new metric costs about 8 s of compilation)."""
    X = np.asarray(embeddings, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"need at least 2 embeddings of shape (n, d), got {X.shape}")
    if X.shape[1] <= 2:
        return (X if X.shape[1] == 2 else np.column_stack([X[:, 0], np.zeros(len(X))])), "embeddings as they are"
    if method == "umap" or (method == "auto" and len(X) >= UMAP_MIN_POINTS):
        try:
            import umap

            keep_compiled_code()
            model = umap.UMAP(
                n_components=2,
                n_neighbors=min(15, len(X) - 1),
                min_dist=0.1,
                metric=metric,
                n_epochs=MAP_EPOCHS,
                random_state=seed,
                n_jobs=1,
            )
            return fit_umap(model, X), "UMAP"
        except ImportError:
            log.info("report: umap-learn is not installed; the map uses PCA")
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(X), "PCA"


def map_rows(n: int, seed: int = 0) -> np.ndarray:
    """The rows the map shows: every row, or a seeded sample of MAP_MAX_POINTS (sorted)."""
    rows = np.arange(n)
    if n > MAP_MAX_POINTS:
        rows = np.sort(np.random.default_rng(seed).choice(n, MAP_MAX_POINTS, replace=False))
    return rows


def embedding_map(
    embeddings: np.ndarray,
    labels: np.ndarray,
    path: Path,
    seed: int = 0,
    method: str = "auto",
    layout: tuple[np.ndarray, np.ndarray, str] | None = None,
    names: Mapping[int, str] | None = None,
) -> str:
    """``layout``: ``(rows, coordinates of those rows, method used)`` computed already (the report shares
    them with its interactive map); without it, :func:`map_rows` and :func:`map_coordinates` here.
    ``names``: topic id -> label, written on the map (without them, the cluster numbers)."""
    plt = _pyplot()
    labels = np.asarray(labels)
    colours = cluster_colours(sorted(set(labels.tolist())))  # the colours of every other figure and the table
    if layout is None:
        rows = map_rows(len(labels), seed)
        coords, used = map_coordinates(np.asarray(embeddings)[rows], seed, method)
    else:
        rows, coords, used = layout
    n_total, labels = len(labels), labels[rows]
    clusters = sorted(set(labels.tolist()))
    fig, ax = plt.subplots(figsize=(9, 7), dpi=100)
    size = 4 if len(rows) > 2000 else 10 if len(rows) > 300 else 25
    for cluster in ([NOISE] if NOISE in clusters else []) + [c for c in clusters if c != NOISE]:
        mask = labels == cluster
        ax.scatter(coords[mask, 0], coords[mask, 1], s=size, color=colours[cluster], alpha=0.75, linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    sample = f" (a sample of {len(rows)})" if len(rows) < n_total else ""
    kind = "topic" if names else "cluster"
    set_title(ax, f"{used} of the embeddings{sample}, coloured by {kind}")
    fig.tight_layout()  # the axes' final size, before the labels are measured against it
    shown = label_map(ax, coords, labels, clusters, colours, names or {})
    _save(fig, path, tight=False)
    hidden = len([c for c in clusters if c != NOISE]) - shown
    note = f"; {hidden} labels of smaller {kind}s left off where they would overlap" if hidden else ""
    return f"2-D map of the embeddings ({used}), coloured by {kind}{sample}; labels at each {kind}'s median{note}"


def cluster_sizes(labels: np.ndarray, path: Path) -> str:
    plt = _pyplot()
    labels = np.asarray(labels)
    clusters, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    clusters, counts = clusters[order], counts[order]
    colours = cluster_colours(clusters.tolist())
    fig, ax = plt.subplots(figsize=(max(5, min(16, 0.35 * len(clusters) + 3)), 3.8), dpi=100)
    ax.bar(range(len(clusters)), counts, color=[colours[c] for c in clusters])
    ax.set_xticks(range(len(clusters)))
    ax.set_xticklabels(
        ["noise" if c == NOISE else str(c) for c in clusters], fontsize=8, rotation=90 if len(clusters) > 25 else 0
    )
    ax.set_xlabel("cluster")
    ax.set_ylabel("documents")
    set_title(ax, f"Cluster sizes ({int((clusters != NOISE).sum())} clusters, {len(labels)} items)")
    _save(fig, path)
    return "Documents per cluster, largest first"


def topic_keywords(topics: Sequence[dict], path: Path, n_words: int = 8) -> str:
    """``topics``: topics.json entries (id, size, label, keywords, keyword_scores)."""
    plt = _pyplot()
    entries = [t for t in topics if t.get("id") != NOISE and t.get("keywords")]
    entries = sorted(entries, key=lambda t: -t.get("size", 0))[:MAX_TOPIC_PANELS]
    if not entries:
        raise ValueError("no topic has keywords")
    columns = min(4, len(entries))
    rows = -(-len(entries) // columns)
    colours = cluster_colours([t["id"] for t in entries])
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 2.6 * rows), dpi=100, squeeze=False)
    for ax, entry in zip(axes.flat, entries):
        words = list(entry["keywords"])[:n_words]
        scores = list(entry.get("keyword_scores") or [])[: len(words)]
        if len(scores) != len(words):
            scores = list(range(len(words), 0, -1))  # no scores: rank only
        ax.barh(range(len(words))[::-1], scores, color=colours[entry["id"]])
        ax.set_yticks(range(len(words))[::-1])
        ax.set_yticklabels(words, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        name = entry.get("label") or f"topic {entry['id']}"
        set_title(ax, f"{entry['id']}: {name} ({entry.get('size', '?')} docs)", size=9)
    for ax in list(axes.flat)[len(entries) :]:
        ax.axis("off")
    fig.suptitle(wrap("Top keywords per topic (c-TF-IDF)", fig.get_figwidth(), TITLE_SIZE), fontsize=TITLE_SIZE)
    _save(fig, path)
    shown = f"the {len(entries)} largest topics" if len(entries) == MAX_TOPIC_PANELS else "every topic"
    return f"Top keywords (c-TF-IDF weight) of {shown}"


def tree_linkage(tree: dict) -> tuple[np.ndarray, list[int]]:
    """``(scipy linkage matrix, leaf ids in its row order)`` rebuilt from a topic tree's merges."""
    merges = tree["merges"]
    leaf_ids = sorted(merges[-1]["leaves"])  # the root holds every leaf
    index = {leaf: row for row, leaf in enumerate(leaf_ids)}
    index.update({merge["id"]: len(leaf_ids) + step for step, merge in enumerate(merges)})
    Z = [[index[c] for c in merge["children"]] + [merge["distance"], len(merge["leaves"])] for merge in merges]
    return np.array(Z, dtype=np.float64), leaf_ids


def k_selection_curve(selection: dict, path: Path) -> str:
    """The k search of ``n_clusters=auto`` (k_selection.json): the silhouette of each k tried, the levels
    of the curve (granularities) and the pick."""
    plt = _pyplot()
    ks = [point["k"] for point in selection["curve"]]
    scores = [point["score"] for point in selection["curve"]]
    chosen = selection["chosen_k"]
    alternatives = selection.get("alternatives", [])
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    ax.plot(ks, scores, marker="o", markersize=3, linewidth=1.2, color="#4c72b0")
    ax.set_xscale("log")
    for k in alternatives:
        ax.axvline(k, color="grey", linestyle=":", linewidth=1)
        ax.annotate(f"{k}", (k, min(scores)), xytext=(3, 2), textcoords="offset points", color="grey")
    ax.axvline(chosen, color="crimson", linestyle="--", linewidth=1)
    ax.annotate(f"k = {chosen}", (chosen, max(scores)), xytext=(4, -2), textcoords="offset points", color="crimson")
    ax.set_xlabel("k (number of clusters, log scale)")
    ax.set_ylabel("silhouette")
    ax.grid(alpha=0.3)
    set_title(ax, f"Choosing k on {selection['sample_size']} documents")
    _save(fig, path)
    how = how_chosen(bool(selection.get("clear")))
    others = ", ".join(map(str, alternatives)) or "none"
    return (
        f"the k search (clusterer.n_clusters=auto): silhouette for k = {ks[0]} to {ks[-1]} on a sample of "
        f"{selection['sample_size']}; chosen k = {chosen} ({how}); other levels (dotted): {others}, "
        "each one clusterer.n_clusters=<k> away"
    )


def topic_tree(tree: dict, topics: Sequence[dict], path: Path) -> str:
    """``tree``: topics.json's ``tree`` (leaves, merges, cut); ``topics``: its topic entries (for the labels)."""
    from scipy.cluster.hierarchy import dendrogram

    plt = _pyplot()
    if not tree.get("merges"):
        raise ValueError("the topic tree has no merges (fewer than 2 topics)")
    Z, leaf_ids = tree_linkage(tree)
    topic_labels = {entry["id"]: entry.get("label", "") for entry in topics}
    leaves = {leaf["id"]: leaf for leaf in tree.get("leaves", [])}
    cut = tree.get("cut")
    if cut:  # the leaves are clusters: their own keywords, and the topic they went into
        names = [f"{i} (topic {leaves[i]['topic']}): {leaves[i]['label']}" for i in leaf_ids]
    else:
        names = [f"{i}: {topic_labels.get(i, leaves.get(i, {}).get('label', ''))}" for i in leaf_ids]
    for merge in tree["merges"]:  # shown as leaves when the tree is too large: (leaves under it) keywords
        names.append(f"({len(merge['leaves'])}) {', '.join(merge['keywords'][:4])}")
    names = [name if len(name) <= TREE_LABEL_CHARS else name[: TREE_LABEL_CHARS - 1] + "…" for name in names]
    truncated = len(leaf_ids) > MAX_TREE_LEAVES
    shown = min(len(leaf_ids), MAX_TREE_LEAVES)
    fig, ax = plt.subplots(figsize=(10, max(3.0, min(0.26 * shown + 1.4, 40.0))), dpi=100)
    dendrogram(
        Z,
        ax=ax,
        orientation="left",
        leaf_label_func=names.__getitem__,  # linkage index -> label: a leaf, or a collapsed branch
        leaf_font_size=8,
        color_threshold=cut["distance"] if cut else 0,  # with a cut: one colour per topic
        above_threshold_color="#555555",
        **({"truncate_mode": "lastp", "p": MAX_TREE_LEAVES} if truncated else {}),
    )
    if cut:
        ax.axvline(cut["distance"], color="crimson", linestyle="--", linewidth=1)
        ax.text(
            cut["distance"],
            1.0,
            f" topics.n_topics={cut['n_topics']}",
            transform=ax.get_xaxis_transform(),
            color="crimson",
            fontsize=8,
            ha="left",
            va="bottom",
        )
    ax.set_xlabel("average cosine distance of the c-TF-IDF vectors")
    kind = "clusters" if cut else "topics"
    set_title(ax, f"Topic tree ({len(leaf_ids)} {kind})", size=10, pad=14)
    _save(fig, path)
    caption = f"Hierarchy of the {kind}: average-linkage merges of their c-TF-IDF vectors (cosine distance)"
    if cut:
        caption += f", cut at distance {cut['distance']:.3f} into {cut['n_topics']} topics (topics.n_topics)"
    if truncated:
        caption += f"; the last {MAX_TREE_LEAVES} branches, (n) = {kind} under a branch, then its keywords"
    return caption


def confusion_matrix(labels_true: np.ndarray, labels_pred: np.ndarray, path: Path) -> str:
    from scipy.optimize import linear_sum_assignment

    plt = _pyplot()
    classes, true_index = np.unique(np.asarray(labels_true).astype(str), return_inverse=True)
    clusters, pred_index = np.unique(np.asarray(labels_pred), return_inverse=True)
    if max(len(classes), len(clusters)) > MAX_CONFUSION_SIDE:
        raise ValueError(
            f"{len(classes)} classes x {len(clusters)} clusters is too large to draw (limit {MAX_CONFUSION_SIDE})"
        )
    counts = np.zeros((len(classes), len(clusters)), dtype=int)
    np.add.at(counts, (true_index, pred_index), 1)
    # clusters in the order of the class they match best (Hungarian), the unmatched ones after
    rows, cols = linear_sum_assignment(-counts)
    order = [c for _, c in sorted(zip(rows, cols))]
    order += [c for c in range(len(clusters)) if c not in order]
    counts, clusters = counts[:, order], clusters[order]
    fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(clusters) + 3), max(4, 0.4 * len(classes) + 2)), dpi=100)
    image = ax.imshow(counts, cmap="Blues", aspect="auto")
    fig.colorbar(image, ax=ax, fraction=0.04)
    ax.set_xticks(range(len(clusters)))
    ax.set_xticklabels(["noise" if c == NOISE else str(c) for c in clusters], fontsize=8)
    ax.set_yticks(range(len(classes)))
    ax.set_yticklabels([c[:30] for c in classes], fontsize=8)
    ax.set_xlabel("cluster")
    ax.set_ylabel("true label")
    if counts.size <= 400:
        threshold = counts.max() / 2
        for (i, j), value in np.ndenumerate(counts):
            if value:
                ax.text(
                    j,
                    i,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > threshold else "black",
                )
    set_title(ax, "True labels x clusters")
    _save(fig, path)
    return "Confusion matrix: true labels (rows) against clusters (columns, ordered by best-matching class)"


def cluster_examples(images: np.ndarray, labels: np.ndarray, path: Path, seed: int = 0) -> str:
    plt = _pyplot()
    labels = np.asarray(labels)
    clusters = [c for c in sorted(set(labels.tolist())) if c != NOISE][:MAX_EXAMPLE_CLUSTERS]
    if (labels == NOISE).any():
        clusters.append(NOISE)
    if not clusters:
        raise ValueError("no clusters")
    rng = np.random.default_rng(seed)
    chosen = []
    for cluster in clusters:
        members = np.flatnonzero(labels == cluster)
        chosen.append(np.sort(rng.choice(members, size=min(EXAMPLES_PER_CLUSTER, len(members)), replace=False)))
    sheet, row_centres, gap = _example_sheet(images, chosen)
    fig, ax = plt.subplots(figsize=(EXAMPLES_PER_CLUSTER * 0.8, len(clusters) * 0.85), dpi=100)
    ax.imshow(sheet, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    for cluster, centre in zip(clusters, row_centres):
        ax.text(-gap, centre, "noise" if cluster == NOISE else str(cluster), ha="right", va="center", fontsize=9)
    fig.suptitle(wrap("Example images per cluster (rows)", fig.get_figwidth(), 10), fontsize=10)
    _save(fig, path)
    return f"Up to {EXAMPLES_PER_CLUSTER} random example images of each cluster (one row per cluster)"


def _example_sheet(images: np.ndarray, rows: list[np.ndarray]) -> tuple[np.ndarray, list[float], int]:
    """One image holding ``images[rows[i]]`` side by side in row i with a blank gap around each, each row's
    vertical centre in its pixels, and the gap. One picture, not an axes per example: a sheet of 10 x 10 axes
    took 2.5 s to draw."""
    height, width = images.shape[1:3]
    gap = max(1, round(max(height, width) / 8))
    step_y, step_x = height + gap, width + gap
    sheet = np.zeros((len(rows) * step_y + gap, EXAMPLES_PER_CLUSTER * step_x + gap), dtype=np.float32)
    for row, chosen in enumerate(rows):
        for col, item in enumerate(chosen):
            top, left = gap + row * step_y, gap + col * step_x
            sheet[top : top + height, left : left + width] = images[item]
    return sheet, [gap + row * step_y + (height - 1) / 2 for row in range(len(rows))], gap


def _largest_topics(table, n: int) -> list[int]:
    """The ``n`` topics (noise left out) holding the most documents of a topics-over-time / per-group table."""
    sizes = table[table["topic"] != NOISE].groupby("topic")["count"].sum().sort_values(ascending=False, kind="stable")
    return [int(topic) for topic in sizes.index[:n]]


def topics_over_time(table, path: Path) -> str:
    """``table``: :func:`textcluster.topics.over_time.topics_over_time`'s (bin, topic, label, count, ...)."""
    plt = _pyplot()
    shown = _largest_topics(table, MAX_TREND_TOPICS)
    if not shown:
        raise ValueError("no topic has documents")
    bins = list(dict.fromkeys(table["bin"]))  # the table lists bins in time order
    colours = cluster_colours(shown)
    fig, ax = plt.subplots(figsize=(max(6, min(16, 0.35 * len(bins) + 4)), 4.2), dpi=100)
    for topic in shown:
        rows = table[table["topic"] == topic]
        label = f"{topic}: {rows['label'].iloc[0]}"[:TREE_LABEL_CHARS]
        ax.plot(range(len(bins)), rows["count"].to_numpy(), marker="o", markersize=3, color=colours[topic], label=label)
    ax.set_xticks(range(len(bins)))
    ax.set_xticklabels(bins, fontsize=8, rotation=45 if len(bins) > 8 else 0, ha="right" if len(bins) > 8 else "center")
    ax.set_ylabel("documents")
    set_title(ax, "Topics over time")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, path)
    return f"Documents per time bin of the {len(shown)} largest topics (topics_over_time.csv has every topic)"


def topics_per_group(table, path: Path) -> str:
    """``table``: :func:`textcluster.topics.over_time.topics_per_group`'s; one stacked bar of shares per group."""
    plt = _pyplot()
    shown = _largest_topics(table, MAX_TREND_TOPICS)
    sizes = table.groupby("group", sort=False)["count"].sum()
    groups = [group for group in sizes.sort_values(ascending=False, kind="stable").index[:MAX_BAR_GROUPS]]
    if not shown or not groups:
        raise ValueError("no topic has documents")
    colours = cluster_colours(shown)
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.35 * len(groups) + 1.5)), dpi=100)
    left = np.zeros(len(groups))
    for topic in shown:
        rows = table[table["topic"] == topic].set_index("group")["share"]
        shares = rows.reindex(groups).fillna(0.0).to_numpy()
        label = f"{topic}: {table.loc[table['topic'] == topic, 'label'].iloc[0]}"[:TREE_LABEL_CHARS]
        ax.barh(range(len(groups)), shares, left=left, color=colours[topic], label=label)
        left += shares
    ax.barh(range(len(groups)), 1.0 - left, left=left, color=(0.85, 0.85, 0.85, 1.0), label="other topics")
    ax.set_yticks(range(len(groups)))
    ax.set_yticklabels([str(group)[:TREE_LABEL_CHARS] for group in groups], fontsize=8)
    ax.invert_yaxis()  # the largest group on top
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the group's documents")
    set_title(ax, "Topics per group")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(fig, path)
    shown_groups = f"the {len(groups)} largest groups" if len(groups) == MAX_BAR_GROUPS else "every group"
    return f"Share of each of {shown_groups}' documents in the {len(shown)} largest topics (topics_per_group.csv)"


def wrap(text: str, width_inches: float, size: float) -> str:
    """``text`` broken into lines that fit ``width_inches`` at ``size`` points (a title is never cut)."""
    chars = max(12, int(width_inches * 72 / (CHAR_WIDTH * size)))
    return "\n".join(textwrap.wrap(text, chars, break_long_words=True)) or text


def set_title(ax, text: str, size: float = TITLE_SIZE, **kwargs) -> None:
    """The axes' title, wrapped to the width the axes will have (a title wider than its axes would run past
    the figure's edge and be cut)."""
    fig = ax.figure
    columns = ax.get_subplotspec().get_gridspec().ncols if ax.get_subplotspec() else 1
    width = 0.92 * fig.get_figwidth() / columns  # tight_layout leaves the axes about this wide
    ax.set_title(wrap(text, width, size), fontsize=size, **kwargs)


def label_map(
    ax, coords: np.ndarray, labels: np.ndarray, clusters: Sequence[int], colours: Mapping, names: Mapping[int, str]
) -> int:
    """Each cluster's label (its topic's name, else its number) at its median position, placed by
    :func:`~textcluster.reporting.label_placement.place_labels` so that no two overlap (the smaller cluster's
    label moves, or is left off); returns how many were drawn. The axes must have their final size."""
    fig = ax.figure
    real = [c for c in clusters if c != NOISE]
    if not real:
        return 0
    texts = []
    for cluster in real:
        name = names.get(cluster) or str(cluster)
        name = name if len(name) <= MAP_LABEL_CHARS else name[: MAP_LABEL_CHARS - 1] + "…"
        x, y = np.median(coords[labels == cluster], axis=0)
        box = dict(boxstyle="round,pad=0.2", fc="white", alpha=0.8, ec=colours[cluster], lw=1)
        texts.append(ax.text(x, y, name, fontsize=8, weight="bold", ha="center", va="center", bbox=box, zorder=5))
    ax.set_xlim(ax.get_xlim())  # the limits the points gave: labels must not move them
    ax.set_ylim(ax.get_ylim())
    fig.canvas.draw()  # lays out each label's box, so its size is measured, not guessed
    renderer = fig.canvas.get_renderer()
    extents = [text.get_bbox_patch().get_window_extent(renderer) for text in texts]
    anchors = ax.transData.transform(np.array([text.get_position() for text in texts]))
    sizes = np.array([[extent.width, extent.height] for extent in extents])
    priority = [int((labels == cluster).sum()) for cluster in real]
    frame = ax.get_window_extent(renderer)
    centres = place_labels(anchors, sizes, priority, (frame.x0, frame.y0, frame.x1, frame.y1))
    for text, extent, anchor, centre in zip(texts, extents, anchors, centres):
        if centre is None:
            text.set_visible(False)
            continue
        box_centre = np.array([(extent.x0 + extent.x1) / 2, (extent.y0 + extent.y1) / 2])
        shift = np.asarray(centre) - box_centre  # the box moves to the placed centre, the text with it
        text.set_position(ax.transData.inverted().transform(anchor + shift))
    return sum(centre is not None for centre in centres)


def _save(fig, path: Path, tight: bool = True) -> None:
    plt = _pyplot()
    try:
        if tight:  # the map lays itself out before placing its labels; a second layout would move them
            fig.tight_layout()
        atomic_write(path, lambda handle: fig.savefig(handle, format="png"))
    finally:
        plt.close(fig)
