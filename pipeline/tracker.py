"""The campaign tracker: every unit × every required kind, and its state on a day.

The one place that decides a cell's state. Pure: takes the campaign, the units
and what was received, returns rows; storage/tracker.py reads the index and
calls it, and the dashboard, the web CSV/XLSX, the daily report, the reminders
and `mailroom report tracker` all show what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
# Item statuses that count as a submission (a link is material still to fetch) ...
USABLE = ("ok", "external_link")
# ... and those that mean the unit sent the file but it cannot be used: ask for it again.
UNUSABLE = ("corrupt", "encrypted", "too_large", "rejected_unsafe")
RESEND_LABELS = {
    "corrupt": "文件损坏，无法打开",
    "encrypted": "文件或压缩包有密码",
    "too_large": "文件过大，未能存档",
    "rejected_unsafe": "压缩包不安全，已拒收",
}


@dataclass(frozen=True)
class Submission:
    """One material item a unit sent: which kind, when the mailbox received it."""

    unit: str
    kind: str
    received_at: datetime
    key: str  # sha256 (or item id) so a re-sent file counts once
    status: str = "ok"  # the item's status: USABLE counts, UNUSABLE asks for a resend
    name: str = ""  # the file name, to say what to ask for again

    @property
    def usable(self) -> bool:
        return self.status not in UNUSABLE


@dataclass(frozen=True)
class Tally:
    """The usable files one unit sent of one kind: how many (distinct), first and last receipt."""

    items: int
    first: datetime
    last: datetime


@dataclass
class Received:
    """What the units sent up to a day: usable files counted per (unit, kind), unusable ones
    listed (few: they are what a clerk asks to be sent again)."""

    tallies: dict[tuple[str, str], Tally] = field(default_factory=dict)
    unusable: dict[tuple[str, str], list[Submission]] = field(default_factory=dict)

    @classmethod
    def of(cls, submissions: Iterable[Submission], campaign: Campaign, as_of: date) -> Received:
        """Returns what the submissions received on or before `as_of` (local day) add up to."""
        usable: dict[tuple[str, str], list[Submission]] = {}
        out = cls()
        for sub in submissions:
            if campaign.local_day(sub.received_at) > as_of:
                continue
            target = usable if sub.usable else out.unusable
            target.setdefault((sub.unit, sub.kind), []).append(sub)
        for key, subs in usable.items():
            times = [s.received_at for s in subs]
            out.tallies[key] = Tally(len({s.key for s in subs}), min(times), max(times))
        return out

    def units(self) -> set[str]:
        return {unit for unit, _ in self.tallies} | {unit for unit, _ in self.unusable}


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
    # files of this kind the unit sent that cannot be used, when none could: (name, status)
    resend: tuple[tuple[str, str], ...] = field(default=())
    campaign: str = ""  # the campaign's name

    @property
    def needs_resend(self) -> bool:
        """True when the unit sent this kind but every file of it is unusable."""
        return bool(self.resend)

    @property
    def resend_reason(self) -> str | None:
        """Returns the unusable statuses (corrupt, encrypted, ...), comma-separated, or None."""
        return ",".join(dict.fromkeys(status for _, status in self.resend)) or None

    @property
    def state_label(self) -> str:
        return "需重发" if self.needs_resend else STATE_LABELS[self.state]

    @property
    def ask(self) -> str:
        """Returns what to ask the unit for, in Chinese ("" when nothing needs resending)."""
        if not self.resend:
            return ""
        files = "；".join(f"{name}（{RESEND_LABELS[status]}）" for name, status in self.resend)
        return f"请联系该单位重新发送{self.kind_label}：{files}"

    def to_json(self, campaign: Campaign) -> dict[str, Any]:
        """Returns the stable JSON form (README "Tracker JSON"): English keys and codes."""
        first = self.first_received
        return {
            "unit": self.unit,
            "unit_name": self.unit_name,
            "kind": self.kind,
            "state": self.state,
            "first_received": first.astimezone(campaign.tz).isoformat() if first else None,
            "items": self.items,
            "due": self.due.isoformat() if self.due else None,
            "needs_resend": self.needs_resend,
            "resend_reason": self.resend_reason,
        }


@dataclass(frozen=True)
class GridRow:
    """One unit's line of the units × kinds grid: its cells by kind code."""

    unit: str
    unit_name: str
    silent: bool
    cells: dict[str, TrackerRow]

    @property
    def problems(self) -> int:
        return sum(1 for c in self.cells.values() if c.state in (LATE, MISSING) or c.needs_resend)


def required_kinds(campaign: Campaign) -> list[Kind]:
    return [k for k in campaign.kinds if k.required]


def tracker_rows(
    campaign: Campaign,
    units: Sequence[Unit],
    received: Received | Iterable[Submission],
    as_of: date,
    active_units: Iterable[str] = (),
) -> list[TrackerRow]:
    """Returns one row per unit × required kind, in config order, as of the end of `as_of`.

    `received` is what the units sent (storage/tracker.py counts it in the index), or the
    submissions themselves: then only those received on or before `as_of` count.
    `active_units` are units with any filed mail (even unusable) up to that day.
    Only the units the campaign's notice addresses are listed.
    """
    units = [u for u in units if campaign.addresses(u.code, u.type)]
    if not isinstance(received, Received):
        received = Received.of(received, campaign, as_of)
    active = set(active_units) | received.units()
    return [
        _row(campaign, unit, kind, received, as_of, unit.code not in active)
        for unit in units
        for kind in required_kinds(campaign)
    ]


def _row(
    campaign: Campaign, unit: Unit, kind: Kind, received: Received, as_of: date, silent: bool
) -> TrackerRow:
    tally = received.tallies.get((unit.code, kind.code))
    first = tally.first if tally else None
    return TrackerRow(
        unit=unit.code,
        unit_name=unit.name,
        unit_type=unit.type,
        kind=kind.code,
        kind_label=kind.label,
        state=tracker_state(campaign, kind, first, as_of),
        first_received=first,
        last_received=tally.last if tally else None,
        items=tally.items if tally else 0,
        due=kind.due,
        days_left=(kind.due - as_of).days if kind.due else None,
        silent=silent,
        resend=() if tally else _unusable(received.unusable.get((unit.code, kind.code), [])),
        campaign=campaign.name,
    )


def _unusable(subs: list[Submission]) -> tuple[tuple[str, str], ...]:
    """Returns (name, status) of each distinct unusable file, in the order received."""
    out: dict[str, tuple[str, str]] = {}
    for sub in sorted(subs, key=lambda s: s.received_at):
        out.setdefault(sub.key, (sub.name or "未命名文件", sub.status))
    return tuple(out.values())


def tracker_state(campaign: Campaign, kind: Kind, first: datetime | None, as_of: date) -> str:
    """Returns submitted, late, missing or pending for one kind, from its first usable receipt."""
    if first is not None:
        return LATE if campaign.is_late(kind.code, first) else SUBMITTED
    if kind.due is not None and as_of > kind.due:
        return MISSING
    return PENDING


def tracker_grid(rows: Iterable[TrackerRow]) -> list[GridRow]:
    """Returns the rows grouped by unit (in their order), each with its cells by kind."""
    grid: dict[str, GridRow] = {}
    for row in rows:
        line = grid.get(row.unit)
        if line is None:
            line = grid[row.unit] = GridRow(row.unit, row.unit_name, row.silent, {})
        line.cells[row.kind] = row
    return list(grid.values())


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
