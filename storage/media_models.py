"""The media job queue in the index: one row per job after filing, so no work is lost.

A job names an item and what to do for it: open an archive (expand) or make its
derivatives (thumbs, video, document). Its state lives here, not in a broker:
pending rows are (re)submitted whenever a pool starts, and a row left `running` by
a process that died goes back to `pending`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.models import Base, utcnow

EXPAND = "expand"  # the job that opens an archive item into member items (and opens it again)
EXPAND_PRIORITY = -10  # before thumbnails: the members it adds have jobs of their own
JOB_KINDS = (EXPAND, "thumbs", "document", "video")
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


def queue_expand(session: Session, item_id: int) -> MediaJob:
    """Returns the archive item's expand job, new or put back to pending, to open it again.

    For a password staff gave, or an archive that waits for room on the disk. A job
    running now is put back too: it may have read the passwords before this one
    arrived, and it runs once more when it sees that (workers/media/expand.py).
    """
    job = session.scalar(
        select(MediaJob)
        .where(MediaJob.item_id == item_id, MediaJob.kind == EXPAND)
        .with_for_update()
    )
    if job is None:
        job = MediaJob(item_id=item_id, kind=EXPAND, priority=EXPAND_PRIORITY)
        session.add(job)
    else:
        job.state, job.attempts, job.error, job.worker = "pending", 0, None, None
        job.started_at = job.finished_at = None
    session.flush()
    return job
