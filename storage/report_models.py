"""Tables of the reports feature: saved reports, the mail outbox, receipts, reminders.

The outbox is the record of what must still be sent: a failed send stays
pending with its error and next attempt time, so the next tick retries it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow

PENDING, SENT, FAILED = "pending", "sent", "failed"
SENDING = "sending"  # claimed by one sender until next_attempt_at (then taken over)


class OutboxMail(Base):
    """One composed email waiting to be sent, sent, or given up on."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # daily | receipt | reminder
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str] = mapped_column(Text)  # RFC 5322, ASCII (encoded parts)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class SavedReport(Base):
    """A daily report made for one day: where its files are and what it counted."""

    __tablename__ = "saved_reports"
    __table_args__ = (UniqueConstraint("kind", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="daily")
    day: Mapped[date] = mapped_column(Date)
    made_at: Mapped[datetime] = mapped_column(default=utcnow)
    html_path: Mapped[str] = mapped_column(String(500))  # relative to the archive
    text_path: Mapped[str] = mapped_column(String(500))
    xlsx_path: Mapped[str] = mapped_column(String(500))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))


class Receipt(Base):
    """What was done about acknowledging one filed message (one row per message)."""

    __tablename__ = "receipts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    address: Mapped[str] = mapped_column(String(320), index=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | dry_run | suppressed | skipped
    reason: Mapped[str | None] = mapped_column(Text)
    batch: Mapped[str | None] = mapped_column(String(64))  # one receipt email = one batch
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    path: Mapped[str | None] = mapped_column(String(1000))  # the dry-run file
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Reminder(Base):
    """A reminder drafted (or queued) for one unit, one kind of one campaign, one deadline,
    N days before."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint(
            "campaign_code", "unit_code", "kind", "due", "days_before", name="uq_reminders_once"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_code: Mapped[str | None] = mapped_column(String(64))  # null: before campaigns
    unit_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    due: Mapped[date] = mapped_column(Date)
    days_before: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # draft | queued
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    path: Mapped[str | None] = mapped_column(String(1000))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
