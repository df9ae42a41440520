"""What the IMAP poller has taken from each mailbox.

`MailboxRecord` is the poller's own record of every (account, folder,
UIDVALIDITY, UID) it has handled, whatever became of the message — never
the server's \\Seen flag, which people reading the mailbox change. Who may
poll an account now is a lease (storage/leases.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    false,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from pipeline.errors import IndexUnavailable
from storage.locks import advisory_key
from storage.models import Base, utcnow

# the message's own failure (counted): fetched again on the next poll
RETRY = "retry"
# the machine failed (full disk, index locked or down): fetched again on the next poll,
# and the attempt is not counted, however long the outage lasts
WAITING = "waiting"
# the same failure from the same bytes max_attempts times on healthy resources:
# given up, its raw copy kept (a UID whose raw copy cannot be written stays waiting)
QUARANTINED = "quarantined"
# fetched and its raw copy stored; an ingest job on a worker files it (a broker is set)
QUEUED = "queued"
# queued, and an ingest job has claimed it and is filing it now
INGESTING = "ingesting"
WAITING_FOR_WORKER = (QUEUED, INGESTING)
# fetched again on the next poll
PENDING = (RETRY, WAITING)

# Why a UID waits or was given up (MailboxRecord.reason).
ARCHIVE_DOWN = "archive"  # the archive's disk cannot take the raw copy or the files now
INDEX_DOWN = "index"  # the index is locked, full or unreachable
OWN_FAILURE = "message"  # the message itself fails (the same error from the same bytes)
WORKER_DIED = "worker"  # its ingest job was started max_attempts times and never finished


class MailboxRecord(Base):
    """One message UID the poller has handled in one folder under one UIDVALIDITY."""

    __tablename__ = "mailbox_records"
    __table_args__ = (
        UniqueConstraint("account", "folder", "uidvalidity", "uid"),
        Index("ix_mailbox_records_pending", "account", "folder", "uidvalidity", "after_done"),
        Index("ix_mailbox_records_status", "status", "raw_sha256"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(200))
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_pk: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    # filed | triage | not_material | duplicate | error | retry | waiting | quarantined | queued
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    # why it waits or was given up: a code from REASONS (the report says it in Chinese)
    reason: Mapped[str | None] = mapped_column(String(32))
    after_done: Mapped[bool] = mapped_column(Boolean, default=False)
    # the server's INTERNALDATE, kept while queued so a re-sent job files it the same way
    received_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def reason_of(exc: BaseException) -> str:
    """Returns the reason code of a machine failure: the index's, or the archive disk's."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, IndexUnavailable):
            return INDEX_DOWN
        current = current.__cause__
    return ARCHIVE_DOWN


# -- records -----------------------------------------------------------------


@dataclass(frozen=True)
class FolderKey:
    """Which folder of which account, under which UIDVALIDITY."""

    account: str
    folder: str
    uidvalidity: int

    @property
    def location(self) -> str:
        """Return "account/folder", the SourceRef location of its messages."""
        return f"{self.account}/{self.folder}"

    @classmethod
    def from_location(cls, location: str, uidvalidity: int) -> FolderKey:
        """Return the key of a SourceRef location (account names never contain "/")."""
        account, _, folder = location.partition("/")
        return cls(account, folder, uidvalidity)


def known_uidvalidities(session: Session, account: str, folder: str) -> set[int]:
    """Return every UIDVALIDITY recorded for a folder."""
    return set(
        session.scalars(
            select(MailboxRecord.uidvalidity)
            .where(MailboxRecord.account == account, MailboxRecord.folder == folder)
            .distinct()
        )
    )


def highest_uid(session: Session, key: FolderKey) -> int:
    """Return the highest UID recorded under this UIDVALIDITY (0 when none)."""
    value = session.scalar(select(func.max(MailboxRecord.uid)).where(*_match(key)))
    return int(value or 0)


def retry_uids(session: Session, key: FolderKey) -> list[int]:
    """Return the UIDs whose last attempt failed (counted, or the machine's) to fetch again."""
    return list(
        session.scalars(
            select(MailboxRecord.uid)
            .where(*_match(key), MailboxRecord.status.in_(PENDING))
            .order_by(MailboxRecord.uid)
        )
    )


def pending_after_action(session: Session, key: FolderKey) -> list[int]:
    """Return UIDs committed to the index whose after-action has not been applied yet."""
    return list(
        session.scalars(
            select(MailboxRecord.uid)
            .where(*_match(key), MailboxRecord.after_done.is_(False))
            .where(MailboxRecord.status.not_in((*PENDING, *WAITING_FOR_WORKER)))
            .order_by(MailboxRecord.uid)
        )
    )


def mark_after_done(session: Session, key: FolderKey, uids: list[int]) -> None:
    """Record that the after-action was applied to these UIDs."""
    for start in range(0, len(uids), 500):
        chunk = uids[start : start + 500]
        session.execute(
            update(MailboxRecord)
            .where(*_match(key), MailboxRecord.uid.in_(chunk))
            .values(after_done=True)
        )


def record_outcome(
    session: Session,
    key: FolderKey,
    uid: int,
    *,
    status: str,
    message_pk: int | None,
    raw_sha256: str | None,
    error: str | None = None,
    after_done: bool = False,
) -> MailboxRecord:
    """Record (or update a retried) UID as handled and return its row."""
    row = _uid_row(session, key, uid)
    row.status, row.message_pk, row.raw_sha256 = status, message_pk, raw_sha256
    row.error = error[:2000] if error else None
    row.reason = None
    row.attempts = (row.attempts or 0) + 1
    row.after_done = after_done
    session.flush()
    return row


def record_failure(
    session: Session,
    key: FolderKey,
    uid: int,
    *,
    raw_sha256: str | None,
    error: str,
    max_attempts: int,
) -> MailboxRecord:
    """Count a failure of the message itself; quarantine it after max_attempts alike.

    Only the same error from the same bytes counts towards quarantine: a different
    error, or other bytes (the server sent the message whole this time), starts the
    count again. The caller has stored the raw copy first (quarantine keeps it).
    """
    row = _uid_row(session, key, uid)
    same = (
        row.status == RETRY
        and row.raw_sha256 == raw_sha256
        and _first_line(row.error) == _first_line(error)
    )
    row.attempts = (row.attempts if same else 0) + 1
    row.status = QUARANTINED if row.attempts >= max_attempts else RETRY
    row.message_pk, row.raw_sha256, row.reason = None, raw_sha256, OWN_FAILURE
    row.error = error[:2000]
    session.flush()
    return row


def record_waiting(
    session: Session, key: FolderKey, uid: int, *, raw_sha256: str | None, error: str, reason: str
) -> MailboxRecord:
    """Record a UID the machine could not take now (full disk, index down): no attempt counted.

    A UID already filed, queued or given up keeps its state: only one still to be
    taken (new, retry or waiting) waits.
    """
    row = _uid_row(session, key, uid)
    if row.status not in (None, *PENDING):
        return row
    if row.status is None:
        row.attempts = 0
    row.status, row.message_pk, row.reason = WAITING, None, reason
    row.raw_sha256 = raw_sha256 or row.raw_sha256
    row.error = error[:2000]
    session.flush()
    return row


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0]


def record_queued(
    session: Session,
    key: FolderKey,
    uid: int,
    *,
    raw_sha256: str,
    received_at: datetime | None,
    after_done: bool,
) -> bool:
    """Record a UID as queued for ingestion; return True if no other UID of these bytes is.

    Only the first queued UID of a message gets a job: the job settles every queued
    UID with the same bytes, so two copies are never filed by two workers at once.
    """
    lock_raw(session, [raw_sha256])  # the job we count on has not read its UIDs yet
    row = _uid_row(session, key, uid)
    row.status, row.raw_sha256, row.message_pk, row.error = QUEUED, raw_sha256, None, None
    row.received_at, row.after_done = received_at, after_done
    session.flush()
    others = session.scalar(
        select(func.count(MailboxRecord.id)).where(
            MailboxRecord.raw_sha256 == raw_sha256,
            MailboxRecord.status.in_(WAITING_FOR_WORKER),
            MailboxRecord.id != row.id,
        )
    )
    return not others


def lock_raw(session: Session, raw_sha256s: Iterable[str]) -> None:
    """Holds, until the transaction ends, the turn to record or settle UIDs of these bytes.

    A UID queued while another of its bytes waits gets no job: that one's job
    settles it. So recording and settling take turns; otherwise the job could read
    its UIDs just before the new one is committed and leave it queued with no job.
    PostgreSQL: one advisory lock per hash, in sorted order (two pollers never wait
    for each other in a circle); SQLite: a write, which takes the write lock now,
    before the reads, instead of at the first UPDATE after them.
    """
    if session.get_bind().dialect.name != "postgresql":
        session.execute(update(MailboxRecord).where(false()).values(status=MailboxRecord.status))
        return
    for key in sorted({advisory_key(f"raw:{sha}") for sha in raw_sha256s}):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def queued_rows(session: Session, raw_sha256: str) -> list[MailboxRecord]:
    """Return the UIDs queued for ingestion whose raw bytes have this hash, locked."""
    lock_raw(session, [raw_sha256])
    return list(
        session.scalars(
            select(MailboxRecord)
            .where(
                MailboxRecord.raw_sha256 == raw_sha256,
                MailboxRecord.status.in_(WAITING_FOR_WORKER),
            )
            .order_by(MailboxRecord.id)
            .with_for_update()
        )
    )


def claim_queued(session: Session, raw_sha256: str, *, dead_before: datetime) -> int:
    """Claim the queued UIDs of these bytes for one ingest job; return how many were claimed.

    One conditional UPDATE, so of two jobs for one message only one claims it; a UID
    claimed by a job that has not finished by dead_before (its worker died) is claimed
    again. Each claim counts an attempt, so a message that kills its worker every time
    runs out of attempts (see quarantine_claimed).
    """
    claimable = or_(
        MailboxRecord.status == QUEUED,
        and_(MailboxRecord.status == INGESTING, MailboxRecord.updated_at < dead_before),
    )
    result = session.execute(
        update(MailboxRecord)
        .where(MailboxRecord.raw_sha256 == raw_sha256, claimable)
        .values(status=INGESTING, attempts=MailboxRecord.attempts + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def waiting_counts(session: Session) -> dict[str, int]:
    """Return the number of UIDs queued for, or being filed by, an ingest worker."""
    return dict(
        session.execute(
            select(MailboxRecord.status, func.count())
            .where(MailboxRecord.status.in_(WAITING_FOR_WORKER))
            .group_by(MailboxRecord.status)
        ).all()
    )


def being_ingested(session: Session, raw_sha256: str) -> bool:
    """Return True if a job has claimed UIDs of these bytes and not finished."""
    return (
        session.scalar(
            select(MailboxRecord.id)
            .where(MailboxRecord.raw_sha256 == raw_sha256, MailboxRecord.status == INGESTING)
            .limit(1)
        )
        is not None
    )


def settle_queued(
    row: MailboxRecord, *, status: str, message_pk: int | None, error: str | None
) -> None:
    """Record what the ingest job made of a queued UID (its attempt was counted at the claim)."""
    row.status, row.message_pk = status, message_pk
    row.error = error[:2000] if error else None


def fail_queued(row: MailboxRecord, *, error: str, max_attempts: int) -> None:
    """Record a failed ingest job: the UID is fetched again, or quarantined after max_attempts."""
    row.status = QUARANTINED if (row.attempts or 0) >= max_attempts else RETRY
    row.error = error[:2000]


def wait_queued(row: MailboxRecord, *, error: str, reason: str) -> None:
    """Hand a claimed UID back to the queue after a machine failure; its attempt is not counted.

    The sweep sends its job again once it has waited `resubmit_after_minutes`.
    """
    row.status, row.reason, row.error = QUEUED, reason, error[:2000]
    row.attempts = max(0, (row.attempts or 0) - 1)
    row.updated_at = utcnow()


def stale_queued(session: Session, older: datetime, dead_before: datetime) -> list[MailboxRecord]:
    """Return one UID per message whose ingest job may be lost.

    That is: queued before older, or claimed before dead_before by a job that never
    finished (its worker died).
    """
    rows = session.scalars(
        select(MailboxRecord)
        .where(
            or_(
                and_(MailboxRecord.status == QUEUED, MailboxRecord.updated_at < older),
                and_(MailboxRecord.status == INGESTING, MailboxRecord.updated_at < dead_before),
            )
        )
        .order_by(MailboxRecord.id)
    )
    first: dict[str, MailboxRecord] = {}
    for row in rows:
        first.setdefault(row.raw_sha256 or "", row)
    return list(first.values())


def _uid_row(session: Session, key: FolderKey, uid: int) -> MailboxRecord:
    """Return the record of this UID, made (with no attempts yet) if there is none."""
    row = session.scalar(select(MailboxRecord).where(*_match(key), MailboxRecord.uid == uid))
    if row is None:
        row = MailboxRecord(
            account=key.account, folder=key.folder, uidvalidity=key.uidvalidity, uid=uid,
            attempts=0,
        )  # fmt: skip
        session.add(row)
    return row


def _match(key: FolderKey) -> tuple:
    return (
        MailboxRecord.account == key.account,
        MailboxRecord.folder == key.folder,
        MailboxRecord.uidvalidity == key.uidvalidity,
    )
