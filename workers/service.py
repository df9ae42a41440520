"""`mailroom run`: one long-running process with the scheduler, the media pool and the web UI.

The scheduler runs in this process only (APScheduler 3 cannot share jobs
between processes); web servers started elsewhere never start it.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

from workers.scheduler import Closer, build_scheduler, close_all

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
RUN_JOBS = ("cleanup", "inbox", "mailboxes", "media", "reports")


def run_service(ctx: AppContext) -> None:
    """Runs the scheduler until SIGTERM or SIGINT, then finishes the current message."""
    stop = threading.Event()
    closers: list[Closer] = []
    scheduler = build_scheduler(ctx, stop, RUN_JOBS, closers)
    start_web(ctx, stop)

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
    warn_if_broker_unused(ctx)
    stop.wait()
    scheduler.shutdown(wait=True)
    close_all(closers)
    log.info("mailroom stopped")


def warn_if_broker_unused(ctx: AppContext) -> None:
    if ctx.config.queue.distributed:
        log.warning(
            "[queue] broker_url is set, but `mailroom run` does all the work in this process; "
            "on several machines run `mailroom scheduler`, `mailroom worker` and `mailroom serve`"
        )


def start_web(ctx: AppContext, stop: threading.Event) -> None:
    """Starts the web UI in a thread of this process when [web] enabled = true."""
    settings = ctx.config.web
    if not settings.enabled:
        return
    from web.app import create_app
    from web.server import web_server

    server = web_server(create_app(ctx, settings), settings.host, settings.port)
    threading.Thread(target=server.run, name="web", daemon=True).start()
    threading.Thread(
        target=lambda: (stop.wait(), setattr(server, "should_exit", True)),
        name="web-stop",
        daemon=True,
    ).start()
    log.info("web UI on http://%s:%s", settings.host, settings.port)
