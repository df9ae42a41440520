"""The jobs themselves: plain functions of (context, ids), run by either dispatcher.

`run_ingest` files one stored raw message, `run_media` makes one item's
derivatives, `run_report` sends one outbox mail. `resubmit_stale` is the sweep:
the index, not the broker, is the record of work, so rows still waiting after
`resubmit_after_minutes` are sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update

from pipeline.errors import is_transient
from storage import layout
from storage.locks import process_gone
from storage.media_models import MediaJob
from workers.ingest_result import IngestOutcome, SourceRef
from workers.jobs import JobRef
from workers.sources.imap import handoff

if TYPE_CHECKING:
    from workers.app import AppContext

# The ingestion, media and mail modules are imported inside the functions that run
# their jobs: the poller submits through here, and a poll of an unchanged mailbox
# should not load the parser, the media decoders or the mailer.
log = logging.getLogger(__name__)


def run_ingest(
    ctx: AppContext,
    raw_sha256: str,
    source_kind: str = "file",
    location: str = "",
    uidvalidity: int | None = None,
    uid: int | None = None,
    received_at: str | None = None,
    declared_size: int | None = None,
) -> IngestOutcome:
    """Ingests the stored raw message with this hash; a second run finds it a duplicate.

    For an IMAP message the UID records queued with these bytes are settled after.
    """
    source = SourceRef(
        source_kind,
        location,
        uidvalidity,
        uid,
        datetime.fromisoformat(received_at) if received_at else None,
        declared_size,
    )
    if source_kind == "imap":
        dead_before = datetime.now(UTC) - timedelta(seconds=ctx.config.queue.time_limit + 60)
        claim = handoff.claim(ctx, raw_sha256, dead_before=dead_before)
        if claim == "busy":
            log.info("message %s is being filed by another job; this copy does nothing", raw_sha256)
            return IngestOutcome("skipped", None)
        if claim == "quarantined":
            return IngestOutcome("error", None, error="quarantined: its jobs never finished")
    try:
        with ctx.archive.open(layout.raw_path(raw_sha256)) as handle:
            raw = handle.read()
        outcome = _ingestor(ctx, f"queue:{source_kind}:{location}").ingest(
            raw, source, sha256=raw_sha256
        )
    except Exception as exc:
        if is_transient(exc):  # the machine's fault: the UIDs wait in the queue, uncounted
            log.warning("message %s waits: %s", raw_sha256[:12], str(exc).splitlines()[0])
            if source_kind == "imap":
                _hand_back(ctx, raw_sha256, exc)
            return IngestOutcome("waiting", None, error=str(exc))
        if source_kind == "imap":  # the raw copy is gone: the UID is fetched again
            problem = f"cannot read the stored raw copy: {type(exc).__name__}: {exc}"
            handoff.settle(ctx, raw_sha256, source, IngestOutcome("error", None, error=problem))
        raise
    if source_kind == "imap":
        handoff.settle(ctx, raw_sha256, source, outcome)
    return outcome


def _hand_back(ctx: AppContext, raw_sha256: str, exc: BaseException) -> None:
    try:
        handoff.wait(ctx, raw_sha256, exc)
    except Exception as again:  # the index is down too: the claim expires and is taken again
        log.warning("cannot hand message %s back to the queue: %s", raw_sha256[:12], again)


def _ingestor(ctx: AppContext, label: str):
    from workers.ingest import Ingestor

    # one IngestRun per process and source, not one per message
    if label not in ctx.ingestors:
        ctx.ingestors[label] = Ingestor(ctx, label)
    return ctx.ingestors[label]


def run_media(ctx: AppContext, job_id: int, *, redelivered: bool = False) -> str:
    """Runs one job after filing by id (open an archive, make derivatives); returns
    done, failed, waiting (a machine failure: it runs again later) or skipped.

    A re-delivered task whose row is still `running` belongs to a worker that died
    (the hard time limit is below the broker's visibility timeout, so a live one
    would have been stopped by now): the row is taken over. Derivatives made in
    place are published to the blob store afterwards.
    """
    from workers.media import jobs as media_jobs

    with ctx.db.session() as session:
        job = session.get(MediaJob, job_id)
        if job is None:
            return "skipped"
        if job.state == "running" and (redelivered or _holder_dead(job.worker)):
            log.warning("media job %d was left running by %s; taking it over", job_id, job.worker)
            job.state = "pending"
        kind = job.kind
    if kind == media_jobs.EXPAND:
        from workers.media.expand import run_expand

        return run_expand(ctx, job_id)
    return media_jobs.run_job(media_jobs.JobEnv.of(ctx), job_id)


def run_media_batch(ctx: AppContext, job_ids: list[int], *, redelivered: bool = False) -> list[str]:
    """Runs several derivative jobs by id in one go; returns each one's result.

    Rows a dead worker left `running` are taken over, as run_media does for one.
    """
    from workers.media import jobs as media_jobs

    with ctx.db.session() as session:
        for job in session.scalars(
            select(MediaJob).where(MediaJob.id.in_(job_ids), MediaJob.state == "running")
        ):
            if redelivered or _holder_dead(job.worker):
                log.warning(
                    "media job %d was left running by %s; taking it over", job.id, job.worker
                )
                job.state = "pending"
    return media_jobs.run_jobs(media_jobs.JobEnv.of(ctx), job_ids)


def _holder_dead(worker: str | None) -> bool:
    host, _, pid = (worker or "").rpartition(":")
    return process_gone(host, pid) is True


def run_report(ctx: AppContext, outbox_id: int) -> str:
    """Sends one outbox mail if pending and due; returns sent, waiting, failed or gone.

    `waiting`: not due yet, being sent by another worker, or this attempt failed and
    the row waits for its next try; `gone`: already sent, given up on, or deleted.
    """
    from storage.report_models import PENDING, SENDING, OutboxMail
    from workers.reports.mailer import send_one

    result = send_one(ctx.db, ctx.config.reports.smtp, outbox_id, datetime.now(UTC))
    if result.sent:
        return "sent"
    if result.failed:
        return "failed"
    with ctx.db.session() as session:
        row = session.get(OutboxMail, outbox_id)
        return "waiting" if row is not None and row.status in (PENDING, SENDING) else "gone"


RUNNERS: dict[str, Callable[..., Any]] = {
    "ingest": run_ingest,
    "media": run_media,
    "report": run_report,
}


# -- the sweep: the index, not the broker, is the record of work -------------------------


def resubmit_stale(ctx: AppContext, now: datetime | None = None) -> int:
    """Re-sends media rows and queued IMAP messages the broker may have lost; returns how many.

    Pending rows created more than `resubmit_after_minutes` ago are sent again (the
    Celery dispatcher remembers in Redis what it sent recently, so a healthy queue is
    not flooded); rows `running` for longer than the hard time limit belong to a
    dead worker and go back to pending first (failed after MAX_ATTEMPTS). IMAP UIDs
    still `queued` after as long get their ingest job again, one per message.
    """
    from workers.media.jobs import MAX_ATTEMPTS

    settings = ctx.config.queue
    now = now or datetime.now(UTC)
    older = now - timedelta(minutes=settings.resubmit_after_minutes)
    dead_since = now - timedelta(seconds=settings.time_limit + 60)
    with ctx.db.session() as session:
        session.execute(
            update(MediaJob)
            .where(
                MediaJob.state == "running",
                MediaJob.started_at < dead_since,
                MediaJob.attempts >= MAX_ATTEMPTS,
            )
            .values(
                state="failed",
                finished_at=now,
                error="the worker died or hit the time limit on every attempt",
            )
        )
        session.execute(
            update(MediaJob)
            .where(MediaJob.state == "running", MediaJob.started_at < dead_since)
            .values(state="pending", worker=None)
        )
        refs = [
            JobRef(*row)
            for row in session.execute(
                select(MediaJob.priority, MediaJob.id, MediaJob.kind)
                .where(
                    MediaJob.state == "pending",
                    or_(MediaJob.created_at < older, MediaJob.started_at < older),
                )
                .order_by(MediaJob.priority, MediaJob.id)
            )
        ]
    sent = ctx.jobs.submit_media(refs, again=True)
    if sent:
        log.info("re-sent %d media jobs that were waiting in the index", sent)
    mail = 0
    for sha, source in handoff.stale(ctx, older, dead_since):
        mail += ctx.jobs.submit_ingest(sha, source, again=True)
    if mail:
        log.info("re-sent %d ingest jobs for IMAP messages still queued in the index", mail)
    return sent + mail
