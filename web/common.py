"""What every page and file route shares: sessions, rendering, safe query-string reading."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from web.security import csrf_token

MAX_ID = 2**63 - 1


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("user", request.state.user)
    context.setdefault("csrf", csrf_token(request))
    context.setdefault("nav", "")
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


# -- reading the query string safely ---------------------------------------------------


def arg_page(request: Request) -> int:
    value = request.query_params.get("page", "1")
    return max(1, min(int(value), 100_000)) if value.isdigit() else 1


def arg_day(request: Request, name: str) -> date | None:
    try:
        return date.fromisoformat(request.query_params.get(name, ""))
    except ValueError:
        return None


def arg_unit(request: Request) -> str | None:
    value = request.query_params.get("unit", "")
    known = request.app.state.templates.env.globals["unit_names"]
    return value if value in known or value == "_triage" else None


def arg_kind(request: Request) -> str | None:
    value = request.query_params.get("kind", "")
    return value if value in request.app.state.ctx.campaign.kind_codes() else None
