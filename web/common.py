"""What every page and file route shares: sessions, rendering, and reading input safely.

Every number and date a route takes from the path, the query string or a form
goes through the parsers here: ASCII digits only (str.isdigit() accepts '²' and
'٣', which int() then refuses or reads), ids within the index's 64-bit keys,
days within the years the index can hold. A bad id is 404, a bad form value or
date 400: never an OverflowError turned into a 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from web.security import csrf_token

MAX_ID = 2**63 - 1
MAX_PAGE = 100_000
# the index ignores Date:/Received: times outside 1980-2200 (README); so do filters,
# and these bounds keep a day's [start, end) instants far from date.min and date.max
FIRST_DAY, LAST_DAY = date(1980, 1, 1), date(2200, 12, 31)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("user", request.state.user)
    context.setdefault("csrf", csrf_token(request))
    context.setdefault("nav", "")
    campaigns = request.app.state.ctx.campaigns()
    chosen = chosen_campaign(request, campaigns)
    context.setdefault("campaigns", campaigns)
    context.setdefault("campaign_map", {c.code: c for c in campaigns})
    context.setdefault("chosen", chosen)
    context.setdefault("campaign", chosen or request.app.state.ctx.campaign)
    return request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status_code
    )


def db(request: Request):
    return request.app.state.ctx.db.session()


def get_or_404(session, model, key: int):
    row = session.get(model, key) if 0 < key <= MAX_ID else None
    if row is None:
        raise HTTPException(404, "没有这条记录。")
    return row


# -- parsing what a request brings ---------------------------------------------------


def parse_int(value: object, low: int, high: int) -> int | None:
    """Returns value as an int when it is ASCII digits within [low, high], else None."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def path_id(request: Request, name: str) -> int:
    """Returns the id in the path parameter name; 404 when it is no possible id."""
    number = parse_int(request.path_params.get(name), 1, MAX_ID)
    if number is None:
        raise HTTPException(404, "没有这条记录。")
    return number


def form_ids(values: Iterable[object]) -> list[int]:
    """Returns the sorted distinct ids posted; 400 when one of them is no possible id."""
    ids = set()
    for value in values:
        number = parse_int(value, 1, MAX_ID)
        if number is None:
            raise HTTPException(400, "提交的编号无效，请刷新页面后重试。")
        ids.add(number)
    return sorted(ids)


def parse_day(value: str | None) -> date | None:
    """Returns the YYYY-MM-DD day given, None when empty; 400 when invalid or out of range."""
    if not value:
        return None
    text = value.strip()
    if len(text) != 10 or not text.isascii():
        raise HTTPException(400, "日期格式不对，请写成 2023-05-16 这样。")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, "日期格式不对，请写成 2023-05-16 这样。") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise HTTPException(400, f"日期超出范围：只能选 {FIRST_DAY.year} 到 {LAST_DAY.year} 年。")
    return day


def arg_page(request: Request) -> int:
    value = request.query_params.get("page", "")
    if value == "":
        return 1
    number = parse_int(value, 1, MAX_PAGE)
    if number is None:
        raise HTTPException(400, f"页码无效：请用 1 到 {MAX_PAGE} 之间的数字。")
    return number


def arg_day(request: Request, name: str) -> date | None:
    return parse_day(request.query_params.get(name))


def arg_unit(request: Request) -> str | None:
    value = request.query_params.get("unit", "")
    known = request.app.state.templates.env.globals["unit_names"]
    return value if value in known or value == "_triage" else None


def arg_kind(request: Request) -> str | None:
    value = request.query_params.get("kind", "")
    codes = {k.code for c in request.app.state.ctx.campaigns() for k in c.kinds}
    return value if value in codes else None


OTHER, ALL = "_other", "_all"  # browse filters: mail of no campaign (其他来件), everything


def chosen_campaign(request: Request, campaigns=None):
    """Returns the campaign the pages show (the switcher's choice, kept in the session):
    `?campaign=CODE` chooses one; by default the first open campaign."""
    if campaigns is None:
        campaigns = request.app.state.ctx.campaigns()
    asked = request.query_params.get("campaign", "")
    by_code = {c.code: c for c in campaigns}
    if asked in by_code:
        request.session["campaign"] = asked
        return by_code[asked]
    kept = request.session.get("campaign", "")
    if kept in by_code:
        return by_code[kept]
    return next((c for c in campaigns if c.is_open), campaigns[0] if campaigns else None)


def arg_campaign_filter(request: Request) -> str | None:
    """Returns the browse filter: a campaign code, _other (其他来件) or None for all mail."""
    value = request.query_params.get("campaign", "")
    if value == OTHER:
        return OTHER
    if value == ALL:
        return None
    campaign = chosen_campaign(request)
    return campaign.code if campaign else None
