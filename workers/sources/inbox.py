"""Ingesting from local paths: the CLI's `ingest` and the service's inbox folder."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from storage.models import SourceFile
from workers.ingest import Ingestor, IngestOutcome
from workers.sources.files import mail_files, read_messages

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
    """One pass over the inbox folder: ingests files not read before."""
    inbox = ctx.config.source.inbox_dir
    inbox.mkdir(parents=True, exist_ok=True)
    result = ingest_paths(ctx, [inbox], label=f"folder:{inbox}", skip_seen=True, stop=stop)
    new = [o for o in result.outcomes if o.status != "duplicate"]
    if new:
        log.info("inbox %s: %d new messages", inbox, len(new))
    return result
