"""The sweep of crash leftovers: at start-up, every hour, and by `mailroom archive check --repair`.

It removes the temporary files of processes that have ended, and those older than
any job still running (storage/tempfiles.py); the index says when the oldest
running job started, so a long transcode on another machine keeps its file.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from storage import tempfiles
from storage.media_models import MediaJob

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)


def sweep_leftovers(
    ctx: AppContext, *, owners: set[str] | None = None, dry_run: bool = False
) -> tempfiles.Swept:
    """Removes the archive's leftover temporary files; returns what was removed and kept."""
    with ctx.db.session() as session:
        live_since = session.scalar(
            select(func.min(MediaJob.started_at)).where(MediaJob.state == "running")
        )
    return tempfiles.sweep(
        ctx.config.storage.archive_dir, live_since=live_since, owners=owners, dry_run=dry_run
    )


def sweep_job(ctx: AppContext) -> None:
    """The scheduled sweep: never raises (the next run tries again)."""
    try:
        sweep_leftovers(ctx)
    except Exception as exc:  # the index or the disk is down: the next tick tries again
        log.warning("cannot sweep leftover temporary files now: %s", exc)
