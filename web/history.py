"""A message's change history in Chinese, each change with its 撤销 button; flash messages.

Audit entries keep English codes and the data undo needs (storage/triage.py);
`history` turns them into sentences a clerk reads and says which can be undone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from pipeline.campaign import Campaign
from pipeline.reasons import reason_label
from storage.campaign_triage import ANSWERED
from storage.models import AuditEntry, Message
from storage.triage import ASSIGN, BULK, CAMPAIGN, DISMISS, KIND, MATERIAL, RELEARN, UNDOABLE


@dataclass(frozen=True)
class Change:
    """One line of a message's history."""

    id: int
    at: datetime
    actor: str
    text: str
    undoable: bool  # can still be undone (not undone already, and of a kind undo knows)
    undone_by: str | None  # who undid it, if someone did
    item_id: int | None = None  # the item changed, for a change of one file's kind


def describe(
    entry: AuditEntry,
    unit_name: Callable[[str | None], str],
    campaign: Campaign,
    campaign_name: Callable[[str | None], str] = lambda code: code or "其他来件",
) -> str:
    """Returns what an audit entry did, in Chinese."""
    data = entry.data or {}
    before, after = data.get("before") or {}, data.get("after") or {}
    if entry.action == CAMPAIGN:

        def where(state: dict) -> str:
            if state.get("campaign_status") == "other":
                return "其他来件"
            return campaign_name(state.get("campaign")) if state.get("campaign") else "未定"

        return f"把所属活动从“{where(before)}”改为“{where(after)}”"
    if entry.action == ANSWERED:
        return "标记为已回复" if data.get("answered") else "改回待回复"
    if entry.action == ASSIGN:
        text = f"把单位从“{unit_name(before.get('unit'))}”改为“{unit_name(after.get('unit'))}”"
        if data.get("learned"):
            text += f"，并记住发件地址 {data['learned']['address']}"
        if data.get("children"):
            text += f"；同一发件人的 {len(data['children'])} 封邮件也随之归档"
        return text
    if entry.action == RELEARN:
        return f"记住发件地址后自动归入“{unit_name(after.get('unit'))}”"
    if entry.action == KIND:
        old, new = campaign.label(before.get("kind")) or "未定", campaign.label(data.get("kind"))
        return f"把一个文件的类别从“{old}”改为“{new}”"
    if entry.action == DISMISS:
        return f"标为不是材料（{reason_label(data.get('reason'))}）"
    if entry.action == MATERIAL:
        where = unit_name(after.get("unit")) if after.get("unit") else "待分拣"
        return f"改为材料（原判为非材料），放入“{where}”"
    if entry.action == BULK:
        what = "归档" if data.get("what") == "assign" else "标为不是材料"
        return f"批量{what} {data.get('count', 0)} 封邮件"
    return "其他修改"


def history(
    session: Session, message: Message, unit_name, campaign: Campaign, campaign_name=None
) -> list[Change]:
    """Returns the changes made to a message and its items, oldest first.

    `campaign` gives the kinds' labels (the message's campaign); `campaign_name` names a
    campaign by its code."""
    campaign_name = campaign_name or (lambda code: code or "其他来件")
    targets = [f"message:{message.id}", *(f"item:{i.id}" for i in message.items)]
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.target.in_(targets)).order_by(AuditEntry.id)
    ).all()
    undos = {
        u.target: u.actor
        for u in session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "undo",
                AuditEntry.target.in_([f"audit:{e.id}" for e in entries]),
            )
        )
    }
    return [
        Change(
            e.id,
            e.created_at,
            e.actor,
            describe(e, unit_name, campaign, campaign_name),
            e.action in UNDOABLE and not e.undone,
            undos.get(f"audit:{e.id}") or ("（未记录）" if e.undone else None),
            int(e.target[5:]) if e.target.startswith("item:") else None,
        )
        for e in entries
    ]


# -- flash: one message shown on the next page after a change ------------------------


def flash(request: Request, text: str, undo: int | None = None) -> None:
    """Keeps a success message (and the audit id its 撤销 button undoes) for the next page."""
    request.session["flash"] = {"text": text, "undo": undo}


def take_flash(request: Request) -> dict | None:
    """Returns the pending flash message once, then forgets it."""
    return request.session.pop("flash", None) if "session" in request.scope else None
