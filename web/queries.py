"""What the pages show, read from the index: plain data from a session, no HTTP here."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from pipeline.campaign import Campaign
from pipeline.tracker import GridRow, tracker_grid
from storage.models import Item, Message, utcnow
from storage.tracker import load_tracker

PAGE = 50
COUNT_CAP = 10_000  # past this, pages say "10000+": an exact count would cost a full scan
PROBLEM_STATUSES = ("corrupt", "rejected_unsafe", "encrypted", "too_large", "external_link")


@dataclass
class Page:
    rows: list
    total: int
    page: int
    per_page: int = PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def capped(self) -> bool:
        return self.total > COUNT_CAP


def day_bounds(campaign: Campaign, day: date) -> tuple[datetime, datetime]:
    """Returns the [start, end) instants of a local calendar day."""
    start = datetime.combine(day, time(0), tzinfo=campaign.tz)
    return start, start + timedelta(days=1)


def capped_count(session: Session, stmt: Select, cap: int = COUNT_CAP) -> int:
    """Returns how many rows stmt gives, counting at most cap + 1 of them."""
    limited = stmt.order_by(None).limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(limited)) or 0


def paged(session: Session, stmt: Select, page: int, per_page: int = PAGE) -> Page:
    total = capped_count(session, stmt)
    rows = session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(rows, total, page, per_page)


def material_items() -> Select:
    """Returns the ids of material items (not logos), newest message first."""
    return (
        select(Item.id)
        .join(Message, Message.id == Item.message_pk)
        .where(Item.role == "material")
        .order_by(Message.received_at.desc(), Item.id)
    )


def load_items(session: Session, ids: list[int]) -> list[tuple[Item, Message]]:
    """Returns (item, message) pairs for ids, in the order of ids."""
    if not ids:
        return []
    rows = {
        item.id: (item, message)
        for item, message in session.execute(
            select(Item, Message)
            .join(Message, Message.id == Item.message_pk)
            .where(Item.id.in_(ids))
        )
    }
    return [rows[i] for i in ids if i in rows]


def browse_items(
    session: Session,
    campaign: Campaign,
    *,
    unit: str | None = None,
    kind: str | None = None,
    day: date | None = None,
    media: str | None = None,
    first_copies: bool = False,
    page: int = 1,
    per_page: int = PAGE,
    filed_under: str | None = None,
) -> Page:
    """Returns a page of material items matching the filters, newest first.

    `filed_under`: a campaign code, "_other" for mail of no campaign (其他来件), None for
    all; `campaign` gives the day boundaries; `first_copies`: a file sent twice is listed
    once (the photo grid shows each photo once).
    """
    stmt = material_items()
    if filed_under == "_other":
        stmt = stmt.where(Message.campaign_status == "other")
    elif filed_under:
        stmt = stmt.where(Message.campaign_code == filed_under)
    if first_copies:
        stmt = stmt.where(Item.duplicate_of_id.is_(None))
    if unit == "_triage":
        stmt = stmt.where(Message.status == "triage")
    elif unit:
        stmt = stmt.where(Message.unit_code == unit)
    if kind:
        stmt = stmt.where(Item.kind == kind)
    if media:
        stmt = stmt.where(Item.media == media)
    if day:
        start, end = day_bounds(campaign, day)
        stmt = stmt.where(Message.received_at >= start, Message.received_at < end)
    found = paged(session, stmt, page, per_page)
    found.rows = load_items(session, [row[0] for row in found.rows])
    return found


def unit_messages(session: Session, unit: str, page: int = 1) -> Page:
    stmt = (
        select(Message)
        .where(Message.unit_code == unit)
        .order_by(Message.received_at.desc(), Message.id.desc())
    )
    return paged(session, stmt, page)


def item_kinds_by_message(session: Session, message_pks: list[int]) -> dict[int, dict[str, int]]:
    """Returns {message_pk: {kind: count}} for material items of these messages."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    if not message_pks:
        return out
    rows = session.execute(
        select(Item.message_pk, Item.kind, func.count())
        .where(Item.message_pk.in_(message_pks), Item.role == "material")
        .group_by(Item.message_pk, Item.kind)
    )
    for pk, kind, n in rows:
        out[pk][kind or ""] = n
    return out


def tracker(
    session: Session,
    ctx,
    campaign: Campaign,
    unit: str | None = None,
    as_of: date | None = None,
) -> list[GridRow]:
    """Returns the units the campaign addresses × its required kinds as of the end of a
    local day (today by default), decided by the one tracker function every report uses."""
    day = as_of or campaign.local_day(utcnow())
    return tracker_grid(load_tracker(session, campaign, ctx.config.units, day, unit=unit))


def intake(session: Session, campaign: Campaign, now: datetime | None = None) -> dict[str, int]:
    """Returns counts of messages and items received today and this week (local time)."""
    now = now or utcnow()
    today = campaign.local_day(now)
    start_today, _ = day_bounds(campaign, today)
    start_week, _ = day_bounds(campaign, today - timedelta(days=today.weekday()))
    out = {}
    for label, since in (("today", start_today), ("week", start_week)):
        out[label + "_messages"] = (
            session.scalar(
                select(func.count()).select_from(Message).where(Message.received_at >= since)
            )
            or 0
        )
        out[label + "_items"] = (
            session.scalar(
                select(func.count())
                .select_from(Item)
                .join(Message, Message.id == Item.message_pk)
                .where(Message.received_at >= since, Item.role == "material")
            )
            or 0
        )
    out["triage"] = triage_count(session)
    out["not_material"] = (
        session.scalar(
            select(func.count()).select_from(Message).where(Message.status == "not_material")
        )
        or 0
    )
    out["total_messages"] = session.scalar(select(func.count()).select_from(Message)) or 0
    return out


def triage_count(session: Session) -> int:
    return (
        session.scalar(select(func.count()).select_from(Message).where(Message.status == "triage"))
        or 0
    )


def recent_problems(session: Session, limit: int = 10) -> dict[str, list]:
    """Returns the latest messages that could not be read and items staff must look at.

    A damaged attachment is one item line (its message was filed all the same), not
    one line per decoder complaint.
    """
    messages = session.scalars(
        select(Message)
        .where(Message.status.in_(("error", "quarantined")))
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()
    items = session.execute(
        select(Item, Message)
        .join(Message, Message.id == Item.message_pk)
        .where(Item.status.in_(PROBLEM_STATUSES), Item.role == "material")
        .order_by(Item.id.desc())
        .limit(limit)
    ).all()
    return {"messages": messages, "items": items}


def recent_messages(session: Session, limit: int = 10) -> list[Message]:
    return session.scalars(
        select(Message).order_by(Message.received_at.desc(), Message.id.desc()).limit(limit)
    ).all()


def campaign_counts(session: Session) -> dict[str | None, int]:
    """Returns {campaign code: messages filed under it}; None counts 其他来件."""
    rows = session.execute(
        select(Message.campaign_code, Message.campaign_status, func.count())
        .where(Message.status == "filed", Message.campaign_status.in_(("assigned", "other")))
        .group_by(Message.campaign_code, Message.campaign_status)
    ).all()
    out: dict[str | None, int] = {}
    for code, status, n in rows:
        key = code if status == "assigned" else None
        out[key] = out.get(key, 0) + n
    return out


def unit_counts(session: Session) -> dict[str | None, tuple[int, int]]:
    """Returns {unit code: (messages, material items)}; None is the triage folder."""
    msgs = dict(
        session.execute(
            select(Message.unit_code, func.count())
            .where(Message.is_material.is_(True))
            .group_by(Message.unit_code)
        ).all()
    )
    items = dict(
        session.execute(
            select(Message.unit_code, func.count())
            .select_from(Item)
            .join(Message, Message.id == Item.message_pk)
            .where(Item.role == "material")
            .group_by(Message.unit_code)
        ).all()
    )
    return {code: (msgs.get(code, 0), items.get(code, 0)) for code in set(msgs) | set(items)}
