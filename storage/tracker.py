"""Reading the tracker's input from the index: what each unit sent, usable or not.

`load_tracker` is what every view of the tracker calls (dashboard, unit page,
web CSV/XLSX, daily report, reminders, `mailroom report tracker`); the state of
each cell is decided by `pipeline.tracker.tracker_rows` alone. The usable files
are counted in the database (one row per unit and kind, however many files came);
the unusable ones are read one by one, as each is a file to ask for again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, String, cast, func, literal, select
from sqlalchemy.orm import Session

from pipeline.campaign import Campaign
from pipeline.tracker import (
    UNUSABLE,
    USABLE,
    Received,
    Submission,
    Tally,
    TrackerRow,
    tracker_rows,
)
from pipeline.units import Unit
from storage.models import Item, Message


def _filed(stmt: Select, campaign: str, end: datetime, unit: str | None) -> Select:
    """Adds the conditions every count shares: a unit's filed material mail of the campaign,
    received by end. Mail of another campaign, of none (其他来件) or whose campaign is
    still in triage never counts."""
    stmt = stmt.where(
        Message.status == "filed",
        Message.is_material.is_(True),
        Message.unit_code.is_not(None),
        Message.campaign_code == campaign,
        Message.campaign_status == "assigned",
        Message.received_at < end,
    )
    return stmt.where(Message.unit_code == unit) if unit is not None else stmt


def load_received(
    session: Session, campaign: Campaign, as_of: date, unit: str | None = None
) -> tuple[Received, set[str]]:
    """Returns what the units sent for `campaign` by the end of `as_of` (local day), and
    the units that had sent any filed mail of it by then; `unit` limits it to one unit.
    """
    end = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=campaign.tz)
    items = (
        select(Message.unit_code, Item.kind)
        .join(Item, Item.message_pk == Message.id)
        .where(Item.role == "material", Item.kind.is_not(None))
    )
    # a file sent twice counts once: by its bytes, or (a link) by its item
    key = func.coalesce(Item.sha256, literal("item:") + cast(Item.id, String))
    usable = _filed(
        items.add_columns(
            func.count(func.distinct(key)),
            func.min(Message.received_at),
            func.max(Message.received_at),
        ).where(Item.status.in_(USABLE)),
        campaign.code,
        end,
        unit,
    ).group_by(Message.unit_code, Item.kind)
    received = Received()
    for code, kind, count, first, last in session.execute(usable):
        received.tallies[(code, kind)] = Tally(count, _aware(first), _aware(last))
    # few rows: found through the status index, not by walking every filed message again
    damaged = select(Item.id).where(Item.status.in_(UNUSABLE)).scalar_subquery()
    unusable = _filed(
        items.add_columns(Message.received_at, key, Item.status, Item.name).where(
            Item.id.in_(damaged)
        ),
        campaign.code,
        end,
        unit,
    )
    for code, kind, at, sha, status, name in session.execute(unusable):
        sub = Submission(code, kind, _aware(at), sha, status, name)
        received.unusable.setdefault((code, kind), []).append(sub)
    active = _filed(select(Message.unit_code).distinct(), campaign.code, end, unit)
    return received, set(session.scalars(active))


def load_tracker(
    session: Session,
    campaign: Campaign,
    units: Sequence[Unit],
    as_of: date,
    unit: str | None = None,
) -> list[TrackerRow]:
    """Returns the tracker rows of `campaign` as of the end of a local day, read from the index.

    `units` are the configured units (in their order; only those the campaign addresses
    are listed); `unit` gives that unit's rows only.
    """
    if unit is not None:
        units = [u for u in units if u.code == unit]
    received, active = load_received(session, campaign, as_of, unit)
    return tracker_rows(campaign, units, received, as_of, active)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
