"""When the IMAP accounts are polled: one scheduled job per [[mailbox]], with backoff.

A tick polls one account and never raises; after a failed tick the next ones are
skipped for a growing while (Backoff), so a server that is down, a wrong password
or a full disk is tried again without hammering it. IMAP IDLE, when asked for,
wakes the account's job within seconds of new mail.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.errors import MailroomError
from workers.config.mailboxes import MailboxConfig, resolve_password
from workers.sources.imap.poller import poll_account

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)


class Backoff:
    """After failures, skip ticks: wait 1, 2, 4 ... intervals (at most an hour) before retrying."""

    def __init__(self, interval: float, ceiling: float = 3600.0, clock=time.monotonic):
        self.interval, self.ceiling, self.clock = interval, ceiling, clock
        self.failures, self.not_before = 0, 0.0

    def ready(self) -> bool:
        return self.clock() >= self.not_before

    def failed(self) -> float:
        """Count a failure and return how many seconds the next attempt waits."""
        self.failures += 1
        wait = min(self.interval * 2 ** (self.failures - 1), max(self.ceiling, self.interval))
        self.not_before = self.clock() + wait - self.interval  # the tick itself waits interval
        return wait

    def succeeded(self) -> None:
        self.failures, self.not_before = 0, 0.0


def poll_job(ctx: AppContext, cfg: MailboxConfig, stop: threading.Event, backoff: Backoff) -> None:
    """One scheduled tick for one account: poll, log one line, never raise."""
    if stop.is_set() or not backoff.ready():
        return
    try:
        summary = poll_account(ctx, cfg, resolve_password(cfg), stop=stop)
    except Exception as exc:  # a failed tick must not kill the scheduler
        wait = backoff.failed()
        if isinstance(exc, MailroomError):  # one clear line says what to check
            log.error("mailbox %s: %s (next try in %.0f s)", cfg.name, exc, wait)
        else:
            log.exception("mailbox %s: poll failed (next try in %.0f s)", cfg.name, wait)
        return
    if summary.errors:
        backoff.failed()
    else:
        backoff.succeeded()
    if summary.fetched or summary.errors:
        log.info("%s", summary.text())


def register_poll_jobs(scheduler, ctx: AppContext, stop: threading.Event) -> list:
    """Add one interval job per [[mailbox]] to an APScheduler 3 scheduler.

    Accounts with idle = true also get an IDLE watcher thread that runs their
    job at once when the server announces new mail; returns those watchers.
    """
    from workers.sources.imap.idle import IdleWatcher

    watchers = []
    for cfg in ctx.config.mailboxes:
        resolve_password(cfg)  # a missing password is a start-up error, not a tick error
        job = scheduler.add_job(
            poll_job, "interval", seconds=cfg.poll_interval_seconds,
            args=[ctx, cfg, stop, Backoff(cfg.poll_interval_seconds)],
            id=f"imap:{cfg.name}", name=f"poll mailbox {cfg.name}",
            next_run_time=datetime.now().astimezone(),
            max_instances=1, coalesce=True,
        )  # fmt: skip
        log.info(
            "mailbox %s: polling %s (%s) every %ss, after = %s%s",
            cfg.name, cfg.describe(), ", ".join(cfg.folders), cfg.poll_interval_seconds,
            cfg.after, ", IDLE on" if cfg.idle else "",
        )  # fmt: skip
        if cfg.idle:
            watcher = IdleWatcher(cfg, _run_now(scheduler, job.id), stop)
            watcher.start()
            watchers.append(watcher)
    return watchers


def _run_now(scheduler, job_id: str):
    def wake() -> None:
        scheduler.modify_job(job_id, next_run_time=datetime.now().astimezone())

    return wake
