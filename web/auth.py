"""Sign-out, the gate that keeps every page behind sign-in, and roles (sign-in: web/signin.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from storage.models import AuditEntry
from storage.web_models import end_session, session_user
from web.security import checked_form

log = logging.getLogger(__name__)
PUBLIC_PREFIXES = ("/login", "/static/")


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in person, as pages need it."""

    id: int
    name: str
    role: str

    @property
    def can_edit(self) -> bool:
        return self.role in ("editor", "admin")


class AuthGate:
    """ASGI middleware: resolves the session's user; sends everyone else to /login."""

    def __init__(self, app: ASGIApp, db):
        self.app, self.db = app, db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = scope["session"].get("sid")
        user = await run_in_threadpool(self._lookup, token) if token else None
        scope.setdefault("state", {})["user"] = user
        path = scope["path"]
        if user is None and not path.startswith(PUBLIC_PREFIXES):
            target = path + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
            response = RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _lookup(self, token: str) -> CurrentUser | None:
        with self.db.session() as session:
            user = session_user(session, token)
            return CurrentUser(user.id, user.name, user.role) if user else None


def current_user(request: Request) -> CurrentUser:
    user = request.state.user
    if user is None:  # the gate lets no one through without a user; be safe anyway
        raise HTTPException(403, "请先登录。")
    return user


def require_editor(request: Request) -> CurrentUser:
    """Returns the user when they may change things; 403 for viewers."""
    user = current_user(request)
    if not user.can_edit:
        raise HTTPException(403, "只有编辑或管理员可以修改；你的账号是只读的查看者。")
    return user


def audit(session, actor: str, action: str, target: str, data: dict[str, Any]) -> None:
    """Records a change: who, what, on which target, with details (when is the row's time)."""
    session.add(AuditEntry(actor=actor, action=action, target=target[:200], data=data))


def safe_next(value: str | None) -> str:
    """Returns a local path to go to after sign-in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


async def logout(request: Request) -> Response:
    await checked_form(request)
    token = request.session.get("sid")
    user = request.state.user

    def _end() -> None:
        with request.app.state.ctx.db.session() as session:
            end_session(session, token)
            if user:
                audit(session, user.name, "logout", f"user:{user.name}", {})

    await run_in_threadpool(_end)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
