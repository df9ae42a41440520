"""不是材料 and bulk triage: dismiss a message with a reason, act on many at once.

A dismissed message leaves the triage queue and its files leave the readable
tree (as for mail that is not material on arrival), but it stays in the index
and in search, and its audit entry moves it back (`storage.triage.undo`). A bulk
action is one audit entry whose children are the per-message entries, so one
undo reverses all of it and each message's history still shows its own change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from pipeline.reasons import NOT_MATERIAL_REASONS
from storage import filing
from storage.models import AuditEntry, DecisionRecord, Message
from storage.triage import (
    BULK,
    CANDIDATE,
    DISMISS,
    Desk,
    TriageError,
    assign_unit,
    locked_message,
    message_state,
    record_change,
)

log = logging.getLogger(__name__)
BATCH = 100  # messages dismissed per transaction in a bulk action


@dataclass
class BulkResult:
    """What a bulk action did: its audit entry (undoes all), done and refused message ids."""

    audit_id: int | None
    done: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # message id -> why


def dismiss(ctx: Desk, message_pk: int, reason: str, actor: str) -> int:
    """Returns the audit id after `actor` marked message `message_pk` not material.

    Signature: dismiss(ctx, message_pk: int, reason: str, actor: str) -> int;
    reason is a code of pipeline.reasons (spam, other_business, inquiry,
    newsletter, ...). Raises TriageError.
    """
    _check_reason(reason)
    moves: list[dict] = []
    try:
        with ctx.db.session() as session:
            audit_id, moves = _dismiss_one(ctx, session, message_pk, reason, actor)
    except BaseException:
        _relink(ctx, moves)
        raise
    log.info("%s dismissed message %s as %s (audit %s)", actor, message_pk, reason, audit_id)
    return audit_id


def dismiss_many(ctx: Desk, pks: Sequence[int], reason: str, actor: str) -> BulkResult:
    """Returns what happened when `actor` dismissed every message of pks (in batches)."""
    _check_reason(reason)
    result = BulkResult(None)
    children: list[int] = []
    for start in range(0, len(pks), BATCH):
        moves: list[dict] = []
        try:
            with ctx.db.session() as session:
                for pk in pks[start : start + BATCH]:
                    try:  # refused before anything changed: the batch goes on
                        audit_id, made = _dismiss_one(ctx, session, pk, reason, actor)
                    except TriageError as exc:
                        result.refused[pk] = str(exc)
                        continue
                    moves += made
                    children.append(audit_id)
                    result.done.append(pk)
        except BaseException:
            _relink(ctx, moves)
            raise
    result.audit_id = _group(ctx, actor, "dismiss", children, {"reason": reason})
    log.info("%s dismissed %d messages as %s", actor, len(result.done), reason)
    return result


def assign_many(
    ctx: Desk, pks: Sequence[int], unit: str, actor: str, campaign: str | None = CANDIDATE
) -> BulkResult:
    """Returns what happened when `actor` assigned every message of pks to `unit` (and to
    `campaign`: a code, "_other", or CANDIDATE to confirm each one's proposed campaign)."""
    return _each(
        ctx,
        pks,
        actor,
        "assign",
        {"unit": unit},
        lambda pk: assign_unit(ctx, pk, unit, actor, campaign=campaign).audit_id,
    )


def _each(
    ctx: Desk,
    pks: Sequence[int],
    actor: str,
    what: str,
    data: dict,
    act: Callable[[int], int],
) -> BulkResult:
    result = BulkResult(None)
    children = []
    for pk in pks:
        try:
            children.append(act(pk))
            result.done.append(pk)
        except TriageError as exc:
            if "unknown unit" in str(exc):
                raise  # the same for every message: say it once
            result.refused[pk] = str(exc)
    result.audit_id = _group(ctx, actor, what, children, data)
    return result


def _group(ctx: Desk, actor: str, what: str, children: list[int], data: dict) -> int | None:
    """Records the bulk entry that undoes `children` together; None when nothing was done."""
    if not children:
        return None
    with ctx.db.session() as session:
        entry = AuditEntry(
            actor=actor,
            action=BULK,
            target=f"bulk:{what}",
            data={"what": what, "count": len(children), "children": children, **data},
        )
        session.add(entry)
        session.flush()
        return entry.id


def _check_reason(reason: str) -> None:
    if reason not in NOT_MATERIAL_REASONS:
        codes = ", ".join(NOT_MATERIAL_REASONS)
        raise TriageError(f"unknown reason {reason!r}; reasons are {codes}")


def _dismiss_one(
    ctx: Desk, session: Session, pk: int, reason: str, actor: str
) -> tuple[int, list[dict]]:
    message = locked_message(session, pk)
    if message is None:
        raise TriageError(f"no message {pk}: see `mailroom triage list`")
    if message.status not in ("triage", "filed"):
        raise TriageError(f"message {pk} is {message.status}, not in triage or filed")
    before = {**message_state(message), "not_material_reason": message.not_material_reason}
    moves = _unplace(session, ctx, message)
    message.unit_code, message.status, message.is_material = None, "not_material", False
    message.not_material_reason, message.folder = reason, None
    session.add(
        DecisionRecord(
            message_pk=message.id,
            subject="unit",
            value=None,
            confidence=1.0,
            level="strong",
            decided_by=actor,
            evidence={
                "reason": f"dismissed by {actor}",
                "not_material": reason,
                "previous": before["unit"],
            },
        )
    )
    return record_change(session, actor, DISMISS, message, before, moves, reason=reason), moves


def _unplace(session: Session, ctx: Desk, message: Message) -> list[dict]:
    """Removes the message's views from the readable tree; returns the moves (to = None)."""
    moves = []
    for item in message.items:
        if item.path is None or item.duplicate_of_id is not None or item.blob_path is None:
            continue
        ctx.archive.unlink_view(item.path)
        moves.append({"item": item.id, "from": item.path, "to": None, "blob": item.blob_path})
        item.path = None
        filing.follow_duplicates(session, item)
    return moves


def _relink(ctx: Desk, moves: list[dict]) -> None:
    """Puts views back when the index change did not commit (best effort)."""
    for move in moves:
        try:
            ctx.archive.link(move["blob"], move["from"])
        except Exception:
            log.exception("cannot link %s back", move["from"])
