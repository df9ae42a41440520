"""Sign-in, sign-out, the gate that keeps every page behind sign-in, and roles."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from storage.models import AuditEntry
from storage.web_models import (
    LoginAttempt,
    User,
    check_password,
    end_session,
    recent_failures,
    session_user,
    start_session,
)
from web.security import checked_form, csrf_token

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


def login_page(request: Request) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf": csrf_token(request),
            "next": safe_next(request.query_params.get("next")),
            "error": None,
            "user": None,
        },
    )


async def login_submit(request: Request) -> Response:
    form = await checked_form(request)
    name = str(form.get("name", "")).strip()[:100]
    password = str(form.get("password", ""))
    client = (request.client.host if request.client else "")[:64]
    settings = request.app.state.settings
    outcome, token = await run_in_threadpool(
        _try_login, request.app.state.ctx.db, settings, name, password, client
    )
    if outcome != "ok":
        if outcome == "limited":
            error, status = (
                f"登录失败次数过多，请 {settings.login_window_minutes} 分钟后再试。",
                429,
            )
        else:
            error, status = "用户名或密码不正确。", 401
        return request.app.state.templates.TemplateResponse(
            request,
            "login.html",
            {
                "csrf": csrf_token(request),
                "next": safe_next(str(form.get("next", ""))),
                "error": error,
                "user": None,
            },
            status_code=status,
        )
    request.session.clear()  # a fresh session id and CSRF token after sign-in
    request.session["sid"] = token
    csrf_token(request)
    return RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)


def _try_login(db, settings, name: str, password: str, client: str) -> tuple[str, str]:
    """Returns ('ok', session token), ('limited', '') or ('wrong', '')."""
    window = timedelta(minutes=settings.login_window_minutes)
    with db.session() as session:
        if recent_failures(session, name, client, window) >= settings.login_max_failures:
            session.add(LoginAttempt(name=name, client=client, ok=False))
            log.warning("sign-in refused for %r from %s: too many failures", name, client)
            return "limited", ""
        user = session.scalar(select(User).where(User.name == name))
        ok = check_password(user, password)
        session.add(LoginAttempt(name=name, client=client, ok=ok))
        if not ok:
            log.info("failed sign-in for %r from %s", name, client)
            return "wrong", ""
        audit(session, name, "login", f"user:{name}", {"client": client})
        return "ok", start_session(session, user, timedelta(hours=settings.session_hours))


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
