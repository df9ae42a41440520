"""Passwords staff give for an encrypted archive, and asking for it to be opened again.

A password is kept in the index (the archive can be unpacked again on any machine,
after a crash or a retry) and nowhere else: it is never logged, and the audit entry
says that a password was given, not which. Giving one puts the archive item's
`expand` media job back to pending (storage.media_models.queue_expand; run by
workers/media/expand.py), so the request returns at once and the archive is opened
again where media jobs run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.media_models import MediaJob, queue_expand
from storage.models import AuditEntry, Base, Item, utcnow

MAX_PASSWORD_CHARS = 200


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


def password_given(session: Session, item_id: int) -> bool:
    """True when staff typed a password for this archive item."""
    found = select(ArchivePassword.id).where(ArchivePassword.item_id == item_id).limit(1)
    return session.scalar(found) is not None


def give_password(session: Session, item: Item, password: str, actor: str) -> MediaJob:
    """Keeps a password for an archive item and queues its opening again; returns the job row.

    The row is the archive's one expand job (one per item and kind), put back to pending.
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
    return queue_expand(session, item.id)
