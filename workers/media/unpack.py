"""Opening archive items (zip, 7z, rar) into items of their own.

Each member becomes an Item with `container_id` set to the archive item (a member
of a nested archive points at the nested archive), its kind classified like any
attachment, its bytes stored by content and its view linked next to the archive:
`<message folder>/<archive name without extension>/<member path>` (storage.filing).
The guards of `pipeline.media.archives` become member statuses (rejected_unsafe,
too_large, encrypted, corrupt) with the reason in Chinese and the limit that refused
them in `meta.limit`; system junk is counted in the archive's `meta.unpack`, never
an item. The archive item itself is always kept, and its own status says what
became of its contents (see `describe_container`).

Passwords: those the message gives (pipeline.passwords) and those staff typed for
the archive (storage.archive_passwords). Opening an archive again (its `expand` job
put back to pending when a password arrives, or after the disk was full) fills in
the members it could not open before and keeps the others.

A full or failing disk raises ArchiveUnavailable out of here: the caller's job
(workers/media/expand.py) marks the archive `pending` and runs it again later.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.decide import member_kind
from pipeline.errors import ArchiveError
from pipeline.media.archives import (
    ENCRYPTED,
    OK,
    ArchiveLimits,
    Contents,
    Member,
    Password,
    archive_kind,
    list_and_extract,
)
from pipeline.passwords import find_passwords
from pipeline.sniff import sniff
from pipeline.tempnames import temp_prefix
from storage import filing
from storage.archive_passwords import staff_passwords
from storage.models import DecisionRecord, Item, Message, first_copies
from storage.search import index_message
from storage.triage import locked_message

if TYPE_CHECKING:
    from workers.app import AppContext
    from workers.config import LimitsConfig

log = logging.getLogger(__name__)
TEMP_FOLDER = ".tmp"  # inside the archive root, so large members stay on the archive's disk
PENDING = "pending"  # an archive whose unpacking the machine interrupted: tried again later
PENDING_REASON = "归档所在磁盘空间不足或暂时不能写入，压缩包尚未解压完，稍后会自动重试"
SKIPPED_LABELS = {
    "too_large": "过大",
    "encrypted": "有密码",
    "rejected_unsafe": "不安全",
    "corrupt": "已损坏",
}


def can_expand(item: Item) -> bool:
    """Returns True for an intact archive item whose members are not yet items."""
    return item.media == "archive" and item.status in (OK, PENDING) and item.blob_path is not None


def expand_archive(ctx: AppContext, session: Session, item: Item, created: list[str]) -> list[Item]:
    """Returns the member items made or filled for an archive item, with the passwords known now.

    The first time, every member becomes an item. Again (a password given, a disk
    that has room again), members already extracted stay as they are; members still
    encrypted (or never listed: encrypted names) get their bytes, kind and view now.
    View paths made go to `created`, for the caller to remove if it rolls back.
    """
    if item.media != "archive" or item.blob_path is None:
        return []
    if archive_kind(ctx.archive.abspath(item.blob_path)) is None:
        return []  # .gz, .tar and friends: kept as they are, not opened
    return _open(ctx, session, item, created)


def _open(ctx: AppContext, session: Session, item: Item, created: list[str]) -> list[Item]:
    # two runs opening one archive at once (a password typed while the first ran) would
    # each add the members the other added: the second waits here and then finds them
    message = locked_message(session, item.message_pk)
    family = _family(message)
    limits = archive_limits(ctx.config.limits, _bytes_left(ctx, family, item))
    passwords = known_passwords(session, message, family, item)
    temp_root = ctx.archive.abspath(TEMP_FOLDER)
    with ctx.archive.writing():
        temp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=temp_prefix("unpack-"), dir=temp_root) as tmp:
        try:
            contents = list_and_extract(
                ctx.archive.abspath(item.blob_path), Path(tmp), limits, passwords
            )
        except ArchiveError as exc:
            item.status, item.error = "corrupt", "压缩包已损坏或无法识别，无法读取其中的文件"
            item.meta = {**(item.meta or {}), "detail": str(exc)[:500]}
            log.warning("archive %s of message %s is unreadable: %s", item.name, message.id, exc)
            index_message(session, message.id)
            return []
        filer = _Filer(ctx, session, message, family, created, _store(ctx, contents))
        with session.no_autoflush:  # one flush for every member, not one per query
            made = filer.add(item, contents)
        session.flush()
        filer.record_decisions()
    index_message(session, message.id)  # every member is searchable from now on
    return made


def mark_pending(session: Session, item_id: int) -> None:
    """Marks an archive whose unpacking the machine interrupted (its job waits to run again).

    In a transaction of its own: the one that unpacked was rolled back.
    """
    item = session.get(Item, item_id)
    if item is not None:
        item.status, item.error = PENDING, PENDING_REASON


def mark_failed(session: Session, item_id: int, exc: Exception) -> None:
    """Records an archive that could not be opened for a reason nobody expected (a bug)."""
    item = session.get(Item, item_id)
    if item is not None:
        item.status, item.error = "corrupt", "解压时出现意外错误，原文件已保存，请下载后手工解压"
        item.meta = {**(item.meta or {}), "detail": f"{type(exc).__name__}: {exc}"[:500]}


def _store(ctx: AppContext, contents: Contents) -> dict[Path, str]:
    """Moves every extracted member into the object store; returns {temp path: object path}."""
    extracted = []
    todo = list(contents.members)
    while todo:
        member = todo.pop()
        if member.status == OK and member.path is not None and member.sha256:
            extracted.append((member.path, member.sha256))
        if member.contents is not None:
            todo += member.contents.members
    return dict(
        zip([p for p, _ in extracted], ctx.archive.adopt_blob_files(extracted), strict=True)
    )


def _sha(blob_path: str) -> str:
    return blob_path.rsplit("/", 1)[-1]


def reading_terms(
    ctx: AppContext, session: Session, item: Item
) -> tuple[ArchiveLimits, list[Password]]:
    """Returns the limits and passwords an archive item is opened with now (to read it again)."""
    message = session.get(Message, item.message_pk)
    family = _family(message)
    limits = archive_limits(ctx.config.limits, _bytes_left(ctx, family, item))
    return limits, known_passwords(session, message, family, item)


def archive_limits(limits: LimitsConfig, message_bytes_left: int) -> ArchiveLimits:
    """Returns the [limits] that bound one archive of a message with this much budget left."""
    return ArchiveLimits(
        max_total_bytes=limits.max_archive_total_bytes,
        max_member_bytes=limits.max_archive_member_bytes,
        max_ratio=limits.max_archive_ratio,
        max_members=limits.max_archive_members,
        max_depth=limits.max_archive_depth,
        message_bytes_left=max(0, message_bytes_left),
        message_budget=limits.max_message_unpack_bytes,
        max_seconds=limits.max_archive_seconds,
    )


def known_passwords(
    session: Session, message: Message, family: dict[int, Item], item: Item
) -> list[Password]:
    """Returns the passwords to try: typed by staff for this archive or one holding it,
    then those the message gives."""
    chain, current = [], item
    while current is not None:
        chain.append(current.id)
        current = family.get(current.container_id) if current.container_id else None
    staff = [Password(p, "staff") for p in staff_passwords(session, chain)]
    body = find_passwords(message.subject or "", message.body_text or "", message.body_html or "")
    return staff + [Password(p, "body") for p in body if p not in {s.text for s in staff}]


def _family(message: Message) -> dict[int, Item]:
    return {i.id: i for i in message.items}


def _bytes_left(ctx: AppContext, family: dict[int, Item], item: Item) -> int:
    """Returns the message's unpack budget less what its other archives unpacked already."""
    spent = sum(
        i.size
        for i in family.values()
        if i.container_id is not None and i.status == OK and not _inside(i, item, family)
    )
    return ctx.config.limits.max_message_unpack_bytes - spent


def _inside(member: Item, archive: Item, family: dict[int, Item]) -> bool:
    current = family.get(member.container_id)
    while current is not None:
        if current.id == archive.id:
            return True
        current = family.get(current.container_id) if current.container_id else None
    return False


class _Filer:
    """Makes (or fills in) the items of an archive's members, one flush for all of them."""

    def __init__(
        self,
        ctx: AppContext,
        session: Session,
        message: Message,
        family: dict[int, Item],
        created: list[str],
        blobs: dict[Path, str],
    ):
        self.ctx, self.session, self.message, self.created = ctx, session, message, created
        self.blobs = blobs
        self.existing: dict[tuple, Item] = {}
        for i in family.values():
            if i.container_id is not None:  # by listing position; by name for older rows
                self.existing.setdefault((i.container_id, (i.meta or {}).get("entry")), i)
                self.existing.setdefault((i.container_id, i.name), i)
        self.seq = session.scalar(select(func.max(Item.seq)).where(Item.message_pk == message.id))
        self.seq = self.seq or 0
        self.firsts: dict[str, Item] = {}  # sha256 -> the first copy unpacked here
        with session.no_autoflush:  # sha256 -> the first copy filed before, one query
            self.earlier = first_copies(session, sorted({_sha(p) for p in blobs.values()}))
        self.decisions: list[tuple[Item, object]] = []
        self.campaign = ctx.place_of(message, session).campaign  # None: no kinds (其他来件)

    def add(self, container: Item, contents: Contents) -> list[Item]:
        """Returns the items made or filled for the contents of `container`."""
        made: list[Item] = []
        children: list[Item] = []
        for member in contents.members:
            old = self._existing(container, member)
            if old is None:
                item = self._new(container, member)
                made.append(item)
            elif old.status == ENCRYPTED and member.status != ENCRYPTED:
                item = self._fill(old, member)
                made.append(item)
            else:
                item = old
            children.append(item)
            if member.contents is not None:
                made += self.add(item, member.contents)
        describe_container(container, contents, children)
        return made

    def _existing(self, container: Item, member: Member) -> Item | None:
        if container.id is None:  # a nested archive made just now
            return None
        found = self.existing.get((container.id, member.entry))
        return found or self.existing.get((container.id, member.name))

    def _new(self, container: Item, member: Member) -> Item:
        self.seq += 1
        item = Item(
            seq=self.seq,
            name=member.name[:1000],
            media="other",
            role="material",
            container=container,
            size=member.size,
            meta={},
        )
        self.message.items.append(item)
        return self._fill(item, member)

    def _fill(self, item: Item, member: Member) -> Item:
        """Gives an item its member's status, bytes, kind and view."""
        item.status, item.error, item.size = member.status, member.error, member.size
        meta = {"member_of": item.container.name, "entry": member.entry}
        for key in ("limit", "detail", "password_from"):
            if getattr(member, key):
                meta[key] = getattr(member, key)
        item.meta = meta
        if member.status == OK and member.path in self.blobs:
            item.sha256, item.blob_path = member.sha256, self.blobs[member.path]
            self._first_copy(item)
        found = sniff(member.head, PurePosixPath(item.name).name)
        item.mime, item.media = found.mime, found.media
        kind = member_kind(
            PurePosixPath(item.name).name,
            found.media,
            self.message.subject,
            self.campaign,
            self.message.received_at,
        )
        item.kind, item.kind_confidence = kind.value, kind.confidence
        self.decisions.append((item, kind))
        container_path = item.container.path
        if item.blob_path and container_path is not None:
            filing.place_member(self.session, self.ctx.archive, item, container_path, self.created)
        return item

    def _first_copy(self, item: Item) -> None:
        here = self.firsts.get(item.sha256)
        if here is not None:
            item.duplicate_of = here
            return
        item.duplicate_of_id = self.earlier.get(item.sha256)
        if item.duplicate_of_id is None:
            self.firsts[item.sha256] = item

    def record_decisions(self) -> None:
        """Adds one kind decision per member item made or filled (after the flush: ids)."""
        self.session.add_all(
            DecisionRecord.of(
                "kind",
                kind,
                message_pk=self.message.id,
                item_id=item.id,
                evidence={"container": item.container.name},
            )
            for item, kind in self.decisions
        )


def describe_container(container: Item, contents: Contents, members: list[Item]) -> None:
    """Sets an archive item's status, reason and `meta.unpack` from what it held.

    Refused as a whole (too many members, names encrypted): that status. Every member
    refused: the most telling member status (a password first: staff can give it).
    Some refused: `ok`, with a reason naming what was skipped. Junk is only counted.
    """
    statuses = Counter(m.status for m in members)
    skipped = {s: n for s, n in statuses.items() if s != OK}
    meta = {**(container.meta or {})}
    meta["unpack"] = {
        "members": len(members),
        "extracted": statuses.get(OK, 0),
        "skipped": skipped,
        "junk": contents.junk_count,
        "junk_names": contents.junk,
        "empty_folders": contents.empty_folders,
    }
    meta.pop("limit", None)
    if contents.names_password_from:
        meta["password_from"] = contents.names_password_from
    container.status, container.error = OK, None
    if contents.status != OK:
        container.status, container.error = contents.status, contents.error
        meta["limit"] = contents.limit
    elif members and not statuses.get(OK):
        container.status = ENCRYPTED if ENCRYPTED in statuses else statuses.most_common(1)[0][0]
        container.error = f"压缩包内的 {len(members)} 个文件都未能解出：{_skipped_text(skipped)}"
    elif skipped:
        container.error = (
            f"压缩包内有 {sum(skipped.values())} 个文件未能解出：{_skipped_text(skipped)}"
        )
    container.meta = {k: v for k, v in meta.items() if v is not None}


def _skipped_text(skipped: dict[str, int]) -> str:
    return "，".join(f"{SKIPPED_LABELS.get(s, s)} {n} 个" for s, n in sorted(skipped.items()))
