"""`mailroom archive check --repair`: fixing from the raw copies what the check found.

- a leftover temporary file is removed;
- a corrupt object is removed and, like a missing one, written again: from its view
  when that still holds the same bytes, else from the raw message it came from (an
  archive member: from its archive, opened again);
- a missing or wrong view link is linked again to the item's object (and so is the
  view of an object written again); a wrong file found there is moved aside to
  `.orphans/` first, never deleted;
- an orphan in the readable tree is removed when its bytes are an object already
  (a link a crash left), otherwise moved to `.orphans/` for a person to look at;
- a missing derivative is made again, an archive never opened is opened (their
  jobs are queued here and run by the caller).
A raw message that is missing or corrupt cannot be repaired: it is the source.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from pipeline.decide import decide_message
from pipeline.media.archives import ArchiveLimits, Password, list_and_extract
from pipeline.parse import parse_message
from pipeline.tempnames import temp_prefix
from storage import layout
from storage.media_models import MediaJob
from storage.models import Item, Message
from workers.media import jobs as media_jobs
from workers.media import unpack
from workers.upkeep.check import Finding, Report, file_sha256
from workers.upkeep.sweep import sweep_leftovers

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
ORPHANS = ".orphans"


def repair(ctx: AppContext, report: Report) -> int:
    """Fixes what it can of a check's findings (each marked `fixed`); returns the jobs queued."""
    kinds = defaultdict(list)
    for finding in report.findings:
        kinds[finding.kind].append(finding)
    if kinds["leftover"]:
        swept = set(sweep_leftovers(ctx).removed)
        for finding in kinds["leftover"]:
            finding.fixed = "removed" if finding.path in swept else None
    for finding in kinds["corrupt_object"]:
        ctx.archive.delete(finding.path)
    restored = _restore_objects(ctx, kinds["missing_object"] + kinds["corrupt_object"])
    for finding in kinds["stale_view"] + kinds["missing_view"]:
        _relink(ctx, finding.item_id, finding.path)
        finding.fixed = "linked again"
    for item_id, view in restored:  # their views still show the old (gone or bad) file
        _relink(ctx, item_id, view)
    for finding in kinds["orphan"]:
        _orphan(ctx, finding)
    return _requeue(ctx, kinds["missing_derivative"], kinds["unexpanded"])


def _restore_objects(ctx: AppContext, findings: list[Finding]) -> list[tuple[int, str]]:
    """Writes missing objects again from a view holding the same bytes, the raw message or
    the archive they came from; returns (item id, view path) of the items whose object
    was written again, to be linked again."""
    wanted = {Path(f.path).name: f for f in findings}
    if not wanted:
        return []
    with ctx.db.session() as session:
        rows = session.execute(
            select(Item.id, Item.sha256, Item.message_pk, Item.container_id, Item.path).where(
                Item.sha256.in_(list(wanted))
            )
        ).all()
        for _, sha, _, _, view in rows:
            _from_view(ctx, sha, view, wanted)
        for pk in {pk for _, sha, pk, c, _ in rows if c is None and not wanted[sha].fixed}:
            _from_raw(ctx, session.get(Message, pk), wanted)
        containers = {c for _, sha, _, c, _ in rows if c is not None and not wanted[sha].fixed}
        archives = [session.get(Item, c) for c in containers]
        opened = [(a.blob_path, *unpack.reading_terms(ctx, session, a)) for a in archives]
    for blob, limits, passwords in opened:
        if blob:
            _from_archive(ctx, blob, limits, passwords, wanted)
    return [(i, view) for i, sha, _, _, view in rows if view and wanted[sha].fixed]


def _from_view(ctx: AppContext, sha: str, view: str | None, wanted: dict[str, Finding]) -> None:
    """A view is a hard link: when the object's name went, the view may still hold its bytes."""
    finding = wanted[sha]
    if finding.fixed or not view or not ctx.archive.abspath(view).is_file():
        return
    if file_sha256(ctx.archive.abspath(view)) == sha:
        ctx.archive.put_blob_file(ctx.archive.abspath(view))
        finding.fixed = "written again from its file in the readable tree"


def _from_raw(ctx: AppContext, message: Message, wanted: dict[str, Finding]) -> None:
    try:
        with ctx.archive.open(message.raw_path) as handle:
            parsed = parse_message(handle.read())
    except (OSError, ValueError) as exc:
        log.warning("cannot read the raw copy of message %d: %s", message.id, exc)
        return
    decision = decide_message(parsed, ctx.unit_directory(), ctx.rules, message.received_at)
    payloads = [p.payload for p in parsed.parts] + [p.payload for p in decision.plans]
    for data in filter(None, payloads):
        _put_if_wanted(ctx, data, wanted)


def _put_if_wanted(ctx: AppContext, data: bytes, wanted: dict[str, Finding]) -> None:
    sha = hashlib.sha256(data).hexdigest()
    finding = wanted.get(sha)
    if finding is not None and not finding.fixed:
        ctx.archive.put_blob(data, sha)
        finding.fixed = "written again from the raw message"


def _from_archive(
    ctx: AppContext,
    blob: str,
    limits: ArchiveLimits,
    passwords: list[Password],
    wanted: dict[str, Finding],
) -> None:
    """Opens an archive again into a temporary folder (with the limits and passwords it is
    opened with) and stores the members wanted."""
    root = ctx.archive.abspath(".tmp")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=temp_prefix("repair-"), dir=root) as tmp:
        try:
            contents = list_and_extract(ctx.archive.abspath(blob), Path(tmp), limits, passwords)
        except Exception as exc:  # noqa: BLE001 - an archive that no longer opens is reported
            log.warning("cannot open %s again: %s", blob, exc)
            return
        stack = list(contents.members)
        while stack:
            member = stack.pop()
            stack += member.contents.members if member.contents is not None else []
            if member.path is None or not member.path.is_file():
                continue
            finding = wanted.get(file_sha256(member.path))
            if finding is not None and not finding.fixed:
                ctx.archive.put_blob_file(member.path)
                finding.fixed = "written again from its archive"


def _relink(ctx: AppContext, item_id: int | None, view: str) -> None:
    """Links an item's view to its object again; a different file found there is moved aside."""
    with ctx.db.session() as session:
        row = session.execute(select(Item.blob_path, Item.sha256).where(Item.id == item_id)).one()
    blob, sha = row
    if not blob or not ctx.archive.exists(blob):
        return  # nothing to link to (reported as a missing object)
    target = ctx.archive.abspath(view)
    if target.exists() and not os.path.samefile(target, ctx.archive.abspath(blob)):
        if file_sha256(target) == sha:
            target.unlink()  # the same bytes as another inode: replaced by the link
        else:
            _move_aside(ctx, view)
    ctx.archive.link(blob, view)


def _orphan(ctx: AppContext, finding: Finding) -> None:
    path = ctx.archive.abspath(finding.path)
    if ctx.archive.exists(layout.blob_path(file_sha256(path))):
        ctx.archive.unlink_view(finding.path)
        finding.fixed = "removed (its bytes are stored as an object)"
    else:
        finding.fixed = f"moved to {_move_aside(ctx, finding.path)}"


def _move_aside(ctx: AppContext, rel: str) -> str:
    """Moves a file out of the readable tree into .orphans/, keeping its path; returns where."""
    aside = f"{ORPHANS}/{rel}"
    target = ctx.archive.abspath(aside)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(ctx.archive.abspath(rel), target)
    ctx.archive.unlink_view(rel)  # removes folders the move left empty
    return aside


def _requeue(ctx: AppContext, derivatives: list[Finding], unexpanded: list[Finding]) -> int:
    """Queues the jobs that make missing derivatives and open unopened archives; returns how many."""
    if not derivatives and not unexpanded:
        return 0
    with ctx.db.session() as session:
        wanted: set[tuple[int, str]] = set()
        for finding in derivatives:
            item = session.get(Item, finding.item_id)
            if item is not None:
                wanted.add((item.id, _job_kind(item, finding.path)))
        for item_id, kind in wanted:
            session.execute(
                update(MediaJob)
                .where(MediaJob.item_id == item_id, MediaJob.kind == kind)
                .where(MediaJob.state.in_(("done", "failed")))
                .values(state="pending", attempts=0, error=None, worker=None)
            )
        ids = {item_id for item_id, _ in wanted} | {f.item_id for f in unexpanded}
        items = list(session.scalars(select(Item).where(Item.id.in_(ids))))
        added = media_jobs.enqueue(session, items)  # jobs missing altogether, expand included
    for finding in derivatives + unexpanded:
        finding.fixed = "queued to be made again"
    return len(wanted) + len(added)


def _job_kind(item: Item, derived: str) -> str:
    """Returns the job that makes this derivative of the item."""
    if derived == item.web_video:
        return "video"
    return "document" if item.media in ("document", "text") else "thumbs"
