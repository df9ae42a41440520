"""Staff decisions on triaged mail: assign a unit or a kind, learn the sender, undo.

Every change is one AuditEntry whose `data` holds what is needed to reverse it
(the message's previous state, the files moved, the address learned), so
`undo` can put everything back. The web UI and the CLI call these functions with
their application context (a `Desk`); decisions stay in `pipeline/` (the desk's
`decide_unit`), paths come from `storage.filing` exactly as ingestion places them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pipeline.campaign import Campaign
from pipeline.errors import MailroomError
from pipeline.identify import Sender, UnitMatch
from pipeline.units import Unit as UnitConfig
from pipeline.units import UnitDirectory
from storage import filing
from storage.archive import Archive
from storage.db import Database
from storage.filing import Place
from storage.models import AuditEntry, DecisionRecord, Item, Message, SenderAddress
from storage.replan import apply_campaign, settled_status

log = logging.getLogger(__name__)
ASSIGN, KIND, RELEARN, UNDO = "assign_unit", "set_item_kind", "refile_learned", "undo"
CAMPAIGN = "assign_campaign"  # storage/campaign_triage.py
MATERIAL = "mark_material"  # a not-material message (spam, an auto-reply...) is material after all
DISMISS, BULK = "dismiss", "bulk"  # storage/dismiss.py: 不是材料; several messages at once
MESSAGE_ACTIONS = (ASSIGN, RELEARN, CAMPAIGN, MATERIAL, DISMISS)
UNDOABLE = (*MESSAGE_ACTIONS, KIND, BULK)
OTHER_CHOICE = "_other"  # what the web form and the CLI send for 其他来件
CANDIDATE = "_candidate"  # keep the campaign shown: confirm the proposed one


class Desk(Protocol):
    """What triage works with: the index, the archive, the campaigns, the units, and how a
    message's unit and kinds are decided (workers.app.AppContext is one)."""

    db: Database
    archive: Archive

    @property
    def units(self) -> tuple[UnitConfig, ...]: ...

    def department(self) -> Sender: ...

    def unit_directory(self, session: Session | None = None) -> UnitDirectory: ...

    def decide_unit(self, raw: bytes, directory: UnitDirectory) -> UnitMatch: ...

    def campaign_by_code(
        self, code: str | None, session: Session | None = None
    ) -> Campaign | None: ...

    def place_of(self, message: Message, session: Session | None = None) -> Place: ...

    def plan_kinds(self, raw: bytes, campaign: Campaign | None, received: datetime) -> list: ...


class TriageError(MailroomError):
    """A triage action that cannot be done as asked (unknown unit, message, audit entry)."""


@dataclass
class AssignResult:
    """What assign_unit did: the audit entry to undo it, files moved, address learned."""

    message_pk: int
    unit_code: str
    audit_id: int
    moved: list[tuple[str | None, str]] = field(default_factory=list)  # (old path, new path)
    learned_address: str | None = None
    refiled: list[int] = field(default_factory=list)  # other messages filed thanks to it
    still_triage: list[int] = field(default_factory=list)  # same sender, still unclear


def assign_unit(
    ctx: Desk,
    message_pk: int,
    unit_code: str,
    actor: str,
    kinds: dict[int, str] | None = None,
    campaign: str | None = CANDIDATE,
) -> AssignResult:
    """Returns what happened when `actor` assigned message `message_pk` to `unit_code`.

    Signature: assign_unit(ctx, message_pk: int, unit_code: str, actor: str,
    kinds: dict[item_id, kind_code] | None = None, campaign=CANDIDATE) -> AssignResult.
    `campaign`: a campaign code, "_other" (其他来件), or CANDIDATE: the clerk confirms the
    campaign the message shows (its candidate when that was left undecided).
    Records the decision (decided_by=actor), re-files the message's files into
    the unit's folders, learns the sender address for the unit, then re-decides
    the other triaged messages from that address and files those now certain.
    One AuditEntry (AssignResult.audit_id) undoes all of it. Raises TriageError.
    """
    unit = unit_of(ctx, unit_code)
    moved: list[dict] = []
    try:
        with ctx.db.session() as session:
            message = message_for_edit(session, message_pk)
            unknown = set(kinds or {}) - {item.id for item in message.items}
            if unknown:
                raise TriageError(f"message {message_pk} has no item {min(unknown)}")
            before = {**message_state(message), "flags": list(message.flags or [])}
            _confirm_campaign(ctx, session, message, campaign, actor)
            check_kinds(ctx, message, kinds)
            _apply_unit(session, message, unit_code, actor, "assigned by " + actor)
            for item in message.items:
                if kinds and item.id in kinds and kinds[item.id] != item.kind:
                    _record_kind(session, item, kinds[item.id], actor)
            moved = filing.refile(session, ctx.archive, ctx.place_of(message), message, unit.name)
            learned = _learn(ctx, session, message, unit_code, actor)
            audit_id = record_change(
                session, actor, ASSIGN, message, before, moved, learned=learned, children=[]
            )
    except BaseException:
        filing.move_back(ctx.archive, moved)
        raise
    result = AssignResult(
        message_pk,
        unit_code,
        audit_id,
        [(m["from"], m["to"]) for m in moved],
        learned["address"] if learned else None,
    )
    if learned:
        _refile_same_sender(ctx, result, learned["address"], actor)
    log.info("%s assigned message %s to %s (audit %s)", actor, message_pk, unit_code, audit_id)
    return result


def resolve_campaign(ctx: Desk, code: str | None) -> Campaign | None:
    """Returns the campaign a clerk chose (None: 其他来件); TriageError for a bad code."""
    if code in (None, "", OTHER_CHOICE):
        return None
    campaign = ctx.campaign_by_code(code)
    if campaign is None:
        raise TriageError(f"no campaign {code!r}; see `mailroom campaign list`")
    if campaign.state == "draft":
        raise TriageError(f"campaign {code} is a draft: open it first (mailroom campaign edit)")
    return campaign


def _confirm_campaign(
    ctx: Desk, session: Session, message: Message, choice: str | None, actor: str
) -> None:
    """Settles the message's campaign as the clerk chose it (see assign_unit)."""
    if choice == CANDIDATE:
        if message.campaign_status != "triage":
            return  # decided already: the clerk only names the unit
        choice = message.campaign_code or OTHER_CHOICE
    campaign = resolve_campaign(ctx, choice)
    code = campaign.code if campaign else None
    status = "assigned" if campaign else "other"
    if (message.campaign_code, message.campaign_status) == (code, status):
        return
    plans = None  # the same campaign's kinds: as they are
    if code != message.campaign_code:  # other kinds: plan them again from the raw message
        with ctx.archive.open(message.raw_path) as handle:
            plans = ctx.plan_kinds(handle.read(), campaign, message.received_at)
    apply_campaign(session, message, campaign, plans, actor)


def set_item_kind(ctx: Desk, item_id: int, kind: str, actor: str) -> int:
    """Returns the audit id after `actor` set item `item_id` to `kind`, moving its file.

    Signature: set_item_kind(ctx, item_id: int, kind: str, actor: str) -> int.
    """
    moved: list[dict] = []
    try:
        with ctx.db.session() as session:
            message_pk = session.scalar(select(Item.message_pk).where(Item.id == item_id))
            if message_pk is not None:
                locked_message(session, message_pk)
            item = session.get(Item, item_id)
            if item is None:
                raise TriageError(f"no item {item_id}: see the item ids in `mailroom triage list`")
            check_kinds(ctx, item.message, {item_id: kind})
            before = {
                "kind": item.kind,
                "kind_confidence": item.kind_confidence,
                "folder": item.message.folder,
            }
            _record_kind(session, item, kind, actor)
            unit = next((u for u in ctx.units if u.code == item.message.unit_code), None)
            moved = filing.refile(
                session,
                ctx.archive,
                ctx.place_of(item.message),
                item.message,
                unit.name if unit else None,
                only=item,
            )
            entry = AuditEntry(
                actor=actor,
                action=KIND,
                target=f"item:{item.id}",
                data={"before": before, "kind": kind, "moves": moved},
            )
            session.add(entry)
            session.flush()
            return entry.id
    except BaseException:
        filing.move_back(ctx.archive, moved)
        raise


def undo(ctx: Desk, audit_id: int, actor: str) -> list[int]:
    """Returns the audit ids reversed when `actor` undid audit entry `audit_id`.

    Signature: undo(ctx, audit_id: int, actor: str) -> list[int]. Undoing an
    assignment also undoes the re-filing of other messages it caused, moves
    the files back and forgets the sender address if that assignment learned it.
    Undoing a bulk action undoes each of its changes that was not changed since
    (those are skipped and logged, so one later edit does not block the rest).
    """
    with ctx.db.session() as session:
        entry = session.get(AuditEntry, audit_id)
        if entry is None:
            raise TriageError(f"no audit entry {audit_id}")
        if entry.undone:
            raise TriageError(f"audit entry {audit_id} is already undone")
        if entry.action not in UNDOABLE:
            raise TriageError(f"audit entry {audit_id} ({entry.action}) cannot be undone")
        children, bulk = list(entry.data.get("children", [])), entry.action == BULK
    undone = []
    for child in reversed(children):
        if bulk:
            try:
                undone += undo(ctx, child, actor)
            except TriageError as exc:
                log.warning("undo of bulk audit %s skips %s: %s", audit_id, child, exc)
            continue
        with ctx.db.session() as session:
            child_entry = session.get(AuditEntry, child)
            if child_entry is not None and not child_entry.undone:
                _undo_one(ctx, session, child_entry, actor)
                undone.append(child)
    with ctx.db.session() as session:
        _undo_one(ctx, session, session.get(AuditEntry, audit_id), actor)
    undone.append(audit_id)
    log.info("%s undid audit %s (%d entries)", actor, audit_id, len(undone))
    return undone


# -- the steps ---------------------------------------------------------------------


def unit_of(ctx: Desk, code: str):
    unit = next((u for u in ctx.units if u.code == code), None)
    if unit is None:
        codes = ", ".join(u.code for u in ctx.units)
        raise TriageError(f"unknown unit {code!r}; known codes: {codes}")
    return unit


def check_kinds(ctx: Desk, message: Message, kinds: dict[int, str] | None) -> None:
    """Raises TriageError unless every kind is one of the message's campaign's kinds."""
    if not kinds:
        return
    campaign = ctx.campaign_by_code(message.campaign_code)
    if campaign is None or message.campaign_status == "other":
        raise TriageError(
            f"message {message.id} belongs to no campaign (其他来件): it has no kinds"
        )
    codes = campaign.kind_codes()
    for kind in kinds.values():
        if kind not in codes:
            raise TriageError(f"unknown kind {kind!r}; kinds are {', '.join(codes)}")


def message_for_edit(session: Session, pk: int) -> Message:
    message = locked_message(session, pk)
    if message is None:
        raise TriageError(f"no message {pk}: see `mailroom triage list`")
    if message.status == "error":
        raise TriageError(f"message {pk} could not be read ({message.error}); re-ingest it first")
    return message


def locked_message(session: Session, pk: int) -> Message | None:
    """Returns message pk, it and its items locked until this transaction ends.

    Two clerks filing one message at once would each move its files from where they
    were before the other committed, leaving a copy in the first one's folders: so the
    rows are locked before they are read. The items first, then the message, as a media
    job does (it locks its item, then the message to re-index it); the other order
    deadlocks with it on PostgreSQL. FOR NO KEY UPDATE, like the job, so rows that only
    refer to these (decisions, search rows) are not held up. SQLite has no row locks:
    a first (no-op) write takes the database's write lock instead.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Message).where(Message.id == pk).values(id=Message.id))
    else:
        session.execute(
            select(Item.id)
            .where(Item.message_pk == pk)
            .order_by(Item.id)
            .with_for_update(key_share=True)
        )
    return session.get(Message, pk, with_for_update={"key_share": True}, populate_existing=True)


def message_state(message: Message) -> dict:
    return {
        "unit": message.unit_code,
        "status": message.status,
        "confidence": message.confidence,
        "is_material": message.is_material,
        "folder": message.folder,
        "kinds": {str(i.id): i.kind for i in message.items},
        "campaign": message.campaign_code,
        "campaign_status": message.campaign_status,
        "campaign_confidence": message.campaign_confidence,
    }


def record_change(
    session: Session,
    actor: str,
    action: str,
    message: Message,
    before: dict,
    moves: list[dict],
    **extra,
) -> int:
    """Adds the audit entry of a change to a message (its state before and after, the files
    moved, and what else undo needs); returns its id."""
    data = {"before": before, "after": message_state(message), "moves": moves, **extra}
    entry = AuditEntry(actor=actor, action=action, target=f"message:{message.id}", data=data)
    session.add(entry)
    session.flush()
    return entry.id


def _apply_unit(
    session: Session,
    message: Message,
    unit_code: str,
    decided_by: str,
    reason: str,
    evidence: dict | None = None,
) -> None:
    previous = message.unit_code
    message.unit_code, message.is_material = unit_code, True
    message.status = settled_status(message)  # an undecided campaign keeps it in triage
    message.confidence = 1.0 if decided_by != "auto" else message.confidence
    session.add(
        DecisionRecord(
            message_pk=message.id,
            subject="unit",
            value=unit_code,
            confidence=message.confidence,
            level="strong",
            decided_by=decided_by,
            evidence={"reason": reason, "previous": previous, **(evidence or {})},
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
            evidence={"reason": "set by " + actor, "previous": item.kind},
        )
    )
    item.kind, item.kind_confidence = kind, 1.0


def _learn(
    ctx: Desk, session: Session, message: Message, unit_code: str, actor: str
) -> dict | None:
    """Records the sender address as the unit's; returns what changed, for undo."""
    address = (message.from_addr or "").lower()
    if message.forwarded_by:  # the forwarder is not the unit; the original sender is
        address = (message.forwarded_from or "").lower()
    if "@" not in address or ctx.department().owns(address):
        return None
    if any(address in unit.addresses for unit in ctx.units):
        return None  # configured for a unit: config, not triage, changes it
    row = session.get(SenderAddress, address)
    if row is None:
        session.add(
            SenderAddress(address=address, unit_code=unit_code, source="learned", learned_by=actor)
        )
        return {"address": address, "added": True, "previous_unit": None}
    if row.source != "learned" or row.unit_code == unit_code:
        return None  # configured in the index, or already known for this unit
    previous = row.unit_code
    row.unit_code, row.learned_by = unit_code, actor
    return {"address": address, "added": False, "previous_unit": previous}


def _refile_same_sender(ctx: Desk, result: AssignResult, address: str, actor: str) -> None:
    """Re-decides the other triaged messages from address now that it is known; logs each."""
    with ctx.db.session() as session:
        others = session.scalars(
            select(Message.id).where(
                Message.status == "triage",
                Message.id != result.message_pk,
                Message.from_addr == address,
            )
        ).all()
    units = ctx.unit_directory()
    children = []
    for pk in others:
        try:
            audit_id = _refile_learned(ctx, pk, units, actor, result.audit_id)
        except Exception:  # one unreadable message must not undo the assignment
            log.exception("cannot re-decide message %s after learning %s", pk, address)
            audit_id = None
        if audit_id is False:  # another clerk filed it meanwhile: their decision stands
            continue
        if audit_id is None:
            result.still_triage.append(pk)
        else:
            result.refiled.append(pk)
            children.append(audit_id)
    if children:
        with ctx.db.session() as session:
            entry = session.get(AuditEntry, result.audit_id)
            entry.data = {**entry.data, "children": children}


def _refile_learned(ctx: Desk, pk: int, units, actor: str, parent: int) -> int | bool | None:
    """Files message pk if the learned address now decides it; returns its audit id.

    None: still unclear. False: no longer in triage (a clerk filed it since the
    assignment looked), so it is left as that clerk decided. The message is locked as
    a triage edit locks it (items, then the message), or it deadlocks with a media job
    saving a result for one of its items on PostgreSQL.
    """
    with ctx.db.session() as session:
        message = locked_message(session, pk)
        if message is None or message.status != "triage":
            return False
        match = redecide_unit(ctx, message, units)
        if match.value is None:
            return None
        unit = unit_of(ctx, match.value)
        before = message_state(message)
        _apply_unit(
            session,
            message,
            match.value,
            "auto",
            f"re-decided after {actor} assigned a message from the same sender",
            {**match.evidence(), "audit_parent": parent},
        )
        message.confidence = match.confidence
        moved: list[dict] = []
        try:
            moved = filing.refile(session, ctx.archive, ctx.place_of(message), message, unit.name)
            return record_change(session, actor, RELEARN, message, before, moved, parent=parent)
        except BaseException:
            filing.move_back(ctx.archive, moved)
            raise


def redecide_unit(ctx: Desk, message: Message, units: UnitDirectory) -> UnitMatch:
    with ctx.archive.open(message.raw_path) as handle:
        return ctx.decide_unit(handle.read(), units)


def _undo_one(ctx: Desk, session: Session, entry: AuditEntry, actor: str) -> None:
    # Lock as a triage edit does (items, then the message) before reading what to check:
    # the other order deadlocks with a media job on PostgreSQL, and a clerk's edit made
    # between the check and the write would be overwritten.
    data = entry.data
    if entry.action == BULK:
        pass  # its changes are entries of their own, undone before it
    elif entry.action == KIND:
        item_id = int(entry.target.split(":")[1])
        message_pk = session.scalar(select(Item.message_pk).where(Item.id == item_id))
        if message_pk is not None:
            locked_message(session, message_pk)
        item = session.get(Item, item_id, populate_existing=True)
        if item is None:
            raise TriageError(f"item {item_id} no longer exists; audit {entry.id} cannot be undone")
        if item.kind != data["kind"]:
            raise TriageError(f"item {item.id} was changed after audit {entry.id}; undo that first")
        item.kind, item.kind_confidence = data["before"]["kind"], data["before"]["kind_confidence"]
        item.message.folder = data["before"]["folder"]
    else:
        message = locked_message(session, int(entry.target.split(":")[1]))
        if message is None:
            raise TriageError(f"message {entry.target} no longer exists; cannot undo {entry.id}")
        if _changed_since(message, data["after"]):
            raise TriageError(
                f"message {message.id} was changed after audit {entry.id}; undo that first"
            )
        _restore_message(session, message, data["before"], entry.id, actor)
        if data.get("learned"):
            _forget(session, data["learned"])
    for move in reversed(data.get("moves", [])):
        _move_view_back(ctx, session, move)
    entry.undone = True
    session.add(
        AuditEntry(
            actor=actor,
            action=UNDO,
            target=f"audit:{entry.id}",
            data={"undid": entry.action, "target": entry.target},
        )
    )


def _changed_since(message: Message, after: dict) -> bool:
    if message.unit_code != after["unit"] or message.status != after["status"]:
        return True
    return "campaign" in after and (message.campaign_code, message.campaign_status) != (
        after["campaign"],
        after["campaign_status"],
    )


def _restore_message(
    session: Session, message: Message, before: dict, audit_id: int, actor: str
) -> None:
    if "flags" in before:
        message.flags = before["flags"]
    message.unit_code, message.status = before["unit"], before["status"]
    message.confidence, message.is_material = before["confidence"], before["is_material"]
    message.folder = before["folder"]
    if "not_material_reason" in before:  # 不是材料 set it (storage/dismiss.py)
        message.not_material_reason = before["not_material_reason"]
    if "campaign" in before:  # entries from before campaigns were data have none
        message.campaign_code = before["campaign"]
        message.campaign_status = before["campaign_status"]
        message.campaign_confidence = before["campaign_confidence"]
    for item in message.items:
        item.kind = before["kinds"].get(str(item.id), item.kind)
    session.add(
        DecisionRecord(
            message_pk=message.id,
            subject="unit",
            value=before["unit"],
            confidence=before["confidence"],
            level="none" if before["unit"] is None else "strong",
            decided_by=actor,
            evidence={"reason": f"undo of audit {audit_id}"},
        )
    )


def _forget(session: Session, learned: dict) -> None:
    row = session.get(SenderAddress, learned["address"])
    if row is None or row.source != "learned":
        return
    if learned["added"]:
        session.delete(row)
    else:
        row.unit_code = learned["previous_unit"]


def _move_view_back(ctx: Desk, session: Session, move: dict) -> None:
    item = session.get(Item, move["item"])
    if item is None or item.path != move["to"]:
        return
    if move["to"] is None:  # the view was removed (不是材料): link it again
        item.path = ctx.archive.link(move["blob"], move["from"])
    elif move["from"]:
        item.path = ctx.archive.move_view(move["to"], item.blob_path, move["from"])
    else:
        ctx.archive.unlink_view(move["to"])
        item.path = None
    filing.follow_duplicates(session, item)
