"""The sweep of crash leftovers: at start-up, every hour, and by `mailroom archive check --repair`.

Commands that start and end (`poll --once` from cron, `ingest`) mark themselves in
`.runs/` of the archive root while they run. The next one to start finds the mark of a
run that was killed (its process is gone, the mark still there) and sweeps at once;
otherwise it sweeps only when the last sweep is older than an hour (the stamp file
`.swept` says when), so a cron poll every few minutes does not walk the archive each time.

It removes the temporary files of processes that have ended, and those older than
any job still running (storage/tempfiles.py); the index says when the oldest
running job started, so a long transcode on another machine keeps its file.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from storage import tempfiles
from storage.locks import process_gone
from storage.media_models import MediaJob

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
STAMP = ".swept"  # in the archive root; its mtime is the last sweep's
RUNS = ".runs"  # in the archive root: one empty file "host~pid" per command running


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
        (ctx.config.storage.archive_dir / STAMP).touch()
    except Exception as exc:  # the index or the disk is down: the next tick tries again
        log.warning("cannot sweep leftover temporary files now: %s", exc)


@contextmanager
def swept_run(ctx: AppContext) -> Iterator[None]:
    """Around a command that starts and ends: sweeps first if a run was killed (or the last
    sweep is an hour old), and marks this run until it ends."""
    runs = ctx.config.storage.archive_dir / RUNS
    killed = _killed_runs(runs)
    if killed:
        log.info("a previous run was stopped before it finished; removing what it left")
        sweep_job(ctx)
        for mark in killed:
            mark.unlink(missing_ok=True)
    else:
        sweep_if_due(ctx)
    mark = runs / f"{socket.gethostname()}~{os.getpid()}"
    try:
        runs.mkdir(parents=True, exist_ok=True)
        mark.touch()
    except OSError:  # a read-only or full archive: the command says so itself
        mark = None
    try:
        yield
    finally:
        if mark is not None:
            mark.unlink(missing_ok=True)


def _killed_runs(runs: Path) -> list[Path]:
    """The marks of this host's runs whose process has ended without removing its mark."""
    try:
        names = os.listdir(runs)
    except OSError:
        return []
    killed = []
    for name in names:
        host, _, pid = name.partition("~")
        if process_gone(host, pid):
            killed.append(runs / name)
    return killed


def sweep_if_due(ctx: AppContext) -> None:
    """The sweep for commands that start and end: only when the last one is an hour old."""
    stamp = ctx.config.storage.archive_dir / STAMP
    try:
        if time.time() - stamp.stat().st_mtime < tempfiles.STALE.total_seconds():
            return
    except FileNotFoundError:
        if not stamp.parent.is_dir():  # a new archive has nothing to sweep
            return
    except OSError as exc:
        log.warning("cannot sweep leftover temporary files now: %s", exc)
        return
    sweep_job(ctx)
