"""Changes staff make from the UI: assign a unit and kinds, re-file, learn the sender.

The sorting issue's `workers.triage` owns these rules; when it is present the
UI calls it. Until then this is the minimum the UI needs: the decision is
recorded with who made it, the files move out of 待分拣 into the unit's folder,
the sender address is learned for the unit, and the change is in the audit log.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.errors import MailroomError
from storage import layout
from storage.models import AuditEntry, DecisionRecord, Item, Message, SenderAddress

log = logging.getLogger(__name__)

try:  # the sorting issue's implementation, when it has landed
    from workers import triage as _workers_triage
except ImportError:  # pragma: no cover - depends on what is merged
    _workers_triage = None


def assign(
    ctx, message_pk: int, unit_code: str, actor: str, kinds: dict[int, str] | None = None
) -> None:
    """Assigns a message to a unit (and items to kinds) as `actor`; re-files its files."""
    if _workers_triage is not None and hasattr(_workers_triage, "assign_unit"):
        _workers_triage.assign_unit(ctx, message_pk, unit_code, actor, kinds=kinds)
        return
    unit = next((u for u in ctx.config.units if u.code == unit_code), None)
    if unit is None:
        raise MailroomError(f"unknown unit {unit_code!r}: pick one from the list")
    with ctx.db.session() as session:
        message = session.get(Message, message_pk)
        if message is None:
            raise MailroomError(f"no message {message_pk}")
        before = {"unit": message.unit_code, "status": message.status}
        message.unit_code, message.status, message.confidence = unit_code, "filed", 1.0
        message.is_material = True
        session.add(
            DecisionRecord(
                message_pk=message.id,
                subject="unit",
                value=unit_code,
                confidence=1.0,
                level="strong",
                decided_by=actor,
                evidence={"reason": "assigned by staff", "previous": before["unit"], "clues": []},
            )
        )
        for item in message.items:
            if kinds and item.id in kinds and kinds[item.id] != item.kind:
                _record_kind(session, item, kinds[item.id], actor)
        _refile(ctx, message, unit.name)
        _learn_sender(session, message.from_addr, unit_code, actor)
        session.add(
            AuditEntry(
                actor=actor,
                action="assign_unit",
                target=f"message:{message.id}",
                data={
                    "before": before,
                    "unit": unit_code,
                    "kinds": {str(k): v for k, v in (kinds or {}).items()},
                },
            )
        )
    log.info("%s assigned message %s to %s", actor, message_pk, unit_code)


def set_item_kind(ctx, item_id: int, kind: str, actor: str) -> None:
    """Sets one item's kind as `actor` and moves its file to that kind's folder."""
    if _workers_triage is not None and hasattr(_workers_triage, "set_item_kind"):
        _workers_triage.set_item_kind(ctx, item_id, kind, actor)
        return
    if kind not in ctx.campaign.kind_codes():
        raise MailroomError(f"unknown kind {kind!r}: pick one from the list")
    with ctx.db.session() as session:
        item = session.get(Item, item_id)
        if item is None:
            raise MailroomError(f"no item {item_id}")
        before = item.kind
        _record_kind(session, item, kind, actor)
        unit = next((u for u in ctx.config.units if u.code == item.message.unit_code), None)
        _refile(ctx, item.message, unit.name if unit else None, only=item)
        session.add(
            AuditEntry(
                actor=actor,
                action="set_item_kind",
                target=f"item:{item.id}",
                data={"before": before, "kind": kind},
            )
        )


def _record_kind(session: Session, item: Item, kind: str, actor: str) -> None:
    session.add(
        DecisionRecord(
            message_pk=item.message_pk,
            item_id=item.id,
            subject="kind",
            value=kind,
            confidence=1.0,
            level="strong",
            decided_by=actor,
            evidence={"reason": "set by staff", "previous": item.kind, "clues": []},
        )
    )
    item.kind, item.kind_confidence = kind, 1.0


def _refile(ctx, message: Message, unit_name: str | None, only: Item | None = None) -> None:
    """Moves the message's view files to <unit>/<kind>/<day subject>/ (objects stay)."""
    campaign = ctx.campaign
    day = campaign.local_day(message.received_at)
    for item in message.items:
        if only is not None and item is not only:
            continue
        if item.role != "material" or item.blob_path is None or item.duplicate_of_id:
            continue
        folder = layout.message_folder(
            campaign.name, unit_name, campaign.label(item.kind), day, message.subject
        )
        target = layout.item_view_path(folder, item.name)
        if item.path == target:
            continue
        item.path = (
            ctx.archive.move_view(item.path, item.blob_path, target)
            if item.path
            else ctx.archive.link(item.blob_path, target)
        )
        message.folder = folder.rsplit("/", 2)[0]


def _learn_sender(session: Session, address: str, unit_code: str, actor: str) -> None:
    address = (address or "").lower()
    if not address:
        return
    known = session.scalar(select(SenderAddress).where(SenderAddress.address == address))
    if known is None:
        session.add(
            SenderAddress(address=address, unit_code=unit_code, source="learned", learned_by=actor)
        )
    elif known.source == "learned":
        known.unit_code, known.learned_by = unit_code, actor
