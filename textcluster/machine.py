"""What this machine lets the process use: its cores (the encoders' threads, the UMAP transform's second thread)."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which a container or taskset narrows; os.cpu_count()
    counts the whole machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)
