"""Where an item's file goes, and putting it there: the one place that decides it.

`item_view_path` is a pure function of the record (its place — campaign, 其他来件 or
undecided —, unit, kind, day, subject, file name); ingestion (`file_items`), triage
(`refile`) and archive expansion (`member_view_path`) all place files through it, so a
message filed on arrival and one moved by a clerk end up exactly where the other would
have. Views are hard links to the content-addressed objects (storage/archive.py):

    <campaign>/<unit or 待分拣>/<kind>/<day subject>/<file>   its campaign is decided
    其他来件/<unit or 单位待定>/<day subject>/<file>            it belongs to no campaign
    待分拣/<unit or 单位待定>/<day subject>/<file>              its campaign is not decided
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from pipeline.campaign import Campaign
from pipeline.classify import ItemPlan
from storage import layout
from storage.archive import Archive
from storage.models import DecisionRecord, Item, Message, first_copy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """Where a message's files go: its campaign (None: 其他来件) and whether that is settled.

    `status` is the message's campaign_status (assigned, other, triage); `tz` gives the
    day of a message that has no campaign.
    """

    campaign: Campaign | None
    status: str
    tz: ZoneInfo

    def label(self, kind: str | None) -> str:
        return self.campaign.label(kind) if self.campaign else ""


def item_view_path(
    place: Place,
    unit_name: str | None,
    kind: str | None,
    received_at: datetime,
    subject: str,
    filename: str,
) -> str:
    """Returns where an item is shown, relative: its campaign's tree, 其他来件 or 待分拣."""
    campaign = place.campaign
    if campaign is not None and place.status == "assigned":
        folder = layout.message_folder(
            campaign.name,
            unit_name,
            campaign.label(kind),
            campaign.local_day(received_at),
            subject,
        )
    else:
        top = layout.TRIAGE_FOLDER if place.status == "triage" else layout.OTHER_FOLDER
        day = received_at.astimezone(campaign.tz if campaign else place.tz).date()
        folder = layout.loose_folder(top, unit_name, day, subject)
    return layout.item_view_path(folder, filename)


def unit_folder(view_path: str) -> str:
    """Returns the <top>/<unit> folder of an item's view path (a message's `folder`)."""
    parts = view_path.split("/")
    return "/".join(parts[:2])


def member_view_path(container_path: str, member_name: str) -> str:
    """Returns where an archive member is shown: beside its archive, in a folder named for it."""
    path = PurePosixPath(container_path)
    folder = str(path.with_name(layout.safe_component(path.stem or path.name)))
    parts = [
        layout.safe_component(p)
        for p in member_name.replace("\\", "/").split("/")
        if p not in ("", ".", "..")
    ]
    return str(PurePosixPath(folder, *parts)) if parts else layout.item_view_path(folder, "未命名")


@dataclass
class NewItem:
    """One planned item with its bytes (None for links and decorative parts) and their hash."""

    plan: ItemPlan
    data: bytes | None
    digest: str | None
    declared_type: str


def file_items(
    session: Session,
    archive: Archive,
    place: Place,
    message: Message,
    unit_name: str | None,
    new_items: list[NewItem],
    created: list[str],
) -> dict[str, int]:
    """Stores a new message's items, links their views, records their kind decisions.

    Returns {kind code: material items}. View paths made are appended to `created`
    so the caller can remove them if the transaction fails.
    """
    kinds: dict[str, int] = {}
    firsts: dict[str, Item] = {}  # sha256 -> the first material copy within this message
    lock_contents(session, [n.digest for n in new_items])
    with session.no_autoflush:  # one flush for all items, not one per item and query
        for seq, new in enumerate(new_items):
            plan = new.plan
            item = _item(seq, new)
            if new.data is not None:
                item.sha256, item.blob_path = archive.put_blob(new.data, new.digest)
                item.size = len(new.data)
                item.duplicate_of_id = first_copy(session, item.sha256)
                if item.duplicate_of_id is None and item.sha256 in firsts:
                    item.duplicate_of = firsts[item.sha256]
                elif item.duplicate_of_id is None and plan.role == "material":
                    firsts[item.sha256] = item
            message.items.append(item)
            if plan.role != "material":
                continue
            kinds[plan.kind.value or ""] = kinds.get(plan.kind.value or "", 0) + 1
            if message.is_material and item.blob_path is not None:
                _place(session, archive, place, message, unit_name, item, created)
    session.flush()
    session.add_all(
        DecisionRecord.of("kind", new.plan.kind, message_pk=message.id, item_id=item.id)
        for item, new in zip(message.items, new_items, strict=True)
    )
    return kinds


def _item(seq: int, new: NewItem) -> Item:
    plan = new.plan
    return Item(
        seq=seq,
        name=plan.name[:1000],
        declared_type=new.declared_type,
        mime=plan.mime,
        media=plan.media,
        role=plan.role,
        kind=plan.kind.value,
        kind_confidence=plan.kind.confidence,
        status=plan.status,
        error=plan.error,
        url=plan.url,
        url_expiry=plan.url_expiry,
        meta={"service": plan.service} if plan.service else {},
    )


def _place(
    session: Session,
    archive: Archive,
    place: Place,
    message: Message,
    unit_name: str | None,
    item: Item,
    created: list[str],
) -> None:
    """Links a new item's view; a later copy of the same bytes shows the first copy's view."""
    if item.duplicate_of is not None:
        item.path = item.duplicate_of.path
        return
    if item.duplicate_of_id is not None:
        item.path = session.get(Item, item.duplicate_of_id).path
        return
    view = item_view_path(
        place, unit_name, item.kind, message.received_at, message.subject, item.name
    )
    item.path = archive.link(item.blob_path, view, made=created)
    message.folder = unit_folder(view)


def place_member(
    session: Session, archive: Archive, item: Item, container_path: str, created: list[str]
) -> None:
    """Links an archive member's view beside its archive (a duplicate shows the first copy)."""
    if item.duplicate_of is not None:
        item.path = item.duplicate_of.path
        return
    if item.duplicate_of_id is not None:
        item.path = session.get(Item, item.duplicate_of_id).path
        return
    view = member_view_path(container_path, item.name)
    item.path = archive.link(item.blob_path, view, made=created)


def lock_contents(session: Session, digests: list[str | None]) -> None:
    """On PostgreSQL, lock these file contents until commit (sorted: no deadlock).

    Two workers filing two messages with the same attachment at once would each find
    no first copy and both file theirs as the original; with the lock the second
    waits and then finds the first. SQLite needs none: its writers take turns, and
    this transaction's first statement (the message insert) already waited its turn.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    from storage.locks import advisory_key

    for key in sorted({advisory_key(f"content:{d}") for d in digests if d}):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# -- moving what is filed ----------------------------------------------------------


def refile(
    session: Session,
    archive: Archive,
    place: Place,
    message: Message,
    unit_name: str | None,
    only: Item | None = None,
) -> list[dict]:
    """Moves the message's views to where filing would put them now; returns the moves.

    Each move is {item, from, to, blob}, enough for `move_back` and for undo.
    """
    moves: list[dict] = []
    by_id = {i.id: i for i in message.items}
    wanted = _with_members(only, by_id) if only is not None else None
    for item in message.items:  # by seq: an archive moves before its members
        if (
            (wanted is not None and item.id not in wanted)
            or item.role != "material"
            or item.blob_path is None
            or item.duplicate_of_id is not None
            or not message.is_material
        ):
            continue
        target = _target(place, unit_name, message, item, by_id)
        if target is None or item.path == target:
            continue
        old = item.path
        placed = (
            archive.move_view(old, item.blob_path, target)
            if old
            else archive.link(item.blob_path, target)
        )
        if placed == old:
            continue
        moves.append({"item": item.id, "from": old, "to": placed, "blob": item.blob_path})
        item.path = placed
        follow_duplicates(session, item)
        message.folder = unit_folder(target)
    return moves


def _target(
    place: Place, unit_name: str | None, message: Message, item: Item, by_id: dict
) -> str | None:
    """Returns where filing puts an item now; an archive member stays beside its archive."""
    if item.container_id is None:
        return item_view_path(
            place, unit_name, item.kind, message.received_at, message.subject, item.name
        )
    container = by_id.get(item.container_id)
    if container is None or container.path is None:
        return None
    return member_view_path(container.path, item.name)


def _with_members(item: Item, by_id: dict) -> set[int]:
    """Returns the item's id and those of every member inside it (nested ones too)."""
    found = {item.id}
    grew = True
    while grew:
        inside = {i.id for i in by_id.values() if i.container_id in found}
        grew = not inside <= found
        found |= inside
    return found


def follow_duplicates(session: Session, item: Item) -> None:
    """Keeps later copies of the same bytes pointing at the first copy's view."""
    for copy in session.scalars(select(Item).where(Item.duplicate_of_id == item.id)):
        copy.path = item.path


def move_back(archive: Archive, moves: list[dict]) -> None:
    """Best-effort reversal of file moves when the index change did not commit."""
    for move in reversed(moves):
        try:
            if move["from"]:
                archive.link(move["blob"], move["from"])
            archive.unlink_view(move["to"])
        except Exception:
            log.exception("cannot move %s back to %s", move["to"], move["from"])
