"""Where topic labels go on a map so that no two overlap: greedy placement, largest topic first.

Both maps (the PNG and the interactive one) call :func:`place_labels` in pixels: each label has an anchor (its
topic's median position) and a box size (its text, measured or estimated). The largest topic is placed first,
at its anchor; each later label tries its anchor, then positions around it at growing distance, and takes the
first whose box stays inside the plot and clear of every box placed so far. A label with no free position
within ``MAX_RINGS`` rings is hidden (``None``): the topic keeps its colour and its row in the topics table, and
a crowded map shows the labels of the largest topics rather than an unreadable pile.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GAP = 2.0  # pixels kept free between two label boxes
MAX_RINGS = 3  # how far a label may move from its anchor: this many box heights (and half-widths)
# unit offsets tried in each ring, nearest to the anchor first: above, below, the sides, the diagonals
DIRECTIONS = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def box_at(centre: Sequence[float], size: Sequence[float]) -> Box:
    (x, y), (w, h) = centre, size
    return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)


def overlap(a: Box, b: Box, gap: float = 0.0) -> bool:
    """Whether two boxes intersect (or come closer than ``gap``); boxes that only touch do not."""
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def inside(box: Box, bounds: Box) -> bool:
    return box[0] >= bounds[0] and box[1] >= bounds[1] and box[2] <= bounds[2] and box[3] <= bounds[3]


def candidates(anchor: Sequence[float], size: Sequence[float]) -> list[tuple[float, float]]:
    """The centres tried for one label, nearest first: the anchor, then ``MAX_RINGS`` rings around it."""
    (x, y), (w, h) = anchor, size
    step_x, step_y = w / 2 + GAP, h + GAP
    found = [(float(x), float(y))]
    for ring in range(1, MAX_RINGS + 1):
        found += [(x + dx * ring * step_x, y + dy * ring * step_y) for dx, dy in DIRECTIONS[1:]]
    return found


def place_labels(
    anchors: np.ndarray, sizes: np.ndarray, priority: Sequence[float], bounds: Box
) -> list[tuple[float, float] | None]:
    """The centre of each label (pixels), or None where it is hidden; no two placed boxes overlap.

    ``anchors``: (n, 2) where each label belongs; ``sizes``: (n, 2) each box's width and height; ``priority``:
    n numbers, the highest placed first (the topic's size); ``bounds``: the plot's box the labels stay in.
    """
    anchors, sizes = np.asarray(anchors, dtype=float).reshape(-1, 2), np.asarray(sizes, dtype=float).reshape(-1, 2)
    if not len(anchors) == len(sizes) == len(priority):
        raise ValueError(
            f"need as many anchors, sizes and priorities; got {len(anchors)}, {len(sizes)}, {len(priority)}"
        )
    placed: list[Box] = []
    centres: list[tuple[float, float] | None] = [None] * len(anchors)
    for i in sorted(range(len(anchors)), key=lambda i: -float(priority[i])):  # stable: ties keep their order
        for centre in candidates(anchors[i], sizes[i]):
            box = box_at(centre, sizes[i])
            if inside(box, bounds) and not any(overlap(box, other, GAP) for other in placed):
                placed.append(box)
                centres[i] = centre
                break
    return centres
