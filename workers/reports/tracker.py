"""The campaign tracker: every unit × every required kind, and its state on a day.

Pure: takes the campaign, the units and what was received, returns rows. The
caller reads the index (see daily.load_submissions) and passes the data in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pipeline.campaign import Campaign, Kind
from pipeline.units import Unit

SUBMITTED, LATE, MISSING, PENDING = "submitted", "late", "missing", "pending"
STATE_LABELS = {
    SUBMITTED: "已按时报送",
    LATE: "逾期报送",
    MISSING: "未报送（已过截止）",
    PENDING: "尚未报送",
}


@dataclass(frozen=True)
class Submission:
    """One material item a unit sent: which kind, when the mailbox received it."""

    unit: str
    kind: str
    received_at: datetime
    key: str  # sha256 (or item id) so a re-sent file counts once


@dataclass(frozen=True)
class TrackerRow:
    """The state of one unit for one required kind, as of a day."""

    unit: str
    unit_name: str
    unit_type: str
    kind: str
    kind_label: str
    state: str
    first_received: datetime | None
    last_received: datetime | None
    items: int
    due: date | None
    days_left: int | None  # days from the as-of day to the deadline day; negative = past
    silent: bool  # the unit has sent nothing at all yet
    campaign: str = ""  # the campaign's name

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    def to_json(self, campaign: Campaign) -> dict[str, Any]:
        """Returns the stable JSON form: {unit, unit_name, kind, state, first_received, items, due}."""
        first = self.first_received
        return {
            "unit": self.unit,
            "unit_name": self.unit_name,
            "kind": self.kind,
            "state": self.state,
            "first_received": first.astimezone(campaign.tz).isoformat() if first else None,
            "items": self.items,
            "due": self.due.isoformat() if self.due else None,
        }


def required_kinds(campaign: Campaign) -> list[Kind]:
    return [k for k in campaign.kinds if k.required]


def tracker_rows(
    campaign: Campaign,
    units: Sequence[Unit],
    submissions: Iterable[Submission],
    as_of: date,
    active_units: Iterable[str] = (),
) -> list[TrackerRow]:
    """Returns one row per unit × required kind, in config order, as of the end of `as_of`.

    Only what the mailbox received on or before `as_of` (local day) counts.
    `active_units` are units with any filed mail (even unusable) up to that day.
    Only the units the campaign's notice addresses are listed.
    """
    units = [u for u in units if campaign.addresses(u.code, u.type)]
    seen: dict[tuple[str, str], list[Submission]] = {}
    for sub in submissions:
        if campaign.local_day(sub.received_at) <= as_of:
            seen.setdefault((sub.unit, sub.kind), []).append(sub)
    active = set(active_units) | {unit for unit, _ in seen}
    return [
        _row(
            campaign,
            unit,
            kind,
            seen.get((unit.code, kind.code), []),
            as_of,
            unit.code not in active,
        )
        for unit in units
        for kind in required_kinds(campaign)
    ]


def _row(
    campaign: Campaign, unit: Unit, kind: Kind, subs: list[Submission], as_of: date, silent: bool
) -> TrackerRow:
    first = min((s.received_at for s in subs), default=None)
    last = max((s.received_at for s in subs), default=None)
    return TrackerRow(
        unit=unit.code,
        unit_name=unit.name,
        unit_type=unit.type,
        kind=kind.code,
        kind_label=kind.label,
        state=tracker_state(campaign, kind, first, as_of),
        first_received=first,
        last_received=last,
        items=len({s.key for s in subs}),
        due=kind.due,
        days_left=(kind.due - as_of).days if kind.due else None,
        silent=silent,
        campaign=campaign.name,
    )


def tracker_state(campaign: Campaign, kind: Kind, first: datetime | None, as_of: date) -> str:
    """Returns submitted, late, missing or pending for one kind, from its first receipt."""
    if first is not None:
        return LATE if campaign.is_late(kind.code, first) else SUBMITTED
    if kind.due is not None and as_of > kind.due:
        return MISSING
    return PENDING


def silent_units(rows: Iterable[TrackerRow]) -> list[tuple[str, str]]:
    """Returns (code, name) of units that have sent nothing at all, in order."""
    out: dict[str, str] = {}
    for row in rows:
        if row.silent:
            out.setdefault(row.unit, row.unit_name)
    return list(out.items())


def state_counts(rows: Iterable[TrackerRow]) -> dict[str, dict[str, int]]:
    """Returns {kind: {state: count}} for the summary line of each kind."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        per = counts.setdefault(row.kind, {SUBMITTED: 0, LATE: 0, MISSING: 0, PENDING: 0})
        per[row.state] += 1
    return counts
