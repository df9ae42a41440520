"""The read-only pages: dashboard, browse, units, message, item, photos, search."""

from __future__ import annotations

from urllib.parse import urlencode

from jinja2 import pass_context
from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from pipeline.reasons import reason_label, signal_label
from storage import search as search_index
from storage.campaign_triage import pending_inquiries
from storage.models import AuditEntry, DecisionRecord, Item, Message, Unit
from web import queries
from web.archive_views import archive_context
from web.common import (
    arg_campaign_filter,
    arg_day,
    arg_kind,
    arg_page,
    arg_unit,
    chosen_campaign,
    db,
    get_or_404,
    path_id,
    render,
)
from web.media import playable_video, showable_image
from web.security import sanitise_html

MEDIA_LABELS = {
    "image": "图片",
    "video": "视频",
    "document": "文档",
    "text": "正文",
    "archive": "压缩包",
    "other": "其他",
}
STATUS_LABELS = {
    "filed": "已归档",
    "triage": "待分拣",
    "not_material": "非材料",
    "error": "出错",
    "quarantined": "已隔离",
}
CAMPAIGN_STATUS_LABELS = {
    "assigned": "已归入",
    "other": "其他来件（不属于任何活动）",
    "triage": "待确认活动",
    "none": "未判断",
}
ITEM_STATUS_LABELS = {
    "ok": "正常",
    "corrupt": "文件损坏",
    "rejected_unsafe": "不安全已拒收",
    "encrypted": "已加密",
    "too_large": "过大",
    "external_link": "外部链接待下载",
    "pending": "等待解压",
}
CLUE_SOURCES = {
    "address": "发件地址",
    "domain": "发件域名",
    "subject": "主题",
    "signature": "签名",
    "display_name": "发件人名称",
    "filename": "文件名",
    "document": "文档内容",
    "body": "正文",
    "media": "文件类型",
    "date": "日期",
    "keyword": "关键词",
    "body_article": "邮件正文",
    "header": "信头",
    "thread": "所回复的邮件",
    "reply_subject": "回复通知的主题",
    "document_text": "文档内容",
    "reply_subject_": "回复的主题",
    "kind": "材料类别词",
    "related_subject": "主题中的相关活动",
    "related_filename": "文件名中的相关活动",
    "related_body": "正文中的相关活动",
    "related_document": "文档中的相关活动",
    "related_document_text": "文档中的相关活动",
}


def install_filters(env, ctx) -> None:
    """Adds the filters and globals templates use (labels in Chinese, local times)."""
    campaign = ctx.campaign
    unit_names = {u.code: u.name for u in ctx.config.units}
    env.filters["localtime"] = lambda dt: (
        dt.astimezone(campaign.tz).strftime("%Y-%m-%d %H:%M") if dt else ""
    )
    env.filters["kind_label"] = kind_label
    env.filters["campaign_status_label"] = lambda s: CAMPAIGN_STATUS_LABELS.get(s, s or "")
    env.filters["unit_name"] = lambda code: unit_names.get(code, code) if code else "待分拣"
    env.filters["media_label"] = lambda m: MEDIA_LABELS.get(m, m or "")
    env.filters["status_label"] = lambda s: STATUS_LABELS.get(s, s or "")
    env.filters["item_status_label"] = lambda s: ITEM_STATUS_LABELS.get(s, s or "")
    env.filters["clue_source"] = lambda s: CLUE_SOURCES.get(s, s)
    env.filters["reason_label"] = reason_label  # why a message is not material, in Chinese
    env.filters["signal_label"] = signal_label
    env.filters["filesize"] = _filesize
    env.filters["reply_link"] = reply_link
    env.globals["campaign"] = campaign
    env.globals["units"] = list(ctx.config.units)
    env.globals["unit_names"] = unit_names


def reply_link(message: Message) -> str:
    """Returns a mailto: link answering the message: its sender, subject 回复：theirs."""
    from urllib.parse import quote

    subject = message.subject or ""
    if not subject.startswith(("回复", "Re:", "RE:")):
        subject = f"回复：{subject}"
    return f"mailto:{quote(message.from_addr, safe='@')}?subject={quote(subject)}"


@pass_context
def kind_label(context, code: str | None, campaign_code: str | None = None) -> str:
    """Returns a kind's label in the item's campaign (or the page's), 未定 when it has none."""
    if not code:
        return "未定"
    by_code = context.get("campaign_map") or {}
    for campaign in (by_code.get(campaign_code), context.get("campaign"), *by_code.values()):
        if campaign is not None and code in campaign.kind_codes():
            return campaign.label(code)
    return code


def _filesize(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def page_links(request: Request, page: queries.Page) -> dict[str, str | None]:
    """Returns the URLs of the previous and next pages, keeping the other filters."""
    params = {k: v for k, v in request.query_params.items() if k != "page"}

    def url(n: int) -> str:
        return request.url.path + "?" + urlencode({**params, "page": n})

    return {
        "prev": url(page.page - 1) if page.page > 1 else None,
        "next": url(page.page + 1)
        if page.page < page.pages or (page.capped and len(page.rows) == page.per_page)
        else None,
    }


# -- pages ---------------------------------------------------------------------------


def dashboard(request: Request) -> Response:
    ctx = request.app.state.ctx
    chosen = chosen_campaign(request)
    with db(request) as session:
        return render(
            request,
            "dashboard.html",
            nav="home",
            intake=queries.intake(session, ctx.campaign),
            opened=[c for c in ctx.campaigns(session) if c.is_open],
            counts=queries.campaign_counts(session),
            tracker=queries.tracker(session, chosen) if chosen else [],
            problems=queries.recent_problems(session),
            recent=queries.recent_messages(session),
            inquiries=pending_inquiries(session, limit=50),
            kinds=[k for k in chosen.kinds if k.required] if chosen else [],
        )


def browse(request: Request) -> Response:
    campaign = request.app.state.ctx.campaign
    filters = {"unit": arg_unit(request), "kind": arg_kind(request), "day": arg_day(request, "day")}
    filed_under = arg_campaign_filter(request)
    with db(request) as session:
        page = queries.browse_items(
            session, campaign, page=arg_page(request), filed_under=filed_under, **filters
        )
        return render(
            request,
            "browse.html",
            nav="browse",
            page=page,
            filters=filters,
            filed_under=filed_under,
            links=page_links(request, page),
        )


def units(request: Request) -> Response:
    with db(request) as session:
        rows = session.scalars(select(Unit).order_by(Unit.type, Unit.code)).all()
        return render(
            request, "units.html", nav="units", rows=rows, counts=queries.unit_counts(session)
        )


def unit_page(request: Request) -> Response:
    code = request.path_params["code"]
    campaign = chosen_campaign(request) or request.app.state.ctx.campaign
    with db(request) as session:
        unit = session.get(Unit, code) if len(code) <= 64 else None
        if unit is None:
            raise HTTPException(404, "没有这个单位。")
        page = queries.unit_messages(session, code, arg_page(request))
        pks = [m.id for (m,) in page.rows]
        return render(
            request,
            "unit.html",
            nav="units",
            unit=unit,
            page=page,
            kinds_by_message=queries.item_kinds_by_message(session, pks),
            tracker=queries.tracker(session, campaign, unit=code),
            kinds=[k for k in campaign.kinds if k.required],
            links=page_links(request, page),
        )


def message_page(request: Request) -> Response:
    with db(request) as session:
        message = get_or_404(session, Message, path_id(request, "message_id"))
        decisions = session.scalars(
            select(DecisionRecord)
            .where(DecisionRecord.message_pk == message.id)
            .order_by(DecisionRecord.id)
        ).all()
        unit_decisions = [d for d in decisions if d.subject == "unit"]
        campaign_decisions = [d for d in decisions if d.subject == "campaign"]
        kind_decisions: dict[int, DecisionRecord] = {}
        for d in decisions:
            if d.subject == "kind" and d.item_id is not None:
                kind_decisions[d.item_id] = d  # the latest wins
        history = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target == f"message:{message.id}")
            .order_by(AuditEntry.id)
        ).all()
        show_html = bool(message.body_html) and request.query_params.get("view") != "text"
        return render(
            request,
            "message.html",
            nav="browse",
            message=message,
            body_html=sanitise_html(message.body_html) if show_html else None,
            unit_decisions=unit_decisions,
            campaign_decisions=campaign_decisions,
            kind_decisions=kind_decisions,
            history=history,
        )


def item_page(request: Request) -> Response:
    with db(request) as session:
        item = get_or_404(session, Item, path_id(request, "item_id"))
        decisions = session.scalars(
            select(DecisionRecord)
            .where(DecisionRecord.item_id == item.id)
            .order_by(DecisionRecord.id)
        ).all()
        history = session.scalars(
            select(AuditEntry).where(AuditEntry.target == f"item:{item.id}").order_by(AuditEntry.id)
        ).all()
        return render(
            request,
            "item.html",
            nav="browse",
            item=item,
            message=item.message,
            view=view_kind(item),
            decisions=decisions,
            history=history,
            **archive_context(session, item),
        )


def view_kind(item: Item) -> str:
    """Returns how the item page shows an item: image, video, pdf, text or none."""
    if item.media == "image" and (item.preview or showable_image(item)):
        return "image"
    if item.media == "video" and (item.web_video or playable_video(item)):
        return "video"
    if item.mime == "application/pdf" and ((item.meta or {}).get("pages") or item.preview):
        return "pdf"  # its pages as pictures: never the browser's PDF viewer
    if item.text:
        return "text"
    return "none"


def photos(request: Request) -> Response:
    campaign = request.app.state.ctx.campaign
    filters = {"unit": arg_unit(request), "day": arg_day(request, "day")}
    filed_under = arg_campaign_filter(request)
    with db(request) as session:
        page = queries.browse_items(
            session,
            campaign,
            media="image",
            page=arg_page(request),
            per_page=60,
            filed_under=filed_under,
            **filters,
        )
        return render(
            request,
            "photos.html",
            nav="photos",
            page=page,
            filters=filters,
            links=page_links(request, page),
        )


def search_page(request: Request) -> Response:
    campaign = request.app.state.ctx.campaign
    q = request.query_params.get("q", "").strip()[:200]
    since, until = arg_day(request, "from"), arg_day(request, "to")
    status = request.query_params.get("status", "")
    filters = search_index.SearchFilters(
        unit=arg_unit(request),
        kind=arg_kind(request),
        status=status if status in STATUS_LABELS else None,
        since=queries.day_bounds(campaign, since)[0] if since else None,
        until=queries.day_bounds(campaign, until)[1] if until else None,
    )
    with db(request) as session:
        hits, total, page = [], 0, arg_page(request)
        if q:
            found, total = search_index.search(
                session, q, filters, limit=queries.PAGE, offset=(page - 1) * queries.PAGE
            )
            hits = _load_hits(session, found)
        paging = queries.Page([], total, page)
        return render(
            request,
            "search.html",
            nav="search",
            q=q,
            hits=hits,
            total=total,
            filters=filters,
            since=since,
            until=until,
            status=filters.status,
            links=page_links(request, paging) if q else {},
        )


def _load_hits(session, found: list[search_index.Hit]) -> list[tuple[Message, Item | None]]:
    messages = {
        m.id: m
        for m in session.scalars(
            select(Message).where(Message.id.in_({h.message_pk for h in found}))
        )
    }
    items = {
        i.id: i
        for i in session.scalars(
            select(Item).where(Item.id.in_({h.item_id for h in found if h.item_id}))
        )
    }
    return [
        (messages[h.message_pk], items.get(h.item_id) if h.item_id else None)
        for h in found
        if h.message_pk in messages
    ]
