"""The `unpack` media job: open an archive item again, when a password arrives or the disk
that stopped its first unpacking has room again.

Queued in the index (storage.archive_passwords.queue_unpack) like any media job and
run by id wherever media jobs run: in the in-process pool (in a thread of the pool's
own process, which holds the whole context) or by a Celery worker. The members it
makes or fills in get their derivative jobs at once.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from pipeline.errors import MailroomError
from storage.media_models import MediaJob
from storage.models import Item
from workers.jobs import JobRef
from workers.media import jobs as media_jobs
from workers.media import unpack

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
Submit = Callable[[list[JobRef]], Any]


RUNS = 3  # passwords typed while a run was going: that many runs back to back at most


def run_unpack(ctx: AppContext, job_id: int, submit: Submit | None = None) -> str:
    """Runs one unpack job by id; returns done, failed, waiting (the disk) or skipped.

    The members' derivative jobs go to `submit` (the pool running this job passes its
    own: the context's dispatcher lets go of a pool that is finishing), else to
    ctx.jobs. A password given while it ran puts the row back to pending: it runs again.
    """
    result = "skipped"
    for _ in range(RUNS):
        item_id = _claim(ctx, job_id)
        if item_id is None:
            return result
        result = _run_once(ctx, job_id, item_id, submit or ctx.jobs.submit_media)
        if result != "done":
            return result
    return result


def _run_once(ctx: AppContext, job_id: int, item_id: int, submit: Submit) -> str:
    created: list[str] = []
    try:
        with ctx.db.session() as session:
            item = session.get(Item, item_id)
            made = unpack.reexpand_archive(ctx, session, item, created)
            jobs = media_jobs.enqueue(session, made)
            _settle_mine(session, job_id)
            name, status = item.name, item.status
    except Exception as exc:
        for rel in created:
            ctx.archive.unlink_view(rel)
        return _failed(ctx, job_id, item_id, exc)
    log.info(
        "archive %s unpacked again: %d members made or opened, now %s", name, len(made), status
    )
    submit(jobs)
    return "done"


def _settle_mine(session, job_id: int) -> None:
    """Marks the job done unless a new password put it back to pending meanwhile."""
    session.execute(
        update(MediaJob)
        .where(MediaJob.id == job_id, MediaJob.state == "running", MediaJob.worker == _me())
        .values(state="done", error=None, finished_at=datetime.now(UTC))
    )


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim(ctx: AppContext, job_id: int) -> int | None:
    """Takes a pending job (pending -> running); returns its item id, or None if taken."""
    with ctx.db.session() as session:
        claimed = session.execute(
            update(MediaJob)
            .where(MediaJob.id == job_id, MediaJob.state == "pending")
            .values(
                state="running",
                worker=_me(),
                attempts=MediaJob.attempts + 1,
                started_at=datetime.now(UTC),
                error=None,
            )
        ).rowcount
        if not claimed:
            return None
        return session.scalar(select(MediaJob.item_id).where(MediaJob.id == job_id))


def _failed(ctx: AppContext, job_id: int, item_id: int, exc: Exception) -> str:
    """Records a failed run: the machine's fault waits for another try, anything else fails."""
    transient = isinstance(exc, MailroomError) and exc.transient
    if transient:
        log.warning("archive item %d is to be unpacked again later: %s", item_id, exc)
    else:
        log.exception("unpack job %d (archive item %d) failed", job_id, item_id)
    with ctx.db.session() as session:
        job = session.get(MediaJob, job_id)
        if not transient:
            job.state, job.finished_at = "failed", datetime.now(UTC)
            job.error = f"{type(exc).__name__}: {exc}"[:4000]
            return "failed"
        item = session.get(Item, item_id)
        item.status = unpack.PENDING
        item.error = unpack.PENDING_REASON
        job.error = str(exc)[:4000]
        media_jobs.requeue(job, f"the archive's disk failed on every attempt: {exc}")
        return "waiting"
