"""Campaigns in the web UI: the list, a notice turned into a proposal a person checks and
corrects before it opens, editing, opening and closing; a message's campaign; inquiries
marked answered. Everyone may look; only editors and admins change anything.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipeline.campaign import Campaign, Kind
from pipeline.campaign_edit import CODE, CampaignEditError, edit
from pipeline.errors import MailroomError
from storage import campaigns as store
from storage.campaign_triage import assign_campaign, mark_answered, refile_campaign
from web import queries
from web.auth import audit, require_editor
from web.common import db, parse_day, path_id, render
from web.history import flash
from web.security import checked_form

NOTICE_MAX_BYTES = 20 * 1024 * 1024
NOTICE_TYPES = (".txt", ".md", ".docx", ".pdf")
MAX_KINDS = 20
FIELD_LABELS = {
    "name": "活动名称",
    "doc_number": "文号",
    "title": "通知标题",
    "dates": "活动时间",
    "issued": "印发日期",
    "theme": "活动主题",
    "addressees": "主送单位",
    "mailbox": "报送邮箱",
    "kinds": "报送材料",
}


def campaigns_page(request: Request) -> Response:
    with db(request) as session:
        counts = queries.campaign_counts(session)
    return render(request, "campaigns.html", nav="campaigns", counts=counts)


def new_campaign(request: Request) -> Response:
    require_editor(request)
    return render(request, "campaign_new.html", nav="campaigns", error=None)


async def read_notice_upload(request: Request) -> Response:
    """Reads an uploaded notice and shows its proposal in the form; nothing is saved yet."""
    require_editor(request)
    form = await checked_form(request)
    upload = form.get("notice")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _new_with_error(request, "请选择通知文件（.docx、.pdf、.txt 或 .md）。")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in NOTICE_TYPES:
        return _new_with_error(request, "只能读取 .docx、.pdf、.txt 或 .md 格式的通知。")
    data = await upload.read(NOTICE_MAX_BYTES + 1)
    if len(data) > NOTICE_MAX_BYTES:
        return _new_with_error(request, "文件太大（超过 20 MB），不像是一份通知。")
    try:
        proposal = await run_in_threadpool(_propose, data, suffix)
    except MailroomError:
        return _new_with_error(
            request, "读不出这份通知的文字（可能是扫描件）。请上传 Word 或文字版 PDF。"
        )
    return render(
        request,
        "campaign_form.html",
        nav="campaigns",
        c=proposal.campaign,
        sources=proposal.sources,
        problems=[FIELD_LABELS.get(p, p) for p in proposal.problems],
        is_new=True,
        error=None,
        labels=FIELD_LABELS,
    )


def _propose(data: bytes, suffix: str):
    from pipeline.notice import propose, read_notice

    with tempfile.TemporaryDirectory(prefix="mailroom-notice-") as folder:
        path = Path(folder, "notice" + suffix)
        path.write_bytes(data)
        return propose(read_notice(path))


def _new_with_error(request: Request, message: str) -> Response:
    return render(request, "campaign_new.html", nav="campaigns", error=message, status_code=400)


def campaign_page(request: Request) -> Response:
    code = request.path_params["code"]
    with db(request) as session:
        row = session.get(store.CampaignRecord, code) if len(code) <= 64 else None
        if row is None:
            raise HTTPException(404, "没有这个活动。")
        campaign, notice, source = row.campaign(), dict(row.notice or {}), row.source
    return render(
        request,
        "campaign_form.html",
        nav="campaigns",
        c=campaign,
        sources=notice.get("sources", {}),
        problems=[],
        is_new=False,
        from_config=source == store.CONFIG,
        error=None,
        labels=FIELD_LABELS,
    )


async def save_campaign(request: Request) -> Response:
    """Saves the form: a new campaign from a notice, or corrections to one."""
    user = require_editor(request)
    form = await checked_form(request)
    ctx = request.app.state.ctx
    is_new = request.path_params.get("code") is None
    code = str(form.get("code", "")).strip() if is_new else request.path_params["code"]
    try:
        with db(request) as session:
            row = None if is_new else store.record(session, code)
            if is_new and (not CODE.match(code) or session.get(store.CampaignRecord, code)):
                raise CampaignEditError("代码只能用小写字母、数字、- 和 _，且不能与已有活动重复。")
            if row is not None and row.source == store.CONFIG:
                raise CampaignEditError("这个活动来自配置文件 config.toml，请在那里修改。")
            before = row.campaign() if row else _blank(code, form)
            after = edit(before, _changes(form, before))
            if form.get("action") == "open":
                after = replace(after, state="open")
            notice = {"sources": _sources(form)} if is_new else None
            store.save_campaign(session, after, actor=user.name, notice=notice)
    except (CampaignEditError, store.CampaignError, ValueError) as exc:
        raise HTTPException(400, f"无法保存：{exc}") from None
    if before.name != after.name or _labels(before) != _labels(after):
        await run_in_threadpool(refile_campaign, ctx, code)
    return RedirectResponse(f"/campaigns/{code}?saved=1", status_code=303)


def _labels(campaign: Campaign) -> dict[str, str]:
    return {k.code: k.label for k in campaign.kinds}


def _blank(code: str, form) -> Campaign:
    start = _day(form.get("start")) or date.today()
    return Campaign(
        code, "", start, start, "Asia/Shanghai", (Kind("other", "其他", required=False),),
        state="draft",
    )  # fmt: skip


def _day(value) -> date | None:
    return parse_day(str(value or ""))  # 400 with a Chinese reason when it is no day


def _list(form, name: str) -> list[str]:
    return [w for w in str(form.get(name, "")).replace("，", ",").replace("、", ",").split(",")]


def _changes(form, before: Campaign) -> dict:
    """Returns the campaign_edit changes the form asks for (kinds as rows kind_*_N)."""
    changes: dict = {k: str(form.get(k, "")) for k in ("name", "doc_number", "title", "theme")}
    changes["mailbox"] = str(form.get("mailbox", "")).lower()
    for key in ("start", "end"):
        day = _day(form.get(key))
        if day is None:
            raise CampaignEditError(f"{FIELD_LABELS['dates']}：请填写日期（例如 2023-05-14）")
        changes[key] = day
    changes["issued"] = _day(form.get("issued"))
    for key in ("words", "related", "addressees"):
        changes[key] = _list(form, key)
    changes["unit_types"] = [str(t) for t in form.getlist("unit_types")]
    rows = _kind_rows(form)
    existing = set(before.kind_codes())
    changes["remove_kinds"] = [
        k for k in before.kind_codes() if k not in rows and k != before.fallback_kind
    ]
    changes["add_kinds"] = {k: r["label"] for k, r in rows.items() if k not in existing}
    changes["labels"] = {k: r["label"] for k, r in rows.items()}
    changes["keywords"] = {k: r["keywords"] for k, r in rows.items()}
    changes["dues"] = {k: r["due"] for k, r in rows.items()}
    changes["required"] = {k: r["required"] for k, r in rows.items()}
    changes["media"] = {k: r["media"] for k, r in rows.items()}
    return changes


def _kind_rows(form) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for n in range(MAX_KINDS):
        code = str(form.get(f"kind_code_{n}", "")).strip()
        if not code:
            continue
        if not CODE.match(code):
            raise CampaignEditError(f"材料代码 {code!r} 只能用小写字母、数字、- 和 _")
        rows[code] = {
            "label": str(form.get(f"kind_label_{n}", "")),
            "due": str(form.get(f"kind_due_{n}", "")),
            "keywords": _list(form, f"kind_keywords_{n}"),
            "required": form.get(f"kind_required_{n}") == "on",
            "media": [m for m in _list(form, f"kind_media_{n}") if m in ("image", "video")],
        }
    return rows


def _sources(form) -> dict[str, str]:
    """Returns the notice's sentences the form carried (shown again, never trusted further)."""
    try:
        data = json.loads(str(form.get("sources", "{}")))
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k)[:40]: str(v)[:1000] for k, v in list(data.items())[:60] if isinstance(v, str)}


async def set_state(request: Request) -> Response:
    user = require_editor(request)
    form = await checked_form(request)
    state = str(form.get("state", ""))
    code = request.path_params["code"]
    try:
        with db(request) as session:
            store.set_state(session, code, state)
            audit(session, user.name, "campaign_state", f"campaign:{code}", {"state": state})
    except store.CampaignError as exc:
        raise HTTPException(400, f"无法修改：{exc}") from None
    return RedirectResponse("/campaigns", status_code=303)


async def message_campaign(request: Request) -> Response:
    """Puts a message in another campaign, or in 其他来件."""
    user = require_editor(request)
    form = await checked_form(request)
    pk = path_id(request, "message_id")
    code = str(form.get("campaign", ""))
    ctx = request.app.state.ctx
    result = await run_in_threadpool(assign_campaign, ctx, pk, code, user.name)
    chosen = ctx.campaign_by_code(result.campaign) if result.campaign else None
    flash(request, f"已归入{chosen.name if chosen else '其他来件'}。", result.audit_id)
    return RedirectResponse(f"/messages/{pk}", status_code=303)


async def answered(request: Request) -> Response:
    """Marks an inquiry answered (or waiting again, with answered=no)."""
    user = require_editor(request)
    form = await checked_form(request)
    pk = path_id(request, "message_id")
    done = str(form.get("answered", "yes")) != "no"
    await run_in_threadpool(mark_answered, request.app.state.ctx, pk, user.name, done)
    flash(request, "已标记为已回复。" if done else "已改回待回复。")
    back = "/#inquiries" if str(form.get("back", "")) == "home" else f"/messages/{pk}"
    return RedirectResponse(back, status_code=303)
