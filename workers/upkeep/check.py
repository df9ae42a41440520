"""`mailroom archive check`: the archive on disk against the index.

What is verified: every object and raw message against its SHA-256 (the name it
is stored under); every item's object, view link and derivatives exist, and the
view is the object (the same file); no file in the readable tree that no item
points at (an orphan: a kill between linking and the commit leaves them); no
archive left unopened with no job to open it; no temporary file a crash left.
Each problem is a Finding; `repair` (workers/upkeep/repair.py) fixes what it can.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import aliased

from storage import layout
from storage.media_models import MediaJob
from storage.models import Item, Message
from storage.tempfiles import is_temporary
from workers.media import unpack
from workers.media.jobs import EXPAND
from workers.upkeep.sweep import sweep_leftovers

if TYPE_CHECKING:
    from workers.app import AppContext

# Top-level folders of the archive that are not the readable tree.
INTERNAL = {layout.OBJECTS, layout.RAW, layout.DERIVED, layout.REPORTS, ".tmp", ".orphans"}
KINDS = {
    "corrupt_object": "object does not match its hash",
    "missing_object": "item's object is missing",
    "corrupt_raw": "raw message does not match its hash",
    "missing_raw": "raw message is missing",
    "missing_view": "item's file is missing from the readable tree",
    "stale_view": "the file in the readable tree is not the item's object",
    "orphan": "file in the readable tree that no item points at",
    "missing_derivative": "thumbnail, preview or web video is missing",
    "unexpanded": "archive never opened, and no job to open it",
    "leftover": "temporary file left by a crashed process",
}


@dataclass
class Finding:
    """One problem: what kind, where (relative to the archive), and the record it concerns."""

    kind: str
    path: str
    item_id: int | None = None
    message_pk: int | None = None
    fixed: str | None = None  # what the repair did, or None

    def line(self) -> str:
        done = f" — {self.fixed}" if self.fixed else ""
        return f"{self.kind}: {self.path} ({KINDS[self.kind]}){done}"


@dataclass
class Report:
    """What a check found (and a repair fixed)."""

    objects: int = 0
    raws: int = 0
    findings: list[Finding] = field(default_factory=list)

    def open_problems(self) -> list[Finding]:
        return [f for f in self.findings if not f.fixed]

    def summary(self) -> str:
        """Returns one line: what was verified, problems found by kind, how many are fixed."""
        counts = Counter(f.kind for f in self.findings)
        found = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in KINDS if counts[k])
        fixed = sum(1 for f in self.findings if f.fixed)
        return (
            f"archive check: {self.objects} objects and {self.raws} raw messages verified; "
            + (found or "no problems")
            + (f"; {fixed} fixed, {len(self.open_problems())} left" if fixed else "")
        )


def check_archive(ctx: AppContext, *, hashes: bool = True) -> Report:
    """Returns every problem found between the archive on disk and the index."""
    root, report = ctx.archive.root, Report()
    with ctx.db.session() as session:
        items = session.execute(
            select(Item.id, Item.message_pk, Item.blob_path, Item.path, Item.thumbnail,
                   Item.preview, Item.web_video)
        ).all()  # fmt: skip
        raws = session.execute(select(Message.id, Message.raw_path)).all()
        unexpanded = _unexpanded(session)
    report.objects = _verify_store(root / layout.OBJECTS, report, "object", hashes)
    report.raws = _verify_store(root / layout.RAW, report, "raw", hashes)
    for pk, raw_rel in raws:
        if not ctx.archive.exists(raw_rel):
            report.findings.append(Finding("missing_raw", raw_rel, message_pk=pk))
    views: set[str] = set()
    for item_id, pk, blob, view, *derived in items:
        if blob and not ctx.archive.exists(blob):
            report.findings.append(Finding("missing_object", blob, item_id, pk))
        if view:
            views.add(view)
            _check_view(ctx, blob, view, item_id, pk, report)
        for rel in filter(None, derived):
            if not ctx.archive.exists(rel):
                report.findings.append(Finding("missing_derivative", rel, item_id, pk))
    report.findings += [_orphan(rel) for rel in _readable_files(root) if rel not in views]
    report.findings += [Finding("unexpanded", path, i, pk) for i, pk, path in unexpanded]
    swept = sweep_leftovers(ctx, dry_run=True)
    report.findings += [Finding("leftover", rel) for rel in swept.removed]
    return report


def _orphan(rel: str) -> Finding:
    return Finding("orphan", rel)


def _verify_store(folder: Path, report: Report, what: str, hashes: bool) -> int:
    """Hashes every file of .objects/ or raw/; returns how many were verified."""
    count = 0
    for path in _files(folder):
        count += 1
        if not hashes:
            continue
        expected = path.name.removesuffix(".eml")
        if file_sha256(path) != expected:
            rel = str(path.relative_to(folder.parent))
            report.findings.append(Finding(f"corrupt_{what}", rel))
    return count


def _check_view(ctx, blob: str | None, view: str, item_id: int, pk: int, report: Report) -> None:
    target = ctx.archive.abspath(view)
    if not target.exists():
        report.findings.append(Finding("missing_view", view, item_id, pk))
    elif blob and not ctx.archive.remote and ctx.archive.exists(blob):
        if not os.path.samefile(target, ctx.archive.abspath(blob)):
            report.findings.append(Finding("stale_view", view, item_id, pk))


def _unexpanded(session) -> list[tuple[int, int, str]]:
    """Returns (item id, message, path) of intact archives with no members and no live job."""
    member = aliased(Item)
    has_members = select(member.id).where(member.container_id == Item.id).exists()
    has_job = (
        select(MediaJob.id)
        .where(
            MediaJob.item_id == Item.id,
            MediaJob.kind == EXPAND,
            MediaJob.state.in_(("pending", "running", "done")),
        )
        .exists()
    )
    candidates = session.scalars(
        select(Item).where(
            Item.media == "archive", Item.container_id.is_(None), ~has_members, ~has_job
        )
    )
    return [
        (item.id, item.message_pk, item.path or item.blob_path or "")
        for item in candidates
        if unpack.can_expand(item)
    ]


def _readable_files(root: Path) -> list[str]:
    """Returns the files of the readable tree (not objects, raw, derivatives or temporaries)."""
    found = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name) if root.is_dir() else []:
        if entry.name in INTERNAL or entry.name.startswith(".") or not entry.is_dir():
            continue
        for path in _files(Path(entry.path)):
            found.append(str(path.relative_to(root)))
    return found


def _files(folder: Path):
    """Yields the regular files under folder, leaving temporary files and folders out."""
    for current, dirs, files in os.walk(folder):
        name = Path(current).name
        dirs[:] = [d for d in dirs if not is_temporary(d, name)]
        for file in files:
            if not is_temporary(file, name):
                yield Path(current) / file


def file_sha256(path: Path) -> str:
    """Returns the SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
