"""`mailroom worker`, `mailroom scheduler`, `mailroom queue` and `mailroom archive …`.

For a deployment on several machines (README: "Running on several machines"):
one `mailroom scheduler` decides when to poll and report, any number of
`mailroom worker` processes run ingest and media jobs from the Redis broker, and
`mailroom serve` processes show the web UI. The single-machine `mailroom run`
stays as it was.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

import click

from pipeline.errors import MailroomError
from workers.cli.state import State
from workers.config import Config, QueueSettings
from workers.config.queue import QUEUES

log = logging.getLogger(__name__)
LOCK_CHECK_SECONDS = 15
STANDBY_SECONDS = 10


@click.command()
@click.option(
    "--queues",
    default="ingest,media",
    show_default=True,
    metavar="NAMES",
    help="Comma-separated queues to take jobs from: ingest, media.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    metavar="N",
    help="Worker processes (default: [queue] ingest_concurrency / media_concurrency).",
)
@click.option(
    "--name", metavar="NAME", help="Celery node name (default: mailroom-QUEUES-PID@host)."
)
@click.pass_obj
def worker(state: State, queues: str, concurrency: int | None, name: str | None) -> None:
    """Run background jobs from the broker ([queue] broker_url) until stopped.

    Run one per queue to give each its own concurrency, on as many machines as needed.

    Example: mailroom worker --queues media --concurrency 2
    """
    from storage.db import Database
    from storage.locks import migration_lock
    from workers.app import open_context, setup_logging
    from workers.jobs.celery import make_celery

    config = state.config()  # every section built and checked, as any command does
    settings = config.queue
    names = _queue_names(queues)
    if not settings.distributed:
        raise MailroomError(
            f"mailroom worker needs a broker: set [queue] broker_url in "
            f"{config.label} or MAILROOM_BROKER_URL"
        )
    setup_logging(config.log_level if not state.debug else "DEBUG")
    with migration_lock(Database(config.storage.database_url)):
        open_context(config).close()  # migrate here, one at a time; each process opens its own
    processes = concurrency or _default_concurrency(settings, names)
    node = name or f"mailroom-{'-'.join(names)}-{os.getpid()}@{socket.gethostname()}"
    log.info(
        "worker %s: queues %s, %d processes, broker %s",
        node,
        ",".join(names),
        processes,
        _redact(settings.broker_url),
    )
    make_celery(settings, _worker_context_opener(config)).worker_main(
        [
            "worker",
            "--queues",
            ",".join(names),
            "--concurrency",
            str(processes),
            "--hostname",
            node,
            "--loglevel",
            config.log_level,
            "--without-mingle",
            "--without-gossip",
        ]
    )


def _worker_context_opener(config: Config):
    """Returns how a worker process opens its context: from this config object, which the
    prefork pool's processes inherit (they never re-read config.toml)."""

    def open_worker_context():
        from workers.app import open_context, setup_logging

        setup_logging(config.log_level)
        return open_context(config, migrate=False, distributed=True)  # its jobs go to the broker

    return open_worker_context


def _queue_names(queues: str) -> list[str]:
    names = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = [q for q in names if q not in QUEUES]
    if not names or unknown:
        raise MailroomError(
            f"unknown queue {unknown[0] if unknown else '(none)'}: use {', '.join(QUEUES)}"
        )
    return names


def _default_concurrency(settings: QueueSettings, names: list[str]) -> int:
    per_queue = {"ingest": settings.ingest_concurrency, "media": settings.media_concurrency}
    return sum(per_queue[q] for q in names)


def _redact(url: str | None) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    return (
        parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()
        if parts.hostname
        else "(none)"
    )


# -- the scheduler -------------------------------------------------------------------------


@click.command()
@click.pass_obj
def scheduler(state: State) -> None:
    """Run the one scheduler of a multi-machine set-up: polls and reports, no web UI.

    A second scheduler started by mistake waits as a standby and acts only when the
    first stops (PostgreSQL advisory lock; a lease row on SQLite).

    Example: mailroom --config /etc/mailroom/config.toml scheduler
    """
    from storage.locks import SingletonLock

    ctx = state.app(distributed=True)
    settings = ctx.config.queue
    stop = threading.Event()
    _on_signals(stop)
    lock = SingletonLock(ctx.db, "scheduler")
    if not _wait_for_lock(lock, stop):
        return
    try:
        run_scheduler(ctx, settings, lock, stop)
    finally:
        lock.release()


def _on_signals(stop: threading.Event) -> None:
    def _stop(signum, _frame) -> None:
        log.info("received %s: stopping after the current job", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def _wait_for_lock(lock, stop: threading.Event) -> bool:
    """Returns True once this process holds the lock; False if stopped while waiting."""
    told = False
    while not lock.try_acquire():
        if not told:
            log.warning(
                "another mailroom scheduler is running (%s): standing by",
                lock.current_holder() or "unknown",
            )
            told = True
        if stop.wait(STANDBY_SECONDS):
            return False
    log.info("this process is the scheduler (%s)", lock.holder)
    return True


def run_scheduler(ctx, settings: QueueSettings, lock, stop: threading.Event) -> None:
    """Runs the scheduled jobs (no web UI; media in workers when a broker is set)."""
    from workers.scheduler import build_scheduler, close_all
    from workers.service import stop_within

    names = ["cleanup", "inbox", "mailboxes", "reports"]
    names.append("sweep" if settings.distributed else "media")
    closers: list = []
    sched = build_scheduler(ctx, stop, names, closers)
    sched.add_job(
        _check_lock,
        "interval",
        args=[lock, stop],
        seconds=LOCK_CHECK_SECONDS,
        id="scheduler-lock",
        name="keep the scheduler lock",
    )
    sched.start()
    log.info("mailroom scheduler running: jobs %s", ", ".join(job.id for job in sched.get_jobs()))
    stop.wait()
    with stop_within(ctx, ctx.config.service.stop_timeout):
        sched.shutdown(wait=True)
        close_all(closers)
    log.info("mailroom scheduler stopped")


def _check_lock(lock, stop: threading.Event) -> None:
    if not lock.still_held():
        log.error(
            "the scheduler lock was lost (database connection?): stopping; "
            "systemd restarts this process as a standby"
        )
        stop.set()


# -- mailroom queue -------------------------------------------------------------------


@click.group(name="queue")
def queue_group() -> None:
    """The background job queue of a multi-machine set-up.

    Example: mailroom queue status
    """


@queue_group.command(name="status")
@click.pass_obj
def queue_status(state: State) -> None:
    """Show the broker's queue lengths next to the jobs waiting in the index.

    Example: mailroom queue status
    """
    from storage import mailbox_state
    from workers.media import jobs as media_jobs

    ctx = state.app(distributed=True)
    if ctx.jobs.distributed:
        lengths = ctx.jobs.queue_lengths()
        click.echo("broker: " + ", ".join(f"{q} {n} waiting" for q, n in lengths.items()))
    else:
        click.echo("broker: none (jobs run inside mailroom run / ingest / poll)")
    with ctx.db.session() as session:
        counts = media_jobs.queue_counts(session)
    by_state: dict[str, int] = {}
    for (_, job_state), n in counts.items():
        by_state[job_state] = by_state.get(job_state, 0) + n
    click.echo(
        "index, media jobs: "
        + ", ".join(f"{s} {by_state.get(s, 0)}" for s in ("pending", "running", "done", "failed"))
    )
    with ctx.db.session() as session:
        mail = mailbox_state.waiting_counts(session)
    click.echo(
        f"index, IMAP mail for the ingest workers: queued {mail.get('queued', 0)}, "
        f"being filed {mail.get('ingesting', 0)}"
    )


@queue_group.command(name="resubmit")
@click.pass_obj
def queue_resubmit(state: State) -> None:
    """Send jobs waiting in the index (media, queued IMAP mail) to the broker again.

    Example: mailroom queue resubmit
    """
    from datetime import UTC, datetime, timedelta

    from workers.jobs.runners import resubmit_stale

    ctx = state.app(distributed=True)
    later = datetime.now(UTC) + timedelta(minutes=ctx.config.queue.resubmit_after_minutes)
    click.echo(f"{resubmit_stale(ctx, now=later)} jobs sent (media and queued IMAP mail)")


# -- mailroom archive check | rebuild-view ----------------------------------------------


@click.group(name="archive")
def archive_group() -> None:
    """The archive's files and its readable folder view.

    Example: mailroom archive rebuild-view
    """


@archive_group.command(name="check")
@click.option(
    "--repair",
    "fix",
    is_flag=True,
    help="Fix what can be fixed from the raw copies (links, objects, derivatives, archives).",
)
@click.option("--quick", is_flag=True, help="Do not read every object to check its hash.")
@click.pass_obj
def check(state: State, fix: bool, quick: bool) -> None:
    """Verify the archive against the index: every object's hash, no orphan, no missing file.

    Lists each problem (an object that does not match its hash, an item without its
    file, a file in the readable tree no item points at, an archive never opened, a
    temporary file a crash left) and exits 1 while any is left. --repair links views
    again, writes objects again from the raw messages, makes derivatives again,
    opens archives and sweeps leftovers; what it cannot fix stays listed.

    Example: mailroom archive check --repair
    """
    from workers.media.pool import serve_media
    from workers.upkeep.check import check_archive
    from workers.upkeep.repair import repair

    ctx = state.app()
    report = check_archive(ctx, hashes=not quick)
    if fix and repair(ctx, report):
        with serve_media(ctx, finish=True):
            pass  # runs the jobs queued again (derivatives, archives to open)
    for finding in report.findings:
        click.echo(finding.line())
    click.echo(report.summary())
    left = report.open_problems()
    if left:
        hint = "" if fix else "; `mailroom archive check --repair` fixes what it can"
        raise MailroomError(f"{len(left)} problems in the archive{hint}")


@archive_group.command(name="rebuild-view")
@click.pass_obj
def rebuild_view(state: State) -> None:
    """Recreate the readable folder tree from the index (hard links to the objects).

    With [storage] backend = "s3" the objects are downloaded into the local cache
    first, so any machine can have its own browsable copy.

    Example: mailroom archive rebuild-view
    """
    ctx = state.app()
    made, kept, missing = rebuild(ctx)
    click.echo(f"view: {made} files linked, {kept} already there, {missing} objects missing")


def rebuild(ctx) -> tuple[int, int, int]:
    """Links every filed item's object at its view path; returns (made, kept, missing)."""
    from sqlalchemy import select

    from storage.models import Item

    with ctx.db.session() as session:
        rows = session.execute(
            select(Item.blob_path, Item.path).where(
                Item.blob_path.is_not(None), Item.path.is_not(None)
            )
        ).all()
    made = kept = missing = 0
    for blob_rel, view_rel in rows:
        if not ctx.archive.abspath(blob_rel).exists():
            missing += 1
            continue
        if ctx.archive.abspath(view_rel).exists():
            kept += 1
            continue
        ctx.archive.link(blob_rel, view_rel)
        made += 1
    return made, kept, missing
