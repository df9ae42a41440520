"""`mailroom run`: one long-running process with the APScheduler scheduler.

The scheduler runs in this process only (APScheduler 3 cannot share jobs
between processes); web servers started elsewhere never start it. Other
modules add their jobs through JOB_REGISTRARS.

The command modules import this one for JOB_REGISTRARS, so APScheduler and the
folder source are imported where they are used, not here.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

    from workers.context import AppContext

log = logging.getLogger(__name__)

# Functions (scheduler, ctx, stop_event) that add jobs; modules append to this. One may
# return a closer, called after the scheduler has stopped (e.g. to stop a worker pool).
Registrar = Callable[
    ["BackgroundScheduler", "AppContext", threading.Event], Callable[[], None] | None
]
JOB_REGISTRARS: list[Registrar] = []


def load_registrars() -> list[Registrar]:
    """Returns JOB_REGISTRARS once every module that appends to it has been imported.

    `mailroom` imports a command's module only when that command runs, so the
    scheduler's own command imports the ones that add jobs here.
    """
    from workers import imap_commands, media_commands, report_commands, web_commands  # noqa: F401

    return JOB_REGISTRARS


def build_scheduler(
    ctx: AppContext, stop: threading.Event, closers: list[Callable[[], None]] | None = None
) -> BackgroundScheduler:
    """Returns a scheduler with the inbox job and every registered job added.

    What the registrars need done at shutdown is appended to `closers`; the caller
    runs them after `scheduler.shutdown()` (see run_service).
    """
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        timezone=ctx.campaign.timezone,
        # Never two runs of a job at once; after a pause run it once, not N times.
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 3600},
    )
    scheduler.add_job(
        _inbox_job,
        "interval",
        args=[ctx, stop],
        id="inbox",
        seconds=ctx.config.source.poll_interval_seconds,
        next_run_time=_now(ctx),
        name="poll the inbox folder",
    )
    for register in load_registrars():
        closer = register(scheduler, ctx, stop)
        if closer is not None and closers is not None:
            closers.append(closer)
    return scheduler


def close_all(closers: list[Callable[[], None]]) -> None:
    """Runs the registrars' closers, newest first; one failing does not stop the rest."""
    for closer in reversed(closers):
        try:
            closer()
        except Exception:
            log.exception("a component did not stop cleanly")


def _now(ctx: AppContext):
    from datetime import datetime

    return datetime.now(ctx.campaign.tz)


def _inbox_job(ctx: AppContext, stop: threading.Event) -> None:
    from workers.folder_source import poll_inbox

    try:
        poll_inbox(ctx, stop)
    except Exception:  # a failed tick is logged; the next tick tries again
        log.exception("the inbox folder poll failed; it runs again on the next tick")


def _warn_if_broker_unused(ctx: AppContext) -> None:
    from workers.scale_config import queue_settings

    if queue_settings(ctx.config).distributed:
        log.warning(
            "[queue] broker_url is set, but `mailroom run` does all the work in this process; "
            "on several machines run `mailroom scheduler`, `mailroom worker` and `mailroom serve`"
        )


def run_service(ctx: AppContext) -> None:
    """Runs the scheduler until SIGTERM or SIGINT, then finishes the current message."""
    stop = threading.Event()
    closers: list[Callable[[], None]] = []
    scheduler = build_scheduler(ctx, stop, closers)

    def _stop(signum, _frame) -> None:
        log.info(
            "received %s: finishing the current message, then stopping", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler.start()
    log.info(
        "mailroom running: inbox %s every %ss, archive %s, index %s",
        ctx.config.source.inbox_dir,
        ctx.config.source.poll_interval_seconds,
        ctx.config.storage.archive_dir,
        ctx.db.engine.url.render_as_string(),
    )
    _warn_if_broker_unused(ctx)
    stop.wait()
    scheduler.shutdown(wait=True)
    close_all(closers)
    log.info("mailroom stopped")
