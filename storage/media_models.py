"""The media job queue in the index: one row per derivative job, so no work is lost.

A job names an item and what to make for it (thumbs, video, document). Its state
lives here, not in a broker: pending rows are (re)submitted whenever a pool starts,
and a row left `running` by a process that died goes back to `pending`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow

JOB_KINDS = ("expand", "unpack", "thumbs", "document", "video")
JOB_STATES = ("pending", "running", "done", "failed")


class MediaJob(Base):
    """One job after filing for one item: open an archive (expand) or make derivatives."""

    __tablename__ = "media_jobs"
    __table_args__ = (
        UniqueConstraint("item_id", "kind"),
        Index("ix_media_jobs_queue", "state", "priority", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # expand | thumbs | document | video
    state: Mapped[str] = mapped_column(String(16), default="pending")
    priority: Mapped[int] = mapped_column(Integer, default=0)  # lower runs first
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(200))  # host:pid that runs it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
