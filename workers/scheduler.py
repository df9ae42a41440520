"""The APScheduler of `mailroom run` and `mailroom scheduler`: each job registered by name.

APScheduler 3 cannot share its jobs between processes, so the scheduler runs in
one process only (`mailroom run`, or the one `mailroom scheduler` holding the
lock); web servers never start it. `JOBS` maps a name to the function that adds
that feature's jobs; the command that runs the scheduler says which names it wants.
Jobs are a few lines each and call handlers that are testable without a scheduler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
MEDIA_RESUBMIT_SECONDS = 60  # how often the media pool picks up rows queued by other processes
CLEANUP_SECONDS = 3600  # how often crash leftovers are swept (and once at start)

Closer = Callable[[], None]
# (scheduler, ctx, stop) -> a closer to run after the scheduler has stopped, or None
Registrar = Callable[[BackgroundScheduler, "AppContext", threading.Event], Closer | None]


def add_inbox(scheduler: BackgroundScheduler, ctx: AppContext, stop: threading.Event) -> None:
    """Polls the inbox folder every [source] poll_interval_seconds, at once on start."""
    scheduler.add_job(
        _inbox_tick,
        "interval",
        args=[ctx, stop],
        id="inbox",
        seconds=ctx.config.source.poll_interval_seconds,
        next_run_time=datetime.now(ctx.campaign.tz),
        name="poll the inbox folder",
    )


def _inbox_tick(ctx: AppContext, stop: threading.Event) -> None:
    from workers.sources.inbox import poll_inbox  # the parser: loaded on the first tick

    try:
        poll_inbox(ctx, stop)
    except Exception:  # a failed tick is logged; the next tick tries again
        log.exception("the inbox folder poll failed; it runs again on the next tick")


def add_mailboxes(scheduler: BackgroundScheduler, ctx: AppContext, stop: threading.Event) -> None:
    """One poll job per [[mailbox]] (and IMAP IDLE watchers, which end with `stop`)."""
    from workers.sources.imap.schedule import register_poll_jobs

    register_poll_jobs(scheduler, ctx, stop)


def add_media_pool(
    scheduler: BackgroundScheduler, ctx: AppContext, stop: threading.Event
) -> Closer:
    """Runs the media pool beside the scheduler; polls only queue its jobs.

    Returns the closer that stops the pool; it runs after the scheduler has stopped,
    so the workers never outlive the service.
    """
    from workers.media.pool import serve_media

    serving = serve_media(ctx, finish=False)
    pool = serving.__enter__()
    scheduler.add_job(
        pool.submit_pending,
        "interval",
        seconds=MEDIA_RESUBMIT_SECONDS,
        id="media-resubmit",
        name="pick up queued media jobs",
    )
    return lambda: serving.__exit__(None, None, None)


def add_reports(scheduler: BackgroundScheduler, ctx: AppContext, stop: threading.Event) -> None:
    """The daily report at [report] time and the one-minute reports tick."""
    from workers.reports.jobs import register_report_jobs

    register_report_jobs(scheduler, ctx, stop)


def add_sweep(scheduler: BackgroundScheduler, ctx: AppContext, stop: threading.Event) -> None:
    """With a broker: re-sends jobs the broker may have lost, from the index."""
    scheduler.add_job(
        _sweep,
        "interval",
        args=[ctx],
        id="queue-resubmit",
        seconds=max(30, ctx.config.queue.resubmit_after_minutes * 30),
        name="re-send jobs the broker may have lost (media, queued IMAP mail)",
    )


def _sweep(ctx: AppContext) -> None:
    from workers.jobs.runners import resubmit_stale

    try:
        resubmit_stale(ctx)
    except Exception:  # the broker is down: the rows wait in the index for the next tick
        log.exception("cannot re-send waiting jobs; trying again on the next tick")


def add_cleanup(scheduler: BackgroundScheduler, ctx: AppContext, stop: threading.Event) -> None:
    """Sweeps the temporary files crashed processes left in the archive: at start, then hourly."""
    from workers.upkeep.sweep import sweep_job

    scheduler.add_job(
        sweep_job,
        "interval",
        args=[ctx],
        id="cleanup",
        seconds=CLEANUP_SECONDS,
        next_run_time=datetime.now(ctx.campaign.tz),
        name="remove temporary files left by crashed processes",
    )


JOBS: dict[str, Registrar] = {
    "cleanup": add_cleanup,
    "inbox": add_inbox,
    "mailboxes": add_mailboxes,
    "media": add_media_pool,
    "reports": add_reports,
    "sweep": add_sweep,
}


def build_scheduler(
    ctx: AppContext,
    stop: threading.Event,
    names: Iterable[str],
    closers: list[Closer] | None = None,
) -> BackgroundScheduler:
    """Returns a scheduler with the named jobs added (see JOBS).

    What a job needs done at shutdown is appended to `closers`; the caller runs
    them after `scheduler.shutdown()` (see close_all).
    """
    scheduler = BackgroundScheduler(
        timezone=ctx.campaign.timezone,
        # Never two runs of a job at once; after a pause run it once, not N times.
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 3600},
    )
    for name in names:
        closer = JOBS[name](scheduler, ctx, stop)
        if closer is not None and closers is not None:
            closers.append(closer)
    return scheduler


def close_all(closers: list[Closer]) -> None:
    """Runs the closers, newest first; one failing does not stop the rest."""
    for closer in reversed(closers):
        try:
            closer()
        except Exception:
            log.exception("a component did not stop cleanly")
