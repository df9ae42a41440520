"""Passwords staff give for an encrypted archive, and asking for it to be opened again.

A password is kept in the index (the archive can be unpacked again on any machine,
after a crash or a retry) and nowhere else: it is never logged, and the audit entry
says that a password was given, not which. Giving one queues an `unpack` media job
for the archive item (workers/media/unpack_job.py), so the request returns at once
and the work runs where media jobs run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.media_models import MediaJob
from storage.models import AuditEntry, Base, Item, utcnow

MAX_PASSWORD_CHARS = 200
UNPACK = "unpack"  # the media job kind that opens an archive again
UNPACK_PRIORITY = -10  # before thumbnails: its members then get theirs


class ArchivePassword(Base):
    """A password a person typed for one archive item."""

    __tablename__ = "archive_passwords"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    password: Mapped[str] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def staff_passwords(session: Session, item_ids: list[int]) -> list[str]:
    """Returns the passwords given for these archive items, the newest first, each once."""
    rows = session.scalars(
        select(ArchivePassword.password)
        .where(ArchivePassword.item_id.in_(item_ids))
        .order_by(ArchivePassword.id.desc())
    )
    return list(dict.fromkeys(rows))


def give_password(session: Session, item: Item, password: str, actor: str) -> MediaJob:
    """Keeps a password for an archive item and queues its unpacking; returns the job row.

    The job row is reused (one per item and kind): back to pending if it had run.
    """
    session.add(ArchivePassword(item_id=item.id, password=password, entered_by=actor[:100]))
    session.add(
        AuditEntry(
            actor=actor[:100],
            action="archive_password",
            target=f"item:{item.id}",
            data={"item": item.id, "name": item.name[:200]},  # never the password itself
        )
    )
    return queue_unpack(session, item.id)


def queue_unpack(session: Session, item_id: int) -> MediaJob:
    """Returns the archive item's unpack job, new or put back to pending.

    A job running now is put back too: it may have started before this password
    arrived, and it runs once more when it sees that (workers/media/unpack_job.py).
    """
    job = session.scalar(
        select(MediaJob)
        .where(MediaJob.item_id == item_id, MediaJob.kind == UNPACK)
        .with_for_update()
    )
    if job is None:
        job = MediaJob(item_id=item_id, kind=UNPACK, priority=UNPACK_PRIORITY)
        session.add(job)
    else:
        job.state, job.attempts, job.error, job.worker = "pending", 0, None, None
        job.started_at = job.finished_at = None
    session.flush()
    return job
