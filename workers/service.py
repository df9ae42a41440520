"""`mailroom run`: one long-running process with the scheduler, the media pool and the web UI.

The scheduler runs in this process only (APScheduler 3 cannot share jobs
between processes); web servers started elsewhere never start it.

SIGTERM (systemd's stop) lets the job in hand finish: a poll stops after the message
it is filing, the media pool hands its running jobs back to the queue. Whatever has
not ended `[service] stop_timeout` seconds later is handed back by force (`stop_within`):
running jobs go back to pending, the pool's processes are killed, this process's
temporary files are removed, and it exits — so systemd never has to kill it, and
nothing is left half-written.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import update

from pipeline.errors import MailroomError
from storage.media_models import MediaJob
from workers.config import WebSettings
from workers.scheduler import Closer, build_scheduler, close_all

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
RUN_JOBS = ("cleanup", "inbox", "mailboxes", "media", "reports")


def run_service(ctx: AppContext) -> None:
    """Runs the scheduler until SIGTERM or SIGINT, then finishes the current message.

    The web UI's port is taken first: if it is in use, nothing starts (MailroomError).
    """
    listener = web_socket(ctx.config.web)
    stop = threading.Event()
    closers: list[Closer] = []
    scheduler = build_scheduler(ctx, stop, RUN_JOBS, closers)
    start_web(ctx, stop, listener)

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
    with stop_within(ctx, ctx.config.service.stop_timeout):
        scheduler.shutdown(wait=True)
        close_all(closers)
    log.info("mailroom stopped")


@contextmanager
def stop_within(ctx: AppContext, seconds: float) -> Iterator[None]:
    """Runs a clean stop; if it has not ended after `seconds`, hands back and exits now."""
    timer = threading.Timer(seconds, _hand_back_and_exit, args=(ctx, seconds))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _hand_back_and_exit(ctx: AppContext, seconds: float) -> None:
    """Ends a stop that hangs: jobs back to pending, workers killed, temporary files removed."""
    log.warning(
        "not stopped within [service] stop_timeout (%g s): handing back the jobs in hand", seconds
    )
    pool = getattr(ctx.jobs, "pool", None)
    workers = pool.worker_pids() if pool is not None else []
    for pid in workers:  # their ffmpeg dies with them (PR_SET_PDEATHSIG)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    mine = [os.getpid(), *workers]
    host = socket.gethostname()
    try:
        with ctx.db.session() as session:
            session.execute(
                update(MediaJob)
                .where(MediaJob.state == "running")
                .where(MediaJob.worker.in_([f"{host}:{pid}" for pid in mine]))
                .values(state="pending", worker=None, attempts=MediaJob.attempts - 1)
            )
    except Exception as exc:  # the index is down: the next start finds them left running
        log.warning("cannot hand the running jobs back now: %s", exc)
    try:
        from workers.upkeep.sweep import sweep_leftovers

        sweep_leftovers(ctx, owners={str(pid) for pid in mine})
    except Exception as exc:  # the next start sweeps them (their process has ended)
        log.warning("cannot remove this process's temporary files: %s", exc)
    log.info("mailroom stopped (forced after %g s)", seconds)
    logging.shutdown()
    os._exit(0)


def warn_if_broker_unused(ctx: AppContext) -> None:
    if ctx.config.queue.distributed:
        log.warning(
            "[queue] broker_url is set, but `mailroom run` does all the work in this process; "
            "on several machines run `mailroom scheduler`, `mailroom worker` and `mailroom serve`"
        )


def web_socket(settings: WebSettings) -> socket.socket | None:
    """Returns the web UI's listening socket ([web] enabled), bound before anything starts.

    uvicorn in a thread only logs "address already in use" and the service would run on
    without its UI; binding here first turns that into one line and exit code 1.
    """
    if not settings.enabled:
        return None
    return listen(settings.host, settings.port)


def listen(host: str, port: int) -> socket.socket:
    """Binds the web UI's socket; a port in use is one line (MailroomError)."""
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        raise MailroomError(
            f"web UI: cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "is another mailroom running? Stop it, or set another [web] port"
        ) from None


def start_web(ctx: AppContext, stop: threading.Event, listener: socket.socket | None) -> None:
    """Starts the web UI in a thread of this process on the socket web_socket bound."""
    settings = ctx.config.web
    if listener is None:
        return
    from web.app import create_app
    from web.server import web_server

    server = web_server(create_app(ctx, settings), settings.host, settings.port)
    threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="web", daemon=True
    ).start()
    threading.Thread(
        target=lambda: (stop.wait(), setattr(server, "should_exit", True)),
        name="web-stop",
        daemon=True,
    ).start()
    log.info("web UI on http://%s:%s", settings.host, settings.port)
