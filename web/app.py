"""The staff web UI: `create_app(ctx)` returns the Starlette application.

Server-rendered Chinese pages with a little JavaScript from /static (the CSP
forbids inline script). Every page and file is behind sign-in (AuthGate);
files are served by item id only; errors become one status page.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from pipeline.errors import MailroomError, StorageError
from storage.search import refresh_planner_stats
from web import (
    archive_views,
    auth,
    campaign_views,
    downloads,
    files,
    labels,
    not_material,
    pages,
    reports,
    signin,
    triage_views,
)
from web.history import take_flash
from web.secret import secret_key
from web.security import SecurityHeaders
from workers.app import AppContext
from workers.config import WebSettings

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATUS_TEXT = {
    400: "请求有误",
    403: "没有权限",
    404: "找不到",
    405: "不支持的操作",
    413: "太大了",
    503: "暂时无法使用",
    416: "请求的范围无效",
    429: "太频繁了",
    500: "服务器出错",
}


class MailroomApp(Starlette):
    """Starlette with the security headers outside everything, the error pages included.

    Starlette puts its ServerErrorMiddleware (which renders the 500 page) outside
    the user middleware; wrapping the whole stack here gives that page, and every
    other error page, the same CSP, nosniff and no-store as the rest.
    """

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(ctx: AppContext, settings: WebSettings | None = None) -> Starlette:
    """Returns the web application for an opened AppContext (settings default to [web])."""
    settings = settings or ctx.config.web
    middleware = [
        # only a listed proxy may name the client (sign-in limits count by client)
        *(
            [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))]
            if settings.trusted_proxies
            else []
        ),
        Middleware(
            SessionMiddleware,
            secret_key=secret_key(settings),
            session_cookie="mailroom_session",
            same_site="lax",
            https_only=settings.cookie_secure,
            max_age=int(timedelta(hours=settings.session_hours).total_seconds()),
        ),
        Middleware(auth.AuthGate, db=ctx.db),
    ]
    app = MailroomApp(
        routes=routes(),
        middleware=middleware,
        exception_handlers={
            HTTPException: http_error,
            StorageError: storage_error,
            MailroomError: mailroom_error,
            Exception: server_error,
        },
    )
    app.state.ctx, app.state.settings = ctx, settings
    app.state.hash_gate = signin.HashGate(settings.login_hash_concurrency)
    app.state.templates = templates(ctx)
    with ctx.db.session() as session:
        refresh_planner_stats(session)
    return app


def routes() -> list:
    return [
        Route("/login", signin.login_page, methods=["GET"]),
        Route("/login", signin.login_submit, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/", pages.dashboard),
        Route("/favicon.ico", favicon),
        Route("/browse", pages.browse),
        Route("/units", pages.units),
        Route("/units/{code:str}", pages.unit_page),
        Route("/units/{code:str}/zip", downloads.unit_zip),
        Route("/messages/{message_id:int}", pages.message_page),
        Route("/messages/{message_id:int}/raw", files.message_raw),
        Route(
            "/messages/{message_id:int}/campaign", campaign_views.message_campaign, methods=["POST"]
        ),
        Route("/messages/{message_id:int}/answered", campaign_views.answered, methods=["POST"]),
        Route("/messages/{message_id:int}/zip", downloads.message_zip),
        Route("/items/{item_id:int}", pages.item_page),
        Route("/items/{item_id:int}/file", files.item_file),
        Route("/items/{item_id:int}/thumb", files.item_thumb),
        Route("/items/{item_id:int}/preview", files.item_preview),
        Route("/items/{item_id:int}/video", files.item_video),
        Route("/items/{item_id:int}/page/{number:int}", files.item_page_image),
        Route("/items/{item_id:int}/kind", triage_views.set_kind, methods=["POST"]),
        Route("/items/{item_id:int}/password", archive_views.give_password, methods=["POST"]),
        Route("/photos", pages.photos),
        Route("/photos/zip", files.photos_zip, methods=["POST"]),
        Route("/search", pages.search_page),
        Route("/triage", triage_views.queue),
        Route("/triage/assign", triage_views.assign, methods=["POST"]),
        Route("/triage/dismiss", triage_views.dismiss, methods=["POST"]),
        Route("/audit/{audit_id:int}/undo", triage_views.undo, methods=["POST"]),
        Route("/not-material", not_material.listing),
        Route("/messages/{message_id:int}/material", not_material.mark_material, methods=["POST"]),
        Route("/reports", reports.reports),
        Route("/reports/tracker.csv", reports.tracker_csv_file),
        Route("/reports/tracker.xlsx", reports.tracker_xlsx_file),
        Route("/reports/daily/{day}", reports.daily_html),
        Route("/reports/daily/{day}/make", reports.make_report, methods=["POST"]),
        Route("/reports/daily/{day}/{fmt}", reports.daily_file),
        Route("/reports/file/{number:int}", reports.report_file),
        Route("/campaigns", campaign_views.campaigns_page),
        Route("/campaigns/new", campaign_views.new_campaign, methods=["GET"]),
        Route("/campaigns/new", campaign_views.read_notice_upload, methods=["POST"]),
        Route("/campaigns/save", campaign_views.save_campaign, methods=["POST"]),
        Route("/campaigns/{code:str}", campaign_views.campaign_page, methods=["GET"]),
        Route("/campaigns/{code:str}", campaign_views.save_campaign, methods=["POST"]),
        Route("/campaigns/{code:str}/state", campaign_views.set_state, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico whatever the page says; answer with the icon."""
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")


def templates(ctx) -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    labels.install_filters(env, ctx)
    env.globals["take_flash"] = take_flash
    return Jinja2Templates(env=env)


def _status_page(request: Request, status: int, detail: str) -> Response:
    templates_ = request.app.state.templates
    return templates_.TemplateResponse(
        request,
        "error.html",
        {
            "status": status,
            "title": STATUS_TEXT.get(status, "出错了"),
            "detail": detail,
            "user": getattr(request.state, "user", None),
        },
        status_code=status,
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = (
        exc.detail
        if exc.detail and exc.detail != _default_phrase(exc.status_code)
        else ("没有这个页面或文件。" if exc.status_code == 404 else "")
    )
    return _status_page(request, exc.status_code, detail)


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def storage_error(request: Request, exc: Exception) -> Response:
    # The English line (what to check) goes to the log for the administrator; staff read Chinese.
    log.error("%s %s: %s", request.method, request.url.path, exc)
    detail = "归档或索引暂时无法使用（服务器磁盘或数据库出了问题）。请稍后重试；如果一直这样，请联系管理员。"
    return _status_page(request, 503, detail)


async def mailroom_error(request: Request, exc: Exception) -> Response:
    # The English reason is for the log; staff read what it means for them.
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return _status_page(request, 400, staff_text(str(exc)))


REFUSALS = [
    ("unknown unit", "没有这个单位，请从列表中选择。"),
    ("unknown kind", "没有这个材料类别，请从列表中选择。"),
    ("unknown reason", "请从列表中选择不是材料的原因。"),
    ("no message", "没有这封邮件（可能已被删除），请刷新页面。"),
    ("no item", "没有这个文件（可能已被删除），请刷新页面。"),
    ("could not be read", "这封邮件无法解析，不能分拣；请在邮箱中查看原邮件。"),
    ("changed after", "这封邮件后来又被改过：请先撤销后来的修改。"),
    ("already undone", "这项修改已经撤销过了。"),
    ("not in triage", "这封邮件已经不在待分拣里了（可能别人刚处理过），请刷新页面。"),
]


def staff_text(reason: str) -> str:
    """Returns what a refused action means, in Chinese (never the English reason)."""
    return next(
        (text for key, text in REFUSALS if key in reason), "操作没有完成，请刷新页面后重试。"
    )


async def server_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StorageError):  # raised before routing (sign-in check): same page
        return await storage_error(request, exc)
    log.exception("error on %s %s", request.method, request.url.path, exc_info=exc)
    return _status_page(request, 500, "出了意外错误，已记录在日志中。请稍后重试或联系管理员。")
