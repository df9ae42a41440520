"""The sign-in form: limits that hold under parallel tries, and a queue for password hashes.

Each try first takes its turn in the index (storage/signin.py: counted and recorded
atomically, refused at once when a limit holds), then waits for one of
`[web] login_hash_concurrency` places to check the password (argon2id takes 64 MiB:
forty at once took the server from 152 MB to 1 GB), then records a success and
starts the session. The client is the TCP peer, or the address a proxy listed in
`[web] trusted_proxies` put in X-Forwarded-For (web/app.py).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storage import signin
from storage.web_models import User, start_session, verify_password
from web.auth import audit, safe_next
from web.security import checked_form, csrf_token
from workers.config import WebSettings

log = logging.getLogger(__name__)
WRONG = "用户名或密码不正确。"
DISABLED = "这个账号已停用，请联系管理员。"


class HashGate:
    """Runs at most n password checks at once in this process; the others wait in turn."""

    def __init__(self, n: int):
        self.n = n
        self.running = 0
        self.peak = 0  # the most that ran at once: what the limit is about
        self._semaphores: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def check(self, password_hash: str | None, password: str) -> bool:
        """Returns whether password matches the hash (a missing account costs a hash too)."""
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.setdefault(loop, asyncio.Semaphore(self.n))
        async with semaphore:
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                return await run_in_threadpool(verify_password, password_hash, password)
            finally:
                self.running -= 1


def limits_of(settings: WebSettings) -> signin.Limits:
    """Returns the sign-in limits configured in [web]."""
    return signin.Limits(
        window=timedelta(minutes=settings.login_window_minutes),
        pair_max=settings.login_max_failures,
        client_max=settings.login_client_max_failures,
        name_max=settings.login_name_max_failures,
        name_lock=timedelta(minutes=settings.login_name_lock_minutes),
    )


def login_page(request: Request) -> Response:
    return _form(request, safe_next(request.query_params.get("next")), None, 200)


def _form(request: Request, next_url: str, error: str | None, status: int) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "login.html",
        {"csrf": csrf_token(request), "next": next_url, "error": error, "user": None},
        status_code=status,
    )


async def login_submit(request: Request) -> Response:
    form = await checked_form(request)
    name = str(form.get("name", "")).strip()[:100]
    password = str(form.get("password", ""))[:1000]
    next_url = safe_next(str(form.get("next", "")))
    client = (request.client.host if request.client else "")[:64]
    settings: WebSettings = request.app.state.settings
    db = request.app.state.ctx.db
    _warn_of_an_unlisted_proxy(request, settings)
    turn = await run_in_threadpool(_reserve, db, name, client, limits_of(settings))
    if isinstance(turn, str):
        log.warning("sign-in refused for %r from %s: %s limit", name, client, turn)
        minutes = (
            settings.login_name_lock_minutes if turn == "name" else settings.login_window_minutes
        )
        return _form(request, next_url, f"登录失败次数过多，请 {minutes} 分钟后再试。", 429)
    if not await request.app.state.hash_gate.check(turn.password_hash, password):
        log.info("failed sign-in for %r from %s", name, client)
        return _form(request, next_url, WRONG, 401)
    if turn.disabled:  # told only to whoever knows the password
        log.info("sign-in of disabled account %r from %s", name, client)
        return _form(request, next_url, DISABLED, 403)
    token = await run_in_threadpool(_start, db, settings, turn, name, client)
    if token is None:  # disabled or removed while the password was being checked
        return _form(request, next_url, DISABLED, 403)
    request.session.clear()  # a fresh session id and CSRF token after sign-in
    request.session["sid"] = token
    csrf_token(request)
    return RedirectResponse(next_url, status_code=303)


def _warn_of_an_unlisted_proxy(request: Request, settings: WebSettings) -> None:
    """Logs once that a proxy's X-Forwarded-For is ignored: every client then looks the same."""
    if settings.trusted_proxies or "x-forwarded-for" not in request.headers:
        return
    if not getattr(request.app.state, "warned_of_proxy", False):
        request.app.state.warned_of_proxy = True
        log.warning(
            "sign-in from %s came through a proxy (X-Forwarded-For) that [web] trusted_proxies "
            "does not list: sign-in limits count every client behind it as one; list the "
            "proxy's address there",
            request.client.host if request.client else "?",
        )


def _reserve(db, name: str, client: str, limits: signin.Limits):
    with db.session() as session:
        return signin.reserve(session, name, client, limits)


def _start(
    db, settings: WebSettings, turn: signin.Reservation, name: str, client: str
) -> str | None:
    """Returns the new session's token, or None when the account is disabled or gone."""
    with db.session() as session:
        user = session.get(User, turn.user_id)
        if user is None or user.disabled:
            return None
        signin.succeeded(session, turn.attempt_id, user.id)
        audit(session, name, "login", f"user:{name}", {"client": client})
        return start_session(session, user, timedelta(hours=settings.session_hours))
