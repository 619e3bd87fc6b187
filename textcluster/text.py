"""Small text helpers shared by the topics (representative texts in a model) and the run folder's files."""

from __future__ import annotations


def snippet(text: str, limit: int) -> str:
    """A text on one line, cut to ``limit`` characters (an ellipsis marks the cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
