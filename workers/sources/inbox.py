"""Ingesting from local paths: the CLI's `ingest` and the service's inbox folder.

A file is recorded as read only once all its messages are in: a machine failure
(full disk, index down) stops the pass, and the file is read again on the next.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from pipeline.errors import is_transient
from storage import health
from storage.mailbox_state import reason_of
from storage.models import SourceFile
from workers.ingest import Ingestor, IngestOutcome
from workers.sources.files import mail_files, read_messages
from workers.sources.space import low_disk

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    outcomes: list[IngestOutcome]
    run_id: int


def ingest_paths(
    ctx: AppContext,
    paths: list[Path],
    *,
    label: str,
    skip_seen: bool = False,
    stop: threading.Event | None = None,
) -> RunResult:
    """Ingests every message under paths; with skip_seen, files read before are skipped."""
    ingestor = Ingestor(ctx, label)
    own = _own_folders(ctx)
    for root in paths:
        for path in mail_files(Path(root)):
            if stop is not None and stop.is_set():
                break
            if any(folder == path.resolve() or folder in path.resolve().parents for folder in own):
                continue  # never read our own archive or index back in as mail
            _ingest_file(ctx, ingestor, path, skip_seen, stop)
    run = ingestor.finish()
    return RunResult(ingestor.outcomes, run.id)


def _own_folders(ctx: AppContext) -> list[Path]:
    folders = [ctx.config.storage.archive_dir.resolve()]
    url = ctx.config.storage.database_url
    if url.startswith("sqlite:///"):
        folders.append(Path(url.removeprefix("sqlite:///")).resolve().parent)
    return folders


def _ingest_file(
    ctx: AppContext, ingestor: Ingestor, path: Path, skip_seen: bool, stop: threading.Event | None
) -> None:
    try:
        stat = path.stat()
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if skip_seen and path.is_file():
        with ctx.db.session() as session:
            seen = session.scalar(
                select(SourceFile.id).where(
                    SourceFile.path == key[0],
                    SourceFile.size == key[1],
                    SourceFile.mtime_ns == key[2],
                )
            )
        if seen is not None:
            return
    count = 0
    try:
        for raw, source in read_messages(path):
            if stop is not None and stop.is_set():
                return
            ingestor.ingest(raw, source)
            count += 1
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return
    if skip_seen and path.is_file():
        with ctx.db.session() as session:
            session.add(SourceFile(path=key[0], size=key[1], mtime_ns=key[2], messages=count))


def poll_inbox(ctx: AppContext, stop: threading.Event | None = None) -> RunResult | None:
    """One pass over the inbox folder: ingests files not read before.

    Returns None when nothing could be taken: a disk below [limits] min_free_bytes,
    or a machine failure mid-pass (what is left is read on the next pass).
    """
    inbox = ctx.config.source.inbox_dir
    if _too_full(ctx):
        return None
    try:
        inbox.mkdir(parents=True, exist_ok=True)
        result = ingest_paths(ctx, [inbox], label=f"folder:{inbox}", skip_seen=True, stop=stop)
    except Exception as exc:
        if not is_transient(exc):
            raise
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.warning("inbox %s: waiting, read again on the next pass: %s", inbox, line)
        health.record_poll(ctx.db, SOURCE, fetched=0, problem=line, reason=reason_of(exc))
        return None
    new = [o for o in result.outcomes if o.status != "duplicate"]
    if new:
        log.info("inbox %s: %d new messages", inbox, len(new))
    health.record_poll(ctx.db, SOURCE, fetched=len(new))
    return result


SOURCE = "folder:inbox"  # the inbox folder's row in source_status


def _too_full(ctx: AppContext) -> bool:
    """Returns True (saying so once) when a disk is below [limits] min_free_bytes."""
    problem = low_disk(ctx)
    if problem is None:
        return False
    with ctx.db.session() as session:
        before = session.get(health.SourceStatus, SOURCE)
        told = before is not None and before.reason == health.LOW_DISK
    (log.debug if told else log.warning)("inbox folder: %s", problem)
    health.record_poll(ctx.db, SOURCE, fetched=0, problem=problem, reason=health.LOW_DISK)
    return True
