"""One step back from 非材料: a person says a message is material after all.

Spam, an auto-reply, the department's own mail or an inquiry may be material: the unit
is decided again as on arrival (a clear unit files it, else it waits in triage), its
files are linked into its campaign's folders (or 其他来件), the campaign flags are worked
out and the not-material ones dropped. Undone through storage.triage.undo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pipeline.classify import campaign_flags
from storage import filing
from storage.models import DecisionRecord, Message
from storage.replan import settled_status
from storage.triage import (
    MATERIAL,
    Desk,
    TriageError,
    message_for_edit,
    message_state,
    record_change,
    redecide_unit,
    unit_of,
)

log = logging.getLogger(__name__)
# Flags that only say why a message is not material; they go when a person says it is.
NOT_MATERIAL_FLAGS = ("spam", "auto_reply", "bounce", "inquiry")


@dataclass
class MaterialResult:
    """What mark_material did: where the message is now and the audit entry to undo it."""

    message_pk: int
    unit_code: str | None  # None: it waits in triage for a person to choose the unit
    status: str
    audit_id: int
    moved: list[tuple[str | None, str]] = field(default_factory=list)


def mark_material(ctx: Desk, message_pk: int, actor: str) -> MaterialResult:
    """Returns where message `message_pk` went when `actor` said it is material after all.

    Signature: mark_material(ctx, message_pk: int, actor: str) -> MaterialResult.
    One step back from 非材料 (spam, an auto-reply, our own mail, an inquiry): the unit is
    decided again as on arrival (a clear unit files it there, else it waits in triage),
    its files are linked into its campaign's folders (or 其他来件), the campaign flags are
    worked out and the not-material flags dropped. One AuditEntry undoes it.
    """
    moved: list[dict] = []
    try:
        with ctx.db.session() as session:
            message = message_for_edit(session, message_pk)
            if message.is_material:
                raise TriageError(f"message {message_pk} is already material")
            match = redecide_unit(ctx, message, ctx.unit_directory(session))
            unit_code = None if match.from_department else match.value
            unit = unit_of(ctx, unit_code) if unit_code else None
            before = {
                **message_state(message),
                "flags": list(message.flags or []),
                "not_material_reason": message.not_material_reason,  # undo puts it back
            }
            previous = _not_material_reason(message)
            message.is_material, message.unit_code = True, unit_code
            message.not_material_reason = None
            message.status, message.confidence = settled_status(message), match.confidence
            session.add(
                DecisionRecord(
                    message_pk=message.id,
                    subject="unit",
                    value=unit_code,
                    confidence=match.confidence,
                    level=match.level,
                    decided_by=actor,
                    evidence={**match.evidence(), "material_after": previous},
                )
            )
            moved = filing.refile(
                session, ctx.archive, ctx.place_of(message), message, unit.name if unit else None
            )
            message.flags = _material_flags(ctx, message)
            audit_id = record_change(session, actor, MATERIAL, message, before, moved)
            result = MaterialResult(
                message.id,
                unit_code,
                message.status,
                audit_id,
                [(m["from"], m["to"]) for m in moved],
            )
    except BaseException:
        filing.move_back(ctx.archive, moved)
        raise
    log.info("%s marked message %s material (%s, audit %s)", actor, message_pk, result.status,
             result.audit_id)  # fmt: skip
    return result


def _not_material_reason(message: Message) -> str | None:
    auto = [d for d in message.decisions if d.subject == "unit"]
    return (auto[-1].evidence or {}).get("not_material") if auto else None


def _material_flags(ctx: Desk, message: Message) -> list[str]:
    """Returns the message's flags once it is material: its campaign flags, kept flags."""
    kept = [f for f in message.flags or [] if f not in NOT_MATERIAL_FLAGS]
    campaign = ctx.campaign_by_code(message.campaign_code)
    if campaign is None or message.campaign_status != "assigned":
        return kept  # late and early are a decided campaign's
    items = [(i.kind, i.status) for i in message.items
             if i.role == "material" and i.container_id is None]  # fmt: skip
    return kept + [f for f in campaign_flags(items, campaign, message.received_at)
                   if f not in kept]  # fmt: skip
