"""Security helpers: response headers, CSRF tokens, e-mail HTML sanitising, file headers."""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import quote

import nh3
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; object-src 'none'; frame-src 'self'; frame-ancestors 'self'; "
    "base-uri 'none'; form-action 'self'"
)
# a file shown inline gets a CSP of its own, so even a mislabelled file cannot run script
FILE_CSP = (
    "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
)

# types a browser shows inline without running anything; every other file is a download
INLINE_TYPES = {
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/bmp",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "text/plain",
}
# not PDF: Chromium's PDF viewer runs a PDF's own JavaScript (/OpenAction app.alert,
# app.response) even under a sandbox CSP; PDFs are shown as page pictures and downloaded


class SecurityHeaders:
    """ASGI middleware adding CSP, nosniff, framing and referrer headers to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "SAMEORIGIN"
                headers["Referrer-Policy"] = "same-origin"
                if not scope["path"].startswith("/static/"):
                    headers.setdefault("Cache-Control", "private, no-store")
            await send(message)

        await self.app(scope, receive, send_wrapper)


def csrf_token(request: Request) -> str:
    """Returns this browser's CSRF token, making one on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request):
    """Returns the posted form after checking its CSRF token; 403 when missing or wrong."""
    form = await request.form()
    sent = str(form.get("csrf_token", ""))
    expected = request.session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。")
    return form


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    # what a browser's URL parser sees: it drops tabs, newlines and leading spaces
    url = re.sub(r"[\x00-\x20]", "", value).lower()
    if tag == "img" and attr == "src":
        # remote images would tell the sender when and where the mail was read
        return value if url.startswith("data:image/") else None
    if url.startswith("data:"):
        return None  # a data: link opens sender-made HTML (or a download) from the page
    return value


def sanitise_html(body: str) -> str:
    """Returns e-mail HTML safe to embed: no script, no handlers, no remote images.

    The data scheme passes nh3 only for inline pictures (img src="data:image/...");
    the attribute filter drops it from every link.
    """
    return nh3.clean(
        body,
        clean_content_tags={"script", "style", "title", "head"},
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
    )


def content_disposition(name: str, inline: bool = False) -> str:
    """Returns an RFC 6266 header: an ASCII fallback plus the UTF-8 name in filename*."""
    kind = "inline" if inline else "attachment"
    fallback = (
        "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name)
        or "file"
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
