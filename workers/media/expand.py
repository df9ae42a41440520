"""Opening a filed message's archives: a durable job, recorded with the filing, run until done.

The `expand` job of an archive item is written in the message's filing transaction
(`jobs.enqueue_filed`), so a crash right after the commit loses nothing: the row
stays pending. The ingesting process runs it right after the commit (`after_filing`);
if it died first, whoever sees the row next runs it — the pool at start-up and every
minute, the sweep, `mailroom media run`, or the poll that fetches the message again
and finds it a duplicate (`resume`). A job is claimed before it runs, so of two that
try at once one does the work.

The members, their derivative jobs and the job's `done` are one transaction: a
failure before the commit leaves no half-opened archive in the index, and the view
files it linked are removed (those a kill leaves are found by `mailroom archive
check`). A machine failure (the disk fills mid-extraction: unpacking raises
ArchiveUnavailable) puts the job back to pending and the archive `pending`, to run
again later, never a member recorded corrupt; any other failure marks the job failed
and the archive corrupt, with the reason.

The same job opens an archive again: a password typed in the web UI puts it back to
pending (storage.media_models.queue_expand), and running it fills in the members that
were locked, keeping the others (workers/media/unpack.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from pipeline.errors import is_transient
from storage.crashpoints import MID_EXPANSION, crash_point
from storage.media_models import MediaJob
from storage.models import Item, Message
from workers.jobs import JobRef
from workers.media import jobs as media_jobs
from workers.media import unpack

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
RUNS = 3  # passwords typed while the archive was being opened: that many runs back to back


def after_filing(ctx: AppContext, jobs: list[JobRef]) -> None:
    """Runs a just-filed message's expand jobs here and now, then submits the other jobs.

    Never raises: the message is filed, and a job that could not run stays in the index.
    """
    for job in (j for j in jobs if j.kind == media_jobs.EXPAND):
        try:
            run_expand(ctx, job.id)
        except Exception:  # the row stays pending or running: the pool or the sweep runs it
            log.exception("cannot open archive job %d now; it runs again later", job.id)
    try:
        ctx.jobs.submit_media([j for j in jobs if j.kind != media_jobs.EXPAND])
    except Exception:  # the rows are pending in the index; `mailroom media run` runs them
        log.exception("cannot submit the media jobs of a filed message; they run later")


def resume(ctx: AppContext, message_pk: int) -> list[JobRef]:
    """Runs what is still unfinished after a message was filed (a duplicate fetched again).

    A message filed by a process killed before its archives were opened is fetched
    again as a duplicate: its pending expand jobs (or a job for an archive filed before
    such jobs existed) run now instead of being hidden by the duplicate. Returns them.
    """
    with ctx.db.session() as session:
        items = list(session.scalars(select(Item).where(Item.message_pk == message_pk)))
        media_jobs.enqueue(session, items)  # any job missing (filed by an older mailroom)
        refs = [
            JobRef(priority, job_id, kind)
            for priority, job_id, kind in session.execute(
                select(MediaJob.priority, MediaJob.id, MediaJob.kind).where(
                    MediaJob.item_id.in_([i.id for i in items]), MediaJob.state == "pending"
                )
            )
        ]
    if refs:
        log.info(
            "message %d was filed before: running its %d unfinished jobs", message_pk, len(refs)
        )
        after_filing(ctx, refs)
    return refs


def run_expand(ctx: AppContext, job_id: int) -> str:
    """Runs one expand job by id; returns done, failed, waiting (machine failure) or skipped.

    A password given while it ran puts the row back to pending: it runs once more
    (RUNS times in a row at most), with the passwords known then.
    """
    result = "skipped"  # another process has it, or it is done
    for _ in range(RUNS):
        with ctx.db.session() as session:
            job = media_jobs.claim(session, job_id)
            if job is None:
                return result
            item_id = job.item_id
        result = _expand_once(ctx, job_id, item_id)
        if result != "done":
            return result
    return result


def _expand_once(ctx: AppContext, job_id: int, item_id: int) -> str:
    """Opens the claimed job's archive: members, their jobs and the job's end in one commit."""
    created: list[str] = []
    try:
        with ctx.db.session() as session:
            item = session.get(Item, item_id)
            made = unpack.expand_archive(ctx, session, item, created) if item is not None else []
            crash_point(MID_EXPANSION)
            message = session.get(Message, item.message_pk) if item is not None else None
            refs = media_jobs.enqueue(session, list(message.items)) if message else []
            media_jobs.settle_claimed(session, job_id, None)
    except Exception as exc:
        _undo(ctx, created)
        return _not_opened(ctx, job_id, item_id, exc)
    except BaseException:  # interrupted (stopping): the row stays running, recovered at start
        _undo(ctx, created)
        raise
    log.info("archive item %d opened: %d members made or filled", item_id, len(made))
    ctx.jobs.submit_media(refs)
    return "done"


def _not_opened(ctx: AppContext, job_id: int, item_id: int, exc: Exception) -> str:
    """Records an archive that could not be opened; returns waiting or failed.

    The machine's fault (the disk filled while unpacking, the index is locked): the
    job goes back to pending, its attempt not counted, and the archive says it waits;
    nothing half-made was kept. Anything else (a bug) marks the archive and the job.
    """
    if is_transient(exc):
        media_jobs.defer(ctx.db, job_id, exc, f"opening archive item {item_id}")
        try:
            with ctx.db.session() as session:
                unpack.mark_pending(session, item_id)
        except Exception as again:  # the index is down too: the job row says it waits
            log.warning("cannot mark archive item %d as waiting: %s", item_id, again)
        return "waiting"
    log.exception("cannot open archive item %d", item_id)
    with ctx.db.session() as session:
        if media_jobs.settle_claimed(session, job_id, f"{type(exc).__name__}: {exc}"):
            unpack.mark_failed(session, item_id, exc)
    return "failed"


def _undo(ctx: AppContext, created: list[str]) -> None:
    for rel in created:
        try:
            ctx.archive.unlink_view(rel)
        except OSError as exc:  # left for `mailroom archive check --repair`
            log.warning("cannot remove %s: %s", rel, exc)
