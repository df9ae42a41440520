"""非材料: the messages judged not material (spam, auto-replies, bounces, our own mail), each
with its reason in Chinese, and the one-step editor action that says one is material after all.

Small on purpose: the list reads the reason from the unit decision's evidence (codes of
pipeline/reasons.py), and the action is storage.material.mark_material, undone like any
triage step.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storage import material
from storage.models import DecisionRecord, Message
from web import queries
from web.auth import require_editor
from web.common import arg_page, db, get_or_404, path_id, render
from web.history import flash
from web.pages import page_links
from web.security import checked_form


def listing(request: Request) -> Response:
    """The not-material messages, newest first, with their reason and spam signals."""
    with db(request) as session:
        stmt = (
            select(Message)
            .where(Message.status == "not_material")
            .order_by(Message.received_at.desc(), Message.id.desc())
        )
        page = queries.paged(session, stmt, arg_page(request))
        messages = [m for (m,) in page.rows]
        return render(
            request,
            "not_material.html",
            nav="triage",
            page=page,
            messages=messages,
            reasons=unit_evidence(session, [m.id for m in messages]),
            links=page_links(request, page),
        )


def unit_evidence(session, message_pks: list[int]) -> dict[int, dict]:
    """Returns {message pk: evidence of its latest unit decision} (holds not_material, signals)."""
    latest: dict[int, dict] = {}
    if not message_pks:
        return latest
    for decision in session.scalars(
        select(DecisionRecord)
        .where(DecisionRecord.message_pk.in_(message_pks), DecisionRecord.subject == "unit")
        .order_by(DecisionRecord.id)
    ):
        latest[decision.message_pk] = decision.evidence or {}
    return latest


async def mark_material(request: Request) -> Response:
    """Says a not-material message is material: it is filed, or waits in triage (undoable)."""
    user = require_editor(request)
    await checked_form(request)
    pk = path_id(request, "message_id")
    with db(request) as session:
        already = get_or_404(session, Message, pk).is_material
    if not already:  # a second click on the same button changes nothing
        result = await run_in_threadpool(
            material.mark_material, request.app.state.ctx, pk, user.name
        )
        names = request.app.state.templates.env.filters["unit_name"]
        where = f"已归入{names(result.unit_code)}" if result.unit_code else "已放入待分拣"
        flash(request, f"已改为材料，{where}。", result.audit_id)
    return RedirectResponse(f"/messages/{pk}", status_code=303)
