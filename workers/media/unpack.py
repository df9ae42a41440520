"""Opening archive items (zip, 7z, rar) into items of their own.

Each member becomes an Item with `container_id` set to the archive item (a member
of a nested archive points at the nested archive), its kind classified like any
attachment, its bytes stored by content and its view linked next to the archive:
`<message folder>/<archive name without extension>/<member path>` (storage.filing). The guards of
`pipeline.media.archives` become member statuses (rejected_unsafe, too_large,
encrypted, corrupt); an unreadable archive marks the archive item corrupt. The
archive item itself is always kept.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.decide import member_kind
from pipeline.errors import ArchiveError
from pipeline.media.archives import ENCRYPTED, OK, Member, archive_kind, list_and_extract
from pipeline.sniff import sniff
from pipeline.tempnames import temp_prefix
from storage import filing
from storage.models import DecisionRecord, Item, Message, first_copy

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
TEMP_FOLDER = ".tmp"  # inside the archive root, so large members stay on the archive's disk


def can_expand(item: Item) -> bool:
    """Returns True for an intact archive item whose members are not yet items."""
    return item.media == "archive" and item.status == "ok" and item.blob_path is not None


def expand_archive(ctx: AppContext, session: Session, item: Item, created: list[str]) -> list[Item]:
    """Returns the member items made for an archive item (view paths made go to `created`)."""
    blob = ctx.archive.abspath(item.blob_path)
    if archive_kind(blob) is None:
        return []  # .gz, .tar and friends: kept as they are, not opened
    if session.scalar(select(Item.id).where(Item.container_id == item.id).limit(1)):
        return []  # already expanded (a retry after a crash, say)
    limits = ctx.config.limits
    temp_root = ctx.archive.abspath(TEMP_FOLDER)
    temp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=temp_prefix("unpack-"), dir=temp_root) as tmp:
        try:
            members = list_and_extract(
                blob,
                Path(tmp),
                max_total_bytes=limits.max_archive_total_bytes,
                max_ratio=limits.max_archive_ratio,
                max_members=limits.max_archive_members,
                max_depth=limits.max_archive_depth,
            )
        except ArchiveError as exc:
            item.status, item.error = "corrupt", str(exc)
            log.warning(
                "archive %s of message %s is unreadable: %s", item.name, item.message_pk, exc
            )
            return []
        if _names_encrypted(members, blob):
            item.status, item.error = "encrypted", members[0].error
            return []
        return _add_members(ctx, session, item, members, created)


def _names_encrypted(members: list[Member], blob: Path) -> bool:
    """True when the archive hides even its member names (one pseudo-member is returned)."""
    return len(members) == 1 and members[0].status == ENCRYPTED and members[0].name == blob.name


def _add_members(
    ctx: AppContext, session: Session, container: Item, members: list[Member], created: list[str]
) -> list[Item]:
    message = session.get(Message, container.message_pk)
    seq = session.scalar(select(func.max(Item.seq)).where(Item.message_pk == message.id)) or 0
    made: list[Item] = []
    for member in members:
        seq += 1
        item = _member_item(ctx, session, message, container, member, seq)
        if member.status == OK and item.blob_path and container.path is not None:
            filing.place_member(session, ctx.archive, item, container.path, created)
        made.append(item)
        if member.nested:  # members of a nested archive: items whose container is it
            made += _add_members(ctx, session, item, member.nested, created)
            seq = max(seq, *(i.seq for i in made))
    return made


def _member_item(
    ctx: AppContext, session: Session, message: Message, container: Item, member: Member, seq: int
) -> Item:
    name = member.name.replace("\\", "/")
    item = Item(
        seq=seq,
        name=name[:1000],
        media="other",
        role="material",
        container_id=container.id,
        status=member.status,
        error=member.error,
        size=member.size,
        meta={"member_of": container.name},
    )
    head = b""
    if member.status == OK and member.path is not None:
        with open(member.path, "rb") as handle:
            head = handle.read(8192)
        item.sha256, item.blob_path, item.size = ctx.archive.put_blob_file(member.path)
        item.duplicate_of_id = first_copy(session, item.sha256)
    found = sniff(head, PurePosixPath(name).name)
    item.mime, item.media = found.mime, found.media
    kind = member_kind(
        PurePosixPath(name).name,
        found.media,
        message.subject,
        ctx.place_of(message, session).campaign,
        message.received_at,
    )
    item.kind, item.kind_confidence = kind.value, kind.confidence
    message.items.append(item)
    session.flush()
    session.add(
        DecisionRecord.of(
            "kind",
            kind,
            message_pk=message.id,
            item_id=item.id,
            evidence={"container": container.name},
        )  # fmt: skip
    )
    return item
