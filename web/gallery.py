"""The pictures of a message: each photo or video once, with where else the same file came.

A file sent twice is stored once (items.duplicate_of_id points at the first copy),
so a message page shows it once — with "也见于" and the other messages that
brought the same bytes — and always the first copy's thumbnail. Files that cannot
be shown (corrupt, encrypted) are marked with what happened, never a broken image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Item, Message

PICTURE_MEDIA = ("image", "video")


@dataclass
class Picture:
    """One photo or video on a message page."""

    item: Item  # this message's item
    shown_id: int  # whose thumbnail and preview to show: the first copy of these bytes
    copies: int = 1  # how often this message carries the same file
    also: list[tuple[int, str]] = field(default_factory=list)  # other messages: (id, subject)

    @property
    def usable(self) -> bool:
        return self.item.status == "ok"


def pictures(session: Session, message: Message) -> list[Picture]:
    """Returns the message's photos and videos, each distinct file once, in message order."""
    found: dict[int, Picture] = {}
    for item in message.items:
        if item.role != "material" or item.media not in PICTURE_MEDIA:
            continue
        root = item.duplicate_of_id or item.id
        if root in found:
            found[root].copies += 1
        else:
            found[root] = Picture(item, root)
    _add_other_messages(session, message.id, found)
    return list(found.values())


def _add_other_messages(session: Session, message_pk: int, found: dict[int, Picture]) -> None:
    """Adds to each picture the other messages holding the same bytes (found by their hash,
    which is indexed: every copy of a file has the first copy's sha256)."""
    by_hash = {p.item.sha256: p for p in found.values() if p.item.sha256}
    if not by_hash:
        return
    rows = session.execute(
        select(Item.sha256, Message.id, Message.subject)
        .join(Message, Message.id == Item.message_pk)
        .where(
            Item.sha256.in_(list(by_hash)),
            Item.role == "material",
            Item.message_pk != message_pk,
        )
        .order_by(Message.received_at, Message.id)
    )
    for sha, other, subject in rows:
        picture = by_hash[sha]
        if all(other != known for known, _ in picture.also):
            picture.also.append((other, subject or "（无主题）"))
