"""The read-only pages: dashboard, browse, units, message, item, photos, search."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from storage import search as search_index
from storage.campaign_triage import pending_inquiries
from storage.models import DecisionRecord, Item, Message, Unit
from web import gallery, history, queries
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

STATUS_CODES = ("filed", "triage", "not_material", "error")


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
        grid = queries.tracker(session, ctx, chosen) if chosen else []
        return render(
            request,
            "dashboard.html",
            nav="home",
            intake=queries.intake(session, ctx.campaign),
            opened=[c for c in ctx.campaigns(session) if c.is_open],
            counts=queries.campaign_counts(session),
            tracker=grid,
            resend=[c for row in grid for c in row.cells.values() if c.needs_resend],
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
    ctx = request.app.state.ctx
    campaign = chosen_campaign(request) or ctx.campaign
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
            tracker=queries.tracker(session, ctx, campaign, unit=code),
            kinds=[k for k in campaign.kinds if k.required],
            links=page_links(request, page),
        )


def message_page(request: Request) -> Response:
    ctx = request.app.state.ctx
    names = request.app.state.templates.env.filters["unit_name"]
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
            pictures=gallery.pictures(session, message),
            history=_history(ctx, session, message, names),
        )


def item_page(request: Request) -> Response:
    ctx = request.app.state.ctx
    names = request.app.state.templates.env.filters["unit_name"]
    with db(request) as session:
        item = get_or_404(session, Item, path_id(request, "item_id"))
        decisions = session.scalars(
            select(DecisionRecord)
            .where(DecisionRecord.item_id == item.id)
            .order_by(DecisionRecord.id)
        ).all()
        changes = [c for c in _history(ctx, session, item.message, names) if c.item_id == item.id]
        return render(
            request,
            "item.html",
            nav="browse",
            item=item,
            message=item.message,
            view=view_kind(item),
            decisions=decisions,
            history=changes,
            **archive_context(session, item),
        )


def _history(ctx, session, message: Message, names) -> list[history.Change]:
    """Returns the message's changes in Chinese, its kinds named as its campaign names them."""
    campaign = ctx.campaign_by_code(message.campaign_code, session) or ctx.campaign

    def campaign_name(code: str | None) -> str:
        found = ctx.campaign_by_code(code, session)
        return found.name if found else "其他来件"

    return history.history(session, message, names, campaign, campaign_name)


def view_kind(item: Item) -> str:
    """Returns how the item page shows an item: image, video, pdf, text or none."""
    if item.status != "ok":  # a damaged file is described, never shown as a broken picture
        return "text" if item.text else "none"
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
            first_copies=True,
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
        status=status if status in STATUS_CODES else None,
        since=queries.day_bounds(campaign, since)[0] if since else None,
        until=queries.day_bounds(campaign, until)[1] if until else None,
    )
    with db(request) as session:
        hits, total, page = [], 0, arg_page(request)
        if q:
            found, total = search_index.search(
                session, q, filters, limit=queries.PAGE, offset=(page - 1) * queries.PAGE
            )
            hits = _load_hits(session, found, search_index.snippets(session, found, q))
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


def _load_hits(
    session, found: list[search_index.Hit], snippets: dict[int, list]
) -> list[tuple[Message, Item | None, list]]:
    """Returns (message, item or None, snippet pieces) for each hit, in the hits' order."""
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
        (
            messages[h.message_pk],
            items.get(h.item_id) if h.item_id else None,
            snippets.get(h.doc_id, []),
        )
        for h in found
        if h.message_pk in messages
    ]
