"""The triage queue: which messages wait for a person, filtered, counted and paged.

One query (`queue_query`) serves the web page (a page at a time), its bulk actions
("all N matching": the ids of every match) and `mailroom triage list`. Filters are
optional; `campaign` is for the campaign the queue is about once campaigns exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, String, cast, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from storage.models import DecisionRecord, Item, Message

# Why the machine could not decide: a filter on the decision's recorded reason.
REASONS = {
    "none": "no clue names a unit",
    "weak": "only weak clues",
    "conflict": "clues disagree",
}
MAX_BULK = 20_000  # a bulk action over more than this is refused: narrow the filter


@dataclass(frozen=True)
class QueueFilter:
    """Which queued messages to show; every field is optional."""

    candidate: str | None = None  # a unit code among the machine's candidates
    since: datetime | None = None  # received at or after (aware)
    until: datetime | None = None  # received before (aware)
    sender: str | None = None  # part of the sender's address or name
    has_files: bool | None = None  # with (True) or without (False) material files
    reason: str | None = None  # none | weak | conflict (see REASONS)
    campaign: str | None = None  # a campaign's code: its mail, or mail whose campaign waits
    oldest_first: bool = False


@dataclass
class TriageRow:
    """One message waiting in triage, with what the machine saw."""

    message_pk: int
    message_id: str
    received_at: datetime
    from_addr: str
    from_name: str
    subject: str
    candidates: dict[str, float]
    clues: list[dict]  # the strongest clues first: source, value, target, weight
    reason: str
    items: list[tuple[int, str, str | None]]  # (item id, name, kind)
    unit: str | None = None  # decided already (only its campaign waits), or None
    campaign_status: str | None = None  # assigned | other | triage
    campaign_candidates: dict[str, float] = field(default_factory=dict)
    campaign_reason: str = ""

    def to_json(self, tz) -> dict:
        """Returns the stable JSON form of `mailroom triage list --format json`."""
        return {
            "id": self.message_pk,
            "message_id": self.message_id or None,
            "date": self.received_at.astimezone(tz).isoformat(),
            "from": self.from_addr,
            "from_name": self.from_name,
            "subject": self.subject,
            "candidates": self.candidates,
            "reason": self.reason,
            "items": [{"id": i, "name": n, "kind": k} for i, n, k in self.items],
            "unit": self.unit,
            "campaign_status": self.campaign_status,
            "campaign_candidates": self.campaign_candidates,
        }


def _auto_decision(*conditions):
    """Returns EXISTS(a machine's unit decision on the message matching conditions)."""
    return exists().where(
        DecisionRecord.message_pk == Message.id,
        DecisionRecord.subject == "unit",
        DecisionRecord.decided_by == "auto",
        *conditions,
    )


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def queue_query(flt: QueueFilter | None = None) -> Select:
    """Returns the query of queued messages matching flt, newest first unless asked."""
    flt = flt or QueueFilter()
    stmt = select(Message).where(Message.status == "triage")
    evidence = cast(DecisionRecord.evidence, String)
    if flt.candidate:
        # candidates are stored as {"code": score}; json.dumps writes '"code": '
        stmt = stmt.where(_auto_decision(evidence.like(_like(f'"{flt.candidate}": '), escape="\\")))
    if flt.campaign:
        # filed under it, proposed for it, or its campaign still undecided
        stmt = stmt.where(
            or_(Message.campaign_code == flt.campaign, Message.campaign_status == "triage")
        )
    if flt.reason in REASONS:
        stmt = stmt.where(_auto_decision(evidence.like(_like(REASONS[flt.reason]), escape="\\")))
    if flt.since:
        stmt = stmt.where(Message.received_at >= flt.since)
    if flt.until:
        stmt = stmt.where(Message.received_at < flt.until)
    if flt.sender:
        pattern = _like(flt.sender.strip().lower())
        stmt = stmt.where(
            or_(
                func.lower(Message.from_addr).like(pattern, escape="\\"),
                func.lower(Message.from_name).like(pattern, escape="\\"),
            )
        )
    if flt.has_files is not None:
        files = exists().where(Item.message_pk == Message.id, Item.role == "material")
        stmt = stmt.where(files if flt.has_files else ~files)
    if flt.oldest_first:
        return stmt.order_by(Message.received_at, Message.id)
    return stmt.order_by(Message.received_at.desc(), Message.id.desc())


def queued(limit: int | None = None) -> Select:
    """Returns the query of every queued message, oldest first (at most `limit`)."""
    query = queue_query(QueueFilter(oldest_first=True))
    return query.limit(limit) if limit is not None else query


def count(session: Session, flt: QueueFilter | None = None) -> int:
    """Returns how many queued messages match flt."""
    inner = queue_query(flt).order_by(None).with_only_columns(Message.id).subquery()
    return session.scalar(select(func.count()).select_from(inner)) or 0


def page(session: Session, flt: QueueFilter | None, number: int, per_page: int) -> list[Message]:
    """Returns one page of matching messages, their items and decisions loaded."""
    stmt = (
        queue_query(flt)
        .options(selectinload(Message.items), selectinload(Message.decisions))
        .limit(per_page)
        .offset((max(1, number) - 1) * per_page)
    )
    return list(session.scalars(stmt))


def matching_ids(session: Session, flt: QueueFilter | None) -> list[int]:
    """Returns the ids of every matching message (for "all N matching" bulk actions)."""
    stmt = queue_query(flt).with_only_columns(Message.id).limit(MAX_BULK + 1)
    return list(session.scalars(stmt))


def machine_decision(message: Message) -> DecisionRecord | None:
    """Returns the machine's latest unit decision (its candidates and clues), if any."""
    decisions = [d for d in message.decisions if d.subject == "unit" and d.item_id is None]
    auto = [d for d in decisions if d.decided_by == "auto"]
    chosen = auto or decisions
    return max(chosen, key=lambda d: d.id) if chosen else None


def row_of(message: Message) -> TriageRow:
    decision = machine_decision(message)
    evidence = decision.evidence if decision else {}
    clues = sorted(evidence.get("clues", []), key=lambda c: -c.get("weight", 0))
    items = [(i.id, i.name, i.kind) for i in message.items if i.role == "material"]
    campaign = [d.evidence for d in message.decisions if d.subject == "campaign"]
    return TriageRow(
        message.id,
        message.message_id,
        message.received_at,
        message.from_addr,
        message.from_name,
        message.subject,
        dict(evidence.get("candidates", {})),
        clues,
        evidence.get("reason", ""),
        items,
        message.unit_code,
        message.campaign_status,
        dict(campaign[-1].get("candidates", {})) if campaign else {},
        campaign[-1].get("reason", "") if campaign else "",
    )


def triage_queue(ctx, flt: QueueFilter | None = None) -> list[TriageRow]:
    """Returns every message waiting for a person (oldest first unless flt says otherwise)."""
    flt = flt or QueueFilter(oldest_first=True)
    with ctx.db.session() as session:
        stmt = queue_query(flt).options(
            selectinload(Message.items), selectinload(Message.decisions)
        )
        return [row_of(message) for message in session.scalars(stmt)]


def rows_by_id(session: Session, pks: Sequence[int]) -> dict[int, TriageRow]:
    """Returns the triage rows of these messages, by id."""
    stmt = (
        select(Message)
        .where(Message.id.in_(pks))
        .options(selectinload(Message.items), selectinload(Message.decisions))
    )
    return {m.id: row_of(m) for m in session.scalars(stmt)}
