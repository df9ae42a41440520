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
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from pipeline.errors import MailroomError
from storage.media_models import MediaJob
from storage.models import Item
from workers.media import jobs as media_jobs
from workers.media import unpack

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)


def run_unpack(ctx: AppContext, job_id: int) -> str:
    """Runs one unpack job by id; returns done, failed, waiting (the disk) or skipped."""
    item_id = _claim(ctx, job_id)
    if item_id is None:
        return "skipped"
    created: list[str] = []
    try:
        with ctx.db.session() as session:
            item = session.get(Item, item_id)
            made = unpack.reexpand_archive(ctx, session, item, created)
            jobs = media_jobs.enqueue(session, made)
            media_jobs.settle_job(session, job_id, None, with_item=False)
            name, status = item.name, item.status
    except Exception as exc:
        for rel in created:
            ctx.archive.unlink_view(rel)
        return _failed(ctx, job_id, item_id, exc)
    log.info(
        "archive %s unpacked again: %d members made or opened, now %s", name, len(made), status
    )
    ctx.jobs.submit_media(jobs)
    return "done"


def _claim(ctx: AppContext, job_id: int) -> int | None:
    """Takes a pending job (pending -> running); returns its item id, or None if taken."""
    with ctx.db.session() as session:
        claimed = session.execute(
            update(MediaJob)
            .where(MediaJob.id == job_id, MediaJob.state == "pending")
            .values(
                state="running",
                worker=f"{socket.gethostname()}:{os.getpid()}",
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
        item.error = "归档所在磁盘空间不足或暂时不能写入，压缩包尚未解压完，稍后会自动重试"
        job.error = str(exc)[:4000]
        media_jobs.requeue(job, f"the archive's disk failed on every attempt: {exc}")
        return "waiting"
