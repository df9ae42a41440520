"""Putting a message in a campaign (or in 其他来件) inside an open triage transaction.

Shared by the campaign assignment (storage/campaign_triage.py) and the unit assignment,
which confirms the campaign a clerk saw proposed (storage/triage.py). The kinds are
re-planned with the new campaign's kinds, as ingestion would have planned them had it
decided that campaign; a kind a person chose stays when the new campaign has it.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.campaign import Campaign
from pipeline.classify import campaign_flags
from pipeline.decide import member_kind
from storage.models import DecisionRecord, Item, Message

CAMPAIGN_FLAGS = ("late", "early")


def settled_status(message: Message) -> str:
    """Returns filed when a person or the machine has decided both unit and campaign."""
    if not message.is_material:
        return "not_material"
    if message.unit_code is None or message.campaign_status == "triage":
        return "triage"
    return "filed"


def apply_campaign(
    session: Session,
    message: Message,
    campaign: Campaign | None,
    plans: list | None,
    actor: str,
) -> dict[int, str | None]:
    """Puts the message in `campaign` (None: 其他来件) as decided by `actor`; re-plans its
    kinds from `plans` (the raw message planned for that campaign; None keeps the kinds)
    and its late/early flags. Returns {item id: kind} of the items whose kind changed."""
    _apply(session, message, campaign, actor)
    return _replan(session, message, plans, campaign, actor)


def _apply(session: Session, message: Message, campaign: Campaign | None, actor: str) -> None:
    previous = message.campaign_code if message.campaign_status == "assigned" else None
    message.campaign_code = campaign.code if campaign else None
    message.campaign_status = "assigned" if campaign else "other"
    message.campaign_confidence = 1.0
    message.status = settled_status(message)
    session.add(
        DecisionRecord(
            message_pk=message.id,
            subject="campaign",
            value=message.campaign_code,
            confidence=1.0,
            level="strong",
            decided_by=actor,
            evidence={
                "reason": "assigned by " + actor,
                "outcome": "campaign" if campaign else "other",
                "previous": previous,
            },
        )
    )


def _replan(
    session: Session,
    message: Message,
    plans: list,
    campaign: Campaign | None,
    actor: str,
) -> dict[int, str | None]:
    """Gives each item its kind under the new campaign; returns {item id: kind} changed."""
    chosen = _kinds_chosen_by_people(session, message)
    codes = set(campaign.kind_codes()) if campaign else set()
    changed: dict[int, str | None] = {}
    for item in message.items:
        if item.role != "material" or plans is None:
            continue
        if item.id in chosen and chosen[item.id] in codes:
            kind, confidence = chosen[item.id], 1.0
        else:
            kind, confidence = _planned_kind(item, plans, campaign, message)
        if kind != item.kind:
            changed[item.id] = kind
            session.add(
                DecisionRecord(
                    message_pk=message.id,
                    item_id=item.id,
                    subject="kind",
                    value=kind,
                    confidence=confidence,
                    level="strong" if kind else "none",
                    evidence={
                        "reason": f"kinds of {campaign.code if campaign else '其他来件'}, "
                        f"assigned by {actor}",
                        "previous": item.kind,
                    },
                )  # fmt: skip
            )
        item.kind, item.kind_confidence = kind, confidence
    kept = [f for f in (message.flags or []) if f not in CAMPAIGN_FLAGS]
    if campaign is not None and message.is_material:
        items = [(i.kind, i.status) for i in message.items
                 if i.role == "material" and i.container_id is None]  # fmt: skip
        flags = campaign_flags(items, campaign, message.received_at)
        kept = [*(f for f in flags if f in CAMPAIGN_FLAGS), *kept]
    message.flags = kept
    return changed


def _planned_kind(item: Item, plans: list, campaign: Campaign | None, message: Message):
    if item.container_id is None and item.seq < len(plans) and plans[item.seq].name == item.name:
        kind = plans[item.seq].kind
    else:  # an archive member: its kind comes from its name
        name = PurePosixPath(item.name).name
        kind = member_kind(name, item.media, message.subject, campaign, message.received_at)
    return kind.value, kind.confidence


def _kinds_chosen_by_people(session: Session, message: Message) -> dict[int, str]:
    rows = session.execute(
        select(DecisionRecord.item_id, DecisionRecord.value)
        .where(
            DecisionRecord.message_pk == message.id,
            DecisionRecord.subject == "kind",
            DecisionRecord.decided_by != "auto",
        )
        .order_by(DecisionRecord.id)
    ).all()
    return {item_id: value for item_id, value in rows if item_id is not None and value}
