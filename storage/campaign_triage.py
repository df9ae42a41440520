"""Staff decisions about campaigns: put a message in a campaign or in 其他来件, and answer
inquiries (待回复).

Assigning a campaign re-plans the message's kinds with that campaign's kinds (as
ingestion would have, had it decided so; a kind a person chose stays when the campaign
has it) and moves its files; the audit entry undoes all of it through
`storage.triage.undo`, like every triage action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import filing
from storage.models import AuditEntry, Message
from storage.replan import apply_campaign
from storage.triage import (
    CAMPAIGN,
    OTHER_CHOICE,
    Desk,
    TriageError,
    locked_message,
    message_for_edit,
    message_state,
    record_change,
    resolve_campaign,
)

log = logging.getLogger(__name__)
ANSWERED = "mark_answered"


@dataclass
class CampaignResult:
    """What assign_campaign did: the audit entry to undo it, kinds changed, files moved."""

    message_pk: int
    campaign: str | None  # None: 其他来件
    audit_id: int
    kinds: dict[int, str | None] = field(default_factory=dict)
    moved: list[tuple[str | None, str]] = field(default_factory=list)


def assign_campaign(ctx: Desk, message_pk: int, code: str | None, actor: str) -> CampaignResult:
    """Returns what happened when `actor` put message `message_pk` in campaign `code`
    (None or "_other": 其他来件, counted by no tracker). Raises TriageError."""
    code = None if code in (None, "", OTHER_CHOICE) else code
    campaign = resolve_campaign(ctx, code)
    moved: list[dict] = []
    try:
        with ctx.db.session() as session:
            message = message_for_edit(session, message_pk)
            before = {**message_state(message), "flags": list(message.flags or [])}
            with ctx.archive.open(message.raw_path) as handle:
                plans = ctx.plan_kinds(handle.read(), campaign, message.received_at)
            kinds = apply_campaign(session, message, campaign, plans, actor)
            unit = next((u for u in ctx.units if u.code == message.unit_code), None)
            moved = filing.refile(
                session, ctx.archive, ctx.place_of(message, session), message,
                unit.name if unit else None,
            )  # fmt: skip
            audit_id = record_change(session, actor, CAMPAIGN, message, before, moved, children=[])
    except BaseException:
        filing.move_back(ctx.archive, moved)
        raise
    log.info("%s put message %s in %s (audit %s)", actor, message_pk, code or "其他来件", audit_id)
    return CampaignResult(message_pk, code, audit_id, kinds, [(m["from"], m["to"]) for m in moved])


# -- inquiries: 待回复 ---------------------------------------------------------------------


def pending_inquiries(session: Session, campaign: str | None = None, limit: int = 200) -> list:
    """Returns the inquiries not answered yet (oldest first), of one campaign if given."""
    query = select(Message).where(
        Message.not_material_reason == "inquiry", Message.answered_at.is_(None)
    )
    if campaign is not None:
        query = query.where(Message.campaign_code == campaign)
    return list(session.scalars(query.order_by(Message.received_at, Message.id).limit(limit)))


def mark_answered(ctx: Desk, message_pk: int, actor: str, answered: bool = True) -> int:
    """Returns the audit id after `actor` marked an inquiry answered (or waiting again)."""
    with ctx.db.session() as session:
        message = locked_message(session, message_pk)
        if message is None or message.not_material_reason != "inquiry":
            raise TriageError(f"message {message_pk} is not an inquiry")
        before = message.answered_at.isoformat() if message.answered_at else None
        message.answered_at = datetime.now(UTC) if answered else None
        message.answered_by = actor[:100] if answered else None
        entry = AuditEntry(
            actor=actor,
            action=ANSWERED,
            target=f"message:{message.id}",
            data={"answered": answered, "before": before},
        )
        session.add(entry)
        session.flush()
        return entry.id


def refile_campaign(ctx: Desk, code: str) -> int:
    """Moves the files of the campaign's messages to where its present name and kind labels
    put them (after a person corrected them); returns how many files moved."""
    with ctx.db.session() as session:
        pks = session.scalars(
            select(Message.id).where(
                Message.campaign_code == code, Message.campaign_status.in_(("assigned", "triage"))
            )
        ).all()
    names = {u.code: u.name for u in ctx.units}
    count = 0
    for pk in pks:
        moved: list[dict] = []
        try:
            with ctx.db.session() as session:
                message = locked_message(session, pk)
                place = ctx.place_of(message, session)
                moved = filing.refile(
                    session, ctx.archive, place, message, names.get(message.unit_code or "")
                )
        except BaseException:
            filing.move_back(ctx.archive, moved)
            raise
        count += len(moved)
    return count
