"""Triage (editors and admins change things here): the queue, assign, 不是材料, bulk, undo.

The queue is paged and filtered (storage/triage_queue.py). A bulk action applies to
the messages ticked, or to every message matching the filter ("all N matching"):
the form carries the filter, and the server finds the matches again when it acts.
Each change ends on a page with a Chinese success message and its 撤销 button.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipeline.reasons import DISMISS_REASONS, reason_label
from storage import dismiss as dismissal
from storage import triage
from storage import triage_queue as tq
from storage.models import DecisionRecord, Item, Message
from web import queries
from web.auth import require_editor, safe_next
from web.common import MAX_ID, db, form_ids, get_or_404, parse_day, parse_int, path_id, render
from web.history import flash
from web.security import checked_form

PER_PAGE = 50
FILTER_KEYS = ("in", "candidate", "from", "to", "sender", "files", "why", "order")


def queue_filter(request: Request, params: Mapping) -> tq.QueueFilter:
    """Returns the queue filter named by query or form parameters (unknown values ignored)."""
    campaign = request.app.state.ctx.campaign
    since, until = parse_day(params.get("from")), parse_day(params.get("to"))
    candidate = str(params.get("candidate", ""))
    files = str(params.get("files", ""))
    return tq.QueueFilter(
        candidate=candidate
        if candidate in request.app.state.templates.env.globals["unit_names"]
        else None,
        since=queries.day_bounds(campaign, since)[0] if since else None,
        until=queries.day_bounds(campaign, until)[1] if until else None,
        sender=str(params.get("sender", "")).strip()[:100] or None,
        has_files={"yes": True, "no": False}.get(files),
        reason=str(params["why"]) if params.get("why") in tq.REASONS else None,
        oldest_first=params.get("order") == "old",
        campaign=_campaign_filter(request, params.get("in")),
    )


def _campaign_filter(request: Request, code) -> str | None:
    """Returns a known campaign's code named by the filter ("in"), else None (every one)."""
    known = {c.code for c in request.app.state.ctx.campaigns()}
    return str(code) if code in known else None


def _kept(params: Mapping) -> dict[str, str]:
    """Returns the filter parameters that are set, to carry them to the next page."""
    return {k: str(params[k]) for k in FILTER_KEYS if params.get(k)}


def queue(request: Request) -> Response:
    """The triage queue: newest first, filtered, paged, with the total and the matches."""
    params = request.query_params
    flt = queue_filter(request, params)
    number = _page_number(params.get("page"))
    with db(request) as session:
        matching = tq.count(session, flt)
        messages = tq.page(session, flt, number, PER_PAGE)
        paging = queries.Page([], matching, number, PER_PAGE)
        kept = _kept(params)

        def url(n: int) -> str:
            return "/triage?" + urlencode({**kept, "page": n})

        return render(
            request,
            "triage.html",
            nav="triage",
            messages=messages,
            decisions={m.id: tq.machine_decision(m) for m in messages},
            campaign_decisions={m.id: _campaign_decision(m) for m in messages},
            total=tq.count(session),
            matching=matching,
            paging=paging,
            links={
                "prev": url(number - 1) if number > 1 else None,
                "next": url(number + 1) if number < paging.pages else None,
                "last": url(paging.pages) if number < paging.pages else None,
                "first": url(1) if number > 1 else None,
            },
            params=params,
            kept=kept,
            back="/triage?" + urlencode({**kept, "page": number}),
        )


def _campaign_decision(message: Message) -> DecisionRecord | None:
    """Returns the latest decision of the message's campaign (its candidates), if any."""
    found = [d for d in message.decisions if d.subject == "campaign"]
    return max(found, key=lambda d: d.id) if found else None


def _page_number(value: str | None) -> int:
    return parse_int(value, 1, 100_000) or 1


async def _targets(request: Request, form) -> list[int]:
    """Returns the messages a bulk form acts on: those ticked, or all matching its filter."""
    if form.get("scope") == "all":
        flt = queue_filter(request, form)

        def find() -> list[int]:
            with db(request) as session:
                return tq.matching_ids(session, flt)

        pks = await run_in_threadpool(find)
        if len(pks) > tq.MAX_BULK:
            raise HTTPException(400, f"符合条件的邮件超过 {tq.MAX_BULK} 封，请先缩小筛选范围。")
        return pks
    return form_ids(form.getlist("message"))


def _back(form, default: str = "/triage") -> str:
    return safe_next(str(form.get("back", ""))) if form.get("back") else default


async def assign(request: Request) -> Response:
    """Assigns one or several messages to a unit; per-item kinds come as kind_<item id>."""
    user = require_editor(request)
    form = await checked_form(request)
    unit = str(form.get("unit", ""))
    pks = await _targets(request, form)
    if not pks or not unit:
        raise HTTPException(400, "请选择邮件和单位。")
    names = request.app.state.templates.env.globals["unit_names"]
    if unit not in names:
        raise HTTPException(400, f"没有代码为“{unit[:64]}”的单位，请从列表中选择。")
    kinds = {}
    for key, value in form.multi_items():
        if key.startswith("kind_") and value:
            item_id = parse_int(key[5:], 1, MAX_ID)
            if item_id is None:
                raise HTTPException(400, "提交的编号无效，请刷新页面后重试。")
            kinds[item_id] = str(value)
    campaign = str(form.get("campaign", "")) or triage.CANDIDATE
    ctx = request.app.state.ctx
    if len(pks) == 1:

        def _one() -> triage.AssignResult:
            # the kinds were shown for the campaign the message had: another re-plans them
            keep = campaign in (triage.CANDIDATE, _campaign_of(ctx, pks[0]))
            chosen = kinds if kinds and keep else None
            return triage.assign_unit(ctx, pks[0], unit, user.name, chosen, campaign)

        result = await run_in_threadpool(_one)
        extra = f"；同一发件人的另外 {len(result.refiled)} 封也已归档" if result.refiled else ""
        flash(request, f"已把邮件归入{names[unit]}{extra}。", result.audit_id)
    else:
        bulk = await run_in_threadpool(dismissal.assign_many, ctx, pks, unit, user.name, campaign)
        flash(request, _bulk_text(f"归入{names[unit]}", bulk), bulk.audit_id)
    back = f"/messages/{pks[0]}" if form.get("back") == "message" else _back(form)
    return RedirectResponse(back, status_code=303)


def _campaign_of(ctx, pk: int) -> str | None:
    """Returns the message's campaign code as the form names it (_other for 其他来件)."""
    with ctx.db.session() as session:
        message = session.get(Message, pk)
        if message is None or message.campaign_status == "other":
            return triage.OTHER_CHOICE
        return message.campaign_code


async def set_kind(request: Request) -> Response:
    user = require_editor(request)
    form = await checked_form(request)
    item_id = path_id(request, "item_id")
    kind = str(form.get("kind", ""))
    with db(request) as session:
        get_or_404(session, Item, item_id)
    audit_id = await run_in_threadpool(
        triage.set_item_kind, request.app.state.ctx, item_id, kind, user.name
    )
    flash(request, f"已把类别改为{request.app.state.ctx.campaign.label(kind)}。", audit_id)
    return RedirectResponse(f"/items/{item_id}", status_code=303)


async def dismiss(request: Request) -> Response:
    """Marks one or several messages not material (不是材料) with a reason."""
    user = require_editor(request)
    form = await checked_form(request)
    reason = str(form.get("reason", ""))
    if reason not in DISMISS_REASONS:
        raise HTTPException(400, "请选择不是材料的原因。")
    pks = await _targets(request, form)
    if not pks:
        raise HTTPException(400, "请先勾选邮件。")
    ctx = request.app.state.ctx
    label = reason_label(reason)
    if len(pks) == 1:
        audit_id = await run_in_threadpool(dismissal.dismiss, ctx, pks[0], reason, user.name)
        flash(request, f"已标为不是材料（{label}），邮件仍可在搜索中找到。", audit_id)
    else:
        bulk = await run_in_threadpool(dismissal.dismiss_many, ctx, pks, reason, user.name)
        flash(request, _bulk_text(f"标为不是材料（{label}）", bulk), bulk.audit_id)
    return RedirectResponse(_back(form), status_code=303)


def _bulk_text(what: str, bulk: dismissal.BulkResult) -> str:
    text = f"已把 {len(bulk.done)} 封邮件{what}。"
    if bulk.refused:
        text += f"另有 {len(bulk.refused)} 封已被别人处理，未改动。"
    return text


async def undo(request: Request) -> Response:
    """Undoes one change (and what it caused) from a 撤销 button."""
    user = require_editor(request)
    form = await checked_form(request)
    audit_id = path_id(request, "audit_id")
    try:
        undone = await run_in_threadpool(triage.undo, request.app.state.ctx, audit_id, user.name)
    except triage.TriageError as exc:
        raise HTTPException(409, _undo_refusal(str(exc))) from None
    flash(request, f"已撤销（共恢复 {len(undone)} 项修改）。")
    return RedirectResponse(_back(form), status_code=303)


def _undo_refusal(reason: str) -> str:
    if "already undone" in reason:
        return "这项修改已经撤销过了。"
    if "changed after" in reason:
        return "这封邮件在这项修改之后又被改过：请先撤销后来的修改。"
    if "no audit entry" in reason:
        return "没有这条修改记录。"
    return "这项修改不能撤销。"
