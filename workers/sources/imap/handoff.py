"""IMAP messages handed to ingest workers: the UID records on both sides of the queue.

With a broker the poller does not file a fetched message itself: it stores the raw
bytes, records the UID as `queued` (with the raw hash and INTERNALDATE) and submits
an ingest job. The job files the message and then settles every queued UID with
those bytes: its own gets the outcome, other copies `duplicate`. Settling only
touches rows still `queued`, under a row lock, so a job that runs twice changes
nothing the second time; recording a UID and settling UIDs of the same bytes take
turns (`lock_raw`), so a copy queued while its twin's job settles is never left
without a job. A queued UID is never fetched again and gets no
after-action until it is settled; one whose job the broker lost is sent again by
the sweep (workers/jobs/runners.py `resubmit_stale`) from its stored raw copy.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from storage import mailbox_state as state
from storage.mailbox_state import FolderKey
from workers.config.mailboxes import DEFAULT_MAX_ATTEMPTS
from workers.ingest_result import IngestOutcome, SourceRef

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)


def record(
    ctx: AppContext, key: FolderKey, fetched: list[tuple[int, str, datetime | None]], *, acted: bool
) -> list[tuple[int, str, datetime | None]]:
    """Record fetched (UID, raw hash, INTERNALDATE)s as queued in one transaction.

    Returns those that need a job of their own: a UID whose bytes another queued UID
    already has is settled by that one's job.
    """
    with ctx.db.session() as session:
        state.lock_raw(session, [sha for _, sha, _ in fetched])  # all at once, in order
        return [
            (uid, sha, received)
            for uid, sha, received in fetched
            if state.record_queued(
                session, key, uid, raw_sha256=sha, received_at=received, after_done=acted
            )
        ]


def settle(ctx: AppContext, sha: str, source: SourceRef, outcome: IngestOutcome) -> list[str]:
    """Record the job's outcome on every UID queued with these bytes; return their statuses."""
    own = (*_own_key(source), source.uid)
    statuses = []
    with ctx.db.session() as session:
        for row in state.queued_rows(session, sha):
            mine = (row.account, row.folder, row.uidvalidity, row.uid) == own
            if outcome.message_pk is None:
                problem = outcome.error or "not recorded in the index"
                state.fail_queued(row, error=problem, max_attempts=_max_attempts(ctx, row.account))
                if row.status == state.QUARANTINED:
                    log.error(
                        "quarantined UID %s of %s/%s after %d failed attempts: %s",
                        row.uid, row.account, row.folder, row.attempts, row.error,
                    )  # fmt: skip
            else:
                state.settle_queued(
                    row,
                    status=outcome.status if mine else "duplicate",
                    message_pk=outcome.message_pk,
                    error=outcome.error if mine else None,
                )
            statuses.append(row.status)
    return statuses


def wait(ctx: AppContext, sha: str, exc: BaseException) -> None:
    """Hand the UIDs this job claimed back to the queue after a machine failure, uncounted.

    The sweep sends the job again after resubmit_after_minutes, as long as the outage lasts.
    """
    reason = state.reason_of(exc)
    with ctx.db.session() as session:
        for row in state.queued_rows(session, sha):
            if row.status == state.INGESTING:
                state.wait_queued(row, error=str(exc), reason=reason)


def claim(ctx: AppContext, sha: str, *, dead_before: datetime) -> str:
    """Claim the UIDs queued with these bytes for this job; return what the job should do.

    `run`: file it. `busy`: another job is filing it now (a copy of the job sent again);
    this one does nothing. `none`: nothing is queued with these bytes (already settled);
    filing again finds the message a duplicate. `quarantined`: jobs for it were started
    max_attempts times and none finished (it kills its worker, say); it is not run again.
    """
    with ctx.db.session() as session:  # the UPDATE first: it takes the write lock at once
        claimed = state.claim_queued(session, sha, dead_before=dead_before)
    if not claimed:
        with ctx.db.session() as session:
            return "busy" if state.being_ingested(session, sha) else "none"
    with ctx.db.session() as session:
        rows = state.queued_rows(session, sha)
        worn = [r for r in rows if r.attempts > _max_attempts(ctx, r.account)]
        if not worn:
            return "run"
        for row in rows:
            row.status = state.QUARANTINED
            row.error = (
                f"its ingest job was started {row.attempts - 1} times and never finished "
                "(the worker died or hit the time limit); the raw copy is kept"
            )
        log.error(
            "quarantined UID %s of %s/%s: %s", worn[0].uid, worn[0].account, worn[0].folder,
            worn[0].error,
        )  # fmt: skip
        return "quarantined"


def stale(ctx: AppContext, older: datetime, dead_before: datetime) -> list[tuple[str, SourceRef]]:
    """Return (raw hash, source) of each message whose ingest job may be lost (see stale_queued)."""
    with ctx.db.session() as session:
        rows = state.stale_queued(session, older, dead_before)
        return [
            (
                row.raw_sha256,
                SourceRef(
                    "imap",
                    FolderKey(row.account, row.folder, row.uidvalidity).location,
                    row.uidvalidity,
                    row.uid,
                    row.received_at,
                ),
            )
            for row in rows
            if row.raw_sha256
        ]


def _own_key(source: SourceRef) -> tuple[str, str, int | None]:
    key = FolderKey.from_location(source.location, source.uidvalidity or 0)
    return key.account, key.folder, source.uidvalidity


def _max_attempts(ctx: AppContext, account: str) -> int:
    # the worker reads the same config.toml as the scheduler, so the limit is the account's own
    cfg = ctx.config.mailbox(account)
    return cfg.max_attempts if cfg is not None else DEFAULT_MAX_ATTEMPTS
