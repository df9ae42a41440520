"""Progress of a long poll: a tqdm bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Protocol

log = logging.getLogger(__name__)


class Progress(Protocol):
    """What the poller reports progress to."""

    def start(self, label: str, total: int) -> None: ...
    def advance(self, count: int = 1) -> None: ...
    def close(self) -> None: ...


def format_eta(seconds: float) -> str:
    """Return a duration as '42 s', '7 min' or '2 h 05 min'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours, minutes = divmod(int(seconds) // 60, 60)
    return f"{hours} h {minutes:02d} min"


class LogProgress:
    """Logs 'label: done/total, rate, ETA' at most every `every` seconds, and at the end."""

    def __init__(self, every: float = 10.0, clock=time.monotonic):
        self.every, self.clock = every, clock
        self.label, self.total, self.done = "", 0, 0
        self.started = self.last = 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.last = self.clock()
        log.info("%s: %d message(s) to fetch", label, total)

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """Return the progress line: done/total, rate and ETA."""
        elapsed = max((now if now is not None else self.clock()) - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else float("inf")
        eta = format_eta(left) if rate else "unknown"
        return f"{self.label}: {self.done}/{self.total} messages, {rate:.1f}/s, ETA {eta}"

    def close(self) -> None:
        if self.total:
            log.info("%s", self.line())


class TqdmProgress:
    """A tqdm progress bar on stderr (rate and ETA come with it)."""

    def __init__(self) -> None:
        self.bar = None

    def start(self, label: str, total: int) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, desc=label, unit="msg", file=sys.stderr, leave=True)

    def advance(self, count: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def default_progress() -> Progress:
    """Return a tqdm bar when stderr is a terminal, log lines otherwise."""
    return TqdmProgress() if sys.stderr.isatty() else LogProgress()
