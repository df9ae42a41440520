"""The one submit interface in front of every background job.

`submit(kind, **ids)` hands over one job: `ingest` (one fetched message, by the
SHA-256 of its raw bytes, already in the archive's store), `media` (one derivative
job row, by id) or `report` (one outbox mail, by id). Arguments are ids and hashes
only, never bytes or paths, so any machine can run the job from the shared index
and object store.

With no `[queue] broker_url` the jobs run in this process, as they always did:
ingest and report inline, media in the in-process pool (workers/media_jobs.py).
With a broker, Celery workers run them (workers/celery_app.py), and the outbox
flush of `mailroom scheduler` submits each due mail as a `report` job. Either way the
index is the truth: a media row is `pending` until a worker claims it, an IMAP
UID `queued` until its ingest job settles it (workers/queued_mail.py), so a job
sent twice runs once, and `resubmit_stale()` re-sends rows a lost broker forgot.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update

from pipeline.errors import MailroomError
from storage.locks import process_gone
from storage.media_models import MediaJob
from workers import queued_mail
from workers.context import AppContext
from workers.ingest_result import IngestOutcome, SourceRef
from workers.scale_config import QueueSettings

# The ingestion, media and mail modules are imported inside the functions that run
# their jobs: the poller imports this module, and a poll of an unchanged mailbox
# should not load the parser, the media decoders or the mailer.
log = logging.getLogger(__name__)
KINDS = ("ingest", "media", "report")
QUEUE_OF = {"ingest": "ingest", "report": "ingest", "media": "media"}
TASK_OF = {"ingest": "mailroom.ingest", "media": "mailroom.media", "report": "mailroom.report"}


class Backend(Protocol):
    def send(self, kind: str, ids: dict[str, Any]) -> None: ...


_backend: Backend | None = None


def submit(kind: str, **ids: Any) -> None:
    """Hands one job to the configured backend (in-process unless a broker is set)."""
    if kind not in KINDS:
        raise MailroomError(f"unknown job kind {kind!r}: use one of {', '.join(KINDS)}")
    bad = [k for k, v in ids.items() if not isinstance(v, str | int | type(None))]
    if bad:
        raise MailroomError(f"job arguments are ids and hashes only; {bad[0]} is not")
    if _backend is None:
        raise MailroomError("no job backend: call workers.queue.configure(ctx) first")
    _backend.send(kind, ids)


def configure(ctx: AppContext, settings: QueueSettings) -> Backend:
    """Chooses the backend for this process from [queue]; returns it."""
    from workers import media_jobs
    from workers.reports import mailer

    global _backend
    if settings.distributed:
        from workers.celery_app import CeleryBackend, make_celery

        _backend = CeleryBackend(make_celery(settings), settings)
        media_jobs._backend = _backend.media()  # new derivative jobs go to the broker too
        mailer._hand_over = _hand_over_report  # and the outbox's due mail, as report jobs
    else:
        _backend = InProcessBackend(ctx)
    return _backend


def distributed() -> bool:
    """Return True when configure() chose a broker: jobs then run on worker machines."""
    return _backend is not None and not isinstance(_backend, InProcessBackend)


def reset() -> None:
    """Forgets the configured backend (tests, and processes that switch config)."""
    from workers import media_jobs
    from workers.reports import mailer

    global _backend
    _backend = None
    media_jobs._backend = None
    mailer._hand_over = None


def offer_message(ctx: AppContext, raw: bytes, source: SourceRef) -> str:
    """Stores a fetched message's raw bytes, submits its ingestion; returns its SHA-256."""
    sha, _ = ctx.archive.put_raw(raw)
    submit_ingest(sha, source)
    return sha


def submit_ingest(raw_sha256: str, source: SourceRef) -> None:
    """Submits the ingestion of a message whose raw bytes are already in the store."""
    submit("ingest", **_ingest_ids(raw_sha256, source))


def _ingest_ids(raw_sha256: str, source: SourceRef) -> dict[str, Any]:
    received = source.received_at.isoformat() if source.received_at else None
    return {
        "raw_sha256": raw_sha256,
        "source_kind": source.kind,
        "location": source.location,
        "uidvalidity": source.uidvalidity,
        "uid": source.uid,
        "received_at": received,
    }


# -- the jobs themselves: plain functions of (context, ids), run by either backend ------


def run_ingest(
    ctx: AppContext,
    raw_sha256: str,
    source_kind: str = "file",
    location: str = "",
    uidvalidity: int | None = None,
    uid: int | None = None,
    received_at: str | None = None,
) -> IngestOutcome:
    """Ingests the stored raw message with this hash; a second run finds it a duplicate.

    For an IMAP message the UID records queued with these bytes are settled after.
    """
    from storage import layout

    source = SourceRef(
        source_kind,
        location,
        uidvalidity,
        uid,
        datetime.fromisoformat(received_at) if received_at else None,
    )
    if source_kind == "imap":
        from workers.scale_config import queue_settings

        limit = queue_settings(ctx.config).time_limit + 60
        dead_before = datetime.now(UTC) - timedelta(seconds=limit)
        claim = queued_mail.claim(ctx, raw_sha256, dead_before=dead_before)
        if claim == "busy":
            log.info("message %s is being filed by another job; this copy does nothing", raw_sha256)
            return IngestOutcome("skipped", None)
        if claim == "quarantined":
            return IngestOutcome("error", None, error="quarantined: its jobs never finished")
    try:
        with ctx.archive.open(layout.raw_path(raw_sha256)) as handle:
            raw = handle.read()
    except Exception as exc:  # the UID is fetched again from the mailbox, then raised here
        if source_kind == "imap":
            problem = f"cannot read the stored raw copy: {type(exc).__name__}: {exc}"
            queued_mail.settle(ctx, raw_sha256, source, IngestOutcome("error", None, error=problem))
        raise
    outcome = _ingestor(ctx, f"queue:{source_kind}:{location}").ingest(raw, source)
    if source_kind == "imap":
        queued_mail.settle(ctx, raw_sha256, source, outcome)
    return outcome


_ingestors: dict[tuple[int, str], Any] = {}  # Ingestor by (process, source)


def _ingestor(ctx: AppContext, label: str):
    from workers.ingest import Ingestor

    # one IngestRun per process and source, not one per message
    key = (os.getpid(), label)
    if key not in _ingestors:
        _ingestors[key] = Ingestor(ctx, label)
    return _ingestors[key]


def run_media(ctx: AppContext, job_id: int, *, redelivered: bool = False) -> str:
    """Runs one derivative job by id; returns done, failed or skipped.

    A re-delivered task whose row is still `running` belongs to a worker that died
    (the hard time limit is below the broker's visibility timeout, so a live one
    would have been stopped by now): the row is taken over. Derivatives made in
    place are published to the blob store afterwards.
    """
    from workers import media_jobs

    with ctx.db.session() as session:
        job = session.get(MediaJob, job_id)
        if job is None:
            return "skipped"
        if job.state == "running" and (redelivered or _holder_dead(job.worker)):
            log.warning("media job %d was left running by %s; taking it over", job_id, job.worker)
            job.state = "pending"
    _init_media_worker(ctx)
    return media_jobs.run_job(job_id)  # it uploads derivatives to a remote store itself


def _holder_dead(worker: str | None) -> bool:
    host, _, pid = (worker or "").rpartition(":")
    return process_gone(host, pid) is True


def _init_media_worker(ctx: AppContext) -> None:
    # media_jobs.run_job reads a per-process global; ours shares this context's store
    from workers import derive, media_jobs

    if media_jobs._worker is None or media_jobs._worker[1] is not ctx.archive:
        media_jobs._worker = (ctx.db, ctx.archive, derive.media_settings(ctx.config))


def run_report(ctx: AppContext, outbox_id: int) -> str:
    """Sends one outbox mail if pending and due; returns sent, waiting, failed or gone.

    `waiting`: not due yet, being sent by another worker, or this attempt failed and
    the row waits for its next try; `gone`: already sent, given up on, or deleted.
    """
    from storage.report_models import PENDING, SENDING, OutboxMail
    from workers.reports.mailer import send_one
    from workers.reports.settings import report_config

    result = send_one(ctx.db, report_config(ctx.config).smtp, outbox_id, datetime.now(UTC))
    if result.sent:
        return "sent"
    if result.failed:
        return "failed"
    with ctx.db.session() as session:
        row = session.get(OutboxMail, outbox_id)
        return "waiting" if row is not None and row.status in (PENDING, SENDING) else "gone"


def _hand_over_report(outbox_id: int, attempts: int) -> int:
    # Called by every scheduler tick for each due mail: the mark per attempt keeps a
    # slow or stopped worker from collecting a copy of the job every minute.
    return _backend.send_if_stale(
        "report", {"outbox_id": outbox_id}, mark=f"{outbox_id}.{attempts}"
    )


RUNNERS: dict[str, Callable[..., Any]] = {
    "ingest": run_ingest,
    "media": run_media,
    "report": run_report,
}


# -- in-process backend ------------------------------------------------------------------


@dataclass
class InProcessBackend:
    """Today's behaviour: ingest and reports inline, media through the local pool."""

    ctx: AppContext

    def send(self, kind: str, ids: dict[str, Any]) -> None:
        from workers import media_jobs

        if kind == "media":
            with self.ctx.db.session() as session:
                job = session.get(MediaJob, ids["job_id"])
                ref = media_jobs.JobRef(job.priority, job.id, job.kind)
            media_jobs.submit_all([ref])  # waits in the index if no pool is serving
            return
        RUNNERS[kind](self.ctx, **ids)


# -- the sweep: the index, not the broker, is the record of work -------------------------


def resubmit_stale(ctx: AppContext, settings: QueueSettings, now: datetime | None = None) -> int:
    """Re-sends media rows and queued IMAP messages the broker may have lost; returns how many.

    Pending rows created more than `resubmit_after_minutes` ago are sent again (the
    Celery backend remembers in Redis what it sent recently, so a healthy queue is
    not flooded); rows `running` for longer than the hard time limit belong to a
    dead worker and go back to pending first (failed after MAX_ATTEMPTS). IMAP UIDs
    still `queued` after as long get their ingest job again, one per message.
    """
    from workers import media_jobs

    now = now or datetime.now(UTC)
    older = now - timedelta(minutes=settings.resubmit_after_minutes)
    dead_since = now - timedelta(seconds=settings.time_limit + 60)
    with ctx.db.session() as session:
        session.execute(
            update(MediaJob)
            .where(
                MediaJob.state == "running",
                MediaJob.started_at < dead_since,
                MediaJob.attempts >= media_jobs.MAX_ATTEMPTS,
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
        ids = list(
            session.scalars(
                select(MediaJob.id)
                .where(
                    MediaJob.state == "pending",
                    or_(MediaJob.created_at < older, MediaJob.started_at < older),
                )
                .order_by(MediaJob.priority, MediaJob.id)
            )
        )
    sent = 0
    for job_id in ids:
        if _backend is not None and getattr(_backend, "send_if_stale", None):
            sent += _backend.send_if_stale("media", {"job_id": job_id})
        else:
            submit("media", job_id=job_id)
            sent += 1
    if sent:
        log.info("re-sent %d media jobs that were waiting in the index", sent)
    return sent + _resubmit_queued_mail(ctx, older, dead_since)


def _resubmit_queued_mail(ctx: AppContext, older: datetime, dead_before: datetime) -> int:
    sent = 0
    for sha, source in queued_mail.stale(ctx, older, dead_before):
        ids = _ingest_ids(sha, source)
        if _backend is not None and getattr(_backend, "send_if_stale", None):
            sent += _backend.send_if_stale("ingest", ids, mark=sha)
        else:
            submit("ingest", **ids)
            sent += 1
    if sent:
        log.info("re-sent %d ingest jobs for IMAP messages still queued in the index", sent)
    return sent
