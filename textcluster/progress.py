"""Progress of long work: a tqdm bar on a terminal or in a notebook, else a log line every so often.

``track(total, what, unit)`` gives a handle with ``update(n)``; leaving the
``with`` block closes it. The log lines say how far, the rate and the time
left, so a run in a batch job or CI log is not silent for minutes.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("textcluster.progress")

LOG_EVERY_S = 30.0  # seconds between log lines when stderr is not a terminal


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class LogProgress:
    """The non-terminal form: a line at most every ``every`` seconds, and one at the end."""

    def __init__(self, total: int, what: str, unit: str, every: float = LOG_EVERY_S, done: int = 0):
        self.total, self.what, self.unit, self.every = total, what, unit, every
        self.done = self.started_at_count = done
        self.start = self.last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.every and self.done < self.total:
            self.last = now
            log.info("%s", self.line(now))

    def line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = (self.done - self.started_at_count) / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        share = 100.0 * self.done / self.total if self.total else 100.0
        eta = _duration(left) if left != float("inf") else "unknown"
        return (
            f"{self.what}: {self.done:,}/{self.total:,} {self.unit} ({share:.0f}%), "
            f"{rate:,.1f} {self.unit}/s, {eta} left"
        )

    def close(self) -> None:
        elapsed = time.perf_counter() - self.start
        if elapsed >= self.every:  # a short job needs no closing line
            log.info("%s: %s %s in %s", self.what, f"{self.done:,}", self.unit, _duration(elapsed))


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel, where stderr is no terminal but a bar still shows (and no log
    handler is set up, so the log lines would not)."""
    return "ipykernel" in sys.modules


@contextmanager
def track(total: int, what: str, unit: str = "items", done: int = 0) -> Iterator[LogProgress]:
    """A progress handle for ``total`` units of work (``done`` of them finished already, e.g. on resume)."""
    if sys.stderr.isatty() or in_notebook():
        from tqdm.auto import tqdm  # a widget in Jupyter, text on a terminal

        bar = tqdm(total=total, initial=done, desc=what, unit=f" {unit}", dynamic_ncols=True, leave=False)
        try:
            yield bar
        finally:
            bar.close()
        return
    progress = LogProgress(total, what, unit, done=done)
    try:
        yield progress
    finally:
        progress.close()


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Time the block as ``timings[name]`` (seconds); a stage that took a second or more logs it, so a long
    run's log shows where the time went."""
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start
    if timings[name] >= 1.0:
        log.info("%s: %.1f s", name.removesuffix("_s"), timings[name])
