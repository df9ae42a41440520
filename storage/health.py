"""How the service is doing: each source's last poll, and what waits in the index and why.

`SourceStatus` holds one row per mail source (an IMAP account, the inbox folder):
when it was last polled, whether that went well, and if not why (a reason code
the report and `mailroom status` put in words). The backlog queries count the
mail and media work still waiting, so an outage is seen, not guessed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.db import Database
from storage.mailbox_state import PENDING, QUARANTINED, WAITING_FOR_WORKER, MailboxRecord
from storage.media_models import MediaJob
from storage.models import Base, utcnow

log = logging.getLogger(__name__)

# Why a source did not take mail on its last poll (SourceStatus.reason), besides the
# MailboxRecord reasons (archive, index): its own server, or the disk running low.
LOW_DISK = "low_disk"
MAILBOX = "mailbox"


class SourceStatus(Base):
    """The last poll of one mail source: when, how it went, and why it took nothing."""

    __tablename__ = "source_status"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)  # imap:NAME, folder:inbox
    last_poll_at: Mapped[datetime] = mapped_column()
    last_ok_at: Mapped[datetime | None] = mapped_column()
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(32))
    problem: Mapped[str | None] = mapped_column(Text)  # one English line, for logs and the CLI
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def record_poll(
    db: Database,
    source: str,
    *,
    fetched: int,
    problem: str | None = None,
    reason: str | None = None,
) -> None:
    """Records how a poll of `source` went; a failure to record is logged, never raised.

    `problem` None means it went well. The status is for people, so a poll never
    fails because its status could not be written (the index may be what failed).
    """
    now = datetime.now(UTC)
    try:
        with db.session() as session:
            row = session.get(SourceStatus, source)
            if row is None:
                row = SourceStatus(source=source)
                session.add(row)
            row.last_poll_at, row.fetched = now, fetched
            row.problem, row.reason = (problem or None) and problem[:2000], reason
            if problem is None:
                row.last_ok_at = now
    except Exception as exc:  # the index itself may be down: the log line says what happened
        log.warning("cannot record the poll of %s: %s", source, str(exc).splitlines()[0])


def sources(session: Session) -> list[SourceStatus]:
    """Returns every source's last poll, by name."""
    return list(session.scalars(select(SourceStatus).order_by(SourceStatus.source)))


@dataclass(frozen=True)
class Backlog:
    """Mail UIDs in one state for one reason: how many, since when, and one example error."""

    status: str  # waiting | retry | quarantined | queued | ingesting
    reason: str | None
    count: int
    oldest: datetime | None
    example: str | None


def mail_backlog(session: Session) -> list[Backlog]:
    """Returns the UIDs not filed yet (waiting, retrying, queued) or given up, by state and reason."""
    states = (*PENDING, *WAITING_FOR_WORKER, QUARANTINED)
    rows = session.execute(
        select(
            MailboxRecord.status,
            MailboxRecord.reason,
            func.count(),
            func.min(MailboxRecord.created_at),
            func.max(MailboxRecord.error),
        )
        .where(MailboxRecord.status.in_(states))
        .group_by(MailboxRecord.status, MailboxRecord.reason)
        .order_by(MailboxRecord.status, MailboxRecord.reason)
    ).all()
    return [
        Backlog(status, reason, count, _aware(oldest), example)
        for status, reason, count, oldest, example in rows
    ]


def oldest_pending(session: Session) -> datetime | None:
    """Returns when the longest-waiting UID not yet filed was first fetched."""
    value = session.scalar(
        select(func.min(MailboxRecord.created_at)).where(
            MailboxRecord.status.in_((*PENDING, *WAITING_FOR_WORKER))
        )
    )
    return _aware(value)


def media_backlog(session: Session) -> dict[str, int]:
    """Returns media jobs by state; `waiting` counts pending jobs a machine failure put back."""
    counts = dict(
        session.execute(select(MediaJob.state, func.count()).group_by(MediaJob.state)).all()
    )
    counts["waiting"] = session.scalar(
        select(func.count()).where(MediaJob.state == "pending", MediaJob.error.is_not(None))
    )
    counts["expand"] = session.scalar(
        select(func.count()).where(
            MediaJob.kind == "expand", MediaJob.state.in_(("pending", "running"))
        )
    )
    return counts


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
