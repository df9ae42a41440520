"""The stable exports: JSON Lines of messages and of items (documented in README)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from storage.models import Item, Message

if TYPE_CHECKING:
    from workers.app import AppContext

FLAG_ORDER = (
    "late",
    "early",
    "duplicate",
    "forwarded",
    "auto_reply",
    "bounce",
    "spam",
    "external_link",
    "inquiry",
)
OTHER = "_other"  # --campaign for mail of no campaign (其他来件)


def _window(
    ctx: AppContext,
    since: date | None,
    until: date | None,
    unit: str | None,
    campaign: str | None = None,
):
    query = select(Message).order_by(Message.received_at, Message.id)
    if campaign == OTHER:
        query = query.where(Message.campaign_status == "other")
    elif campaign:
        query = query.where(
            Message.campaign_code == campaign, Message.campaign_status == "assigned"
        )
    tz = ctx.campaign.tz
    if since:
        query = query.where(Message.received_at >= datetime.combine(since, time(0), tz))
    if until:
        query = query.where(
            Message.received_at < datetime.combine(until + timedelta(days=1), time(0), tz)
        )
    if unit:
        query = query.where(Message.unit_code == unit)
    return query


def exported_items(message: Message) -> list[Item]:
    """Returns the items of a message that count as archived material."""
    return [i for i in message.items if i.role == "material"]


def campaign_of(message: Message) -> str | None:
    """Returns the campaign the message is filed under; None for 其他来件 and undecided."""
    return message.campaign_code if message.campaign_status == "assigned" else None


def export_messages(
    ctx: AppContext, since=None, until=None, unit=None, campaign=None
) -> Iterator[dict[str, Any]]:
    """Yields one object per message, in the order they were received."""
    names = {u.code: u.name for u in ctx.config.units}
    tz = ctx.campaign.tz
    with ctx.db.session() as session:
        query = _window(ctx, since, until, unit, campaign).options(selectinload(Message.items))
        for m in session.scalars(query):
            flags = [f for f in FLAG_ORDER if f in (m.flags or [])]
            yield {
                "message_id": m.message_id or None,
                "date": m.received_at.astimezone(tz).isoformat(),
                "from": m.from_addr,
                "subject": m.subject,
                "unit": m.unit_code,
                "unit_name": names.get(m.unit_code) if m.unit_code else None,
                "confidence": round(m.confidence, 3),
                "campaign": campaign_of(m),
                "campaign_confidence": round(m.campaign_confidence or 0.0, 3),
                "is_material": m.is_material,
                "flags": flags,
                "forwarded_from": m.forwarded_from,
                "items": len(exported_items(m)),
                "raw_path": m.raw_path,
                "error": m.error if m.status == "error" else None,
            }


def export_items(
    ctx: AppContext, since=None, until=None, unit=None, campaign=None
) -> Iterator[dict[str, Any]]:
    """Yields one object per archived item, message by message."""
    with ctx.db.session() as session:
        query = _window(ctx, since, until, unit, campaign).options(
            selectinload(Message.items).selectinload(Item.duplicate_of).selectinload(Item.message),
            selectinload(Message.items).selectinload(Item.container),
        )
        for m in session.scalars(query):
            for item in exported_items(m):
                original = item.duplicate_of
                yield {
                    "message_id": m.message_id or None,
                    "name": item.name,
                    "campaign": campaign_of(m),
                    "kind": item.kind,
                    "media": item.media,
                    "sha256": item.sha256,
                    "size": item.size,
                    "status": item.status,
                    "error": item.error,
                    "path": item.path,
                    "duplicate_of": (original.message.message_id or None) if original else None,
                    "container": item.container.name if item.container else None,
                    "url": item.url,
                    "thumbnail": item.thumbnail,
                    "preview": item.preview,
                    "web_video": item.web_video,
                    "password_from": (item.meta or {}).get("password_from"),
                }
