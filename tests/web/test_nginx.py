"""Behind a real nginx (deploy/nginx/mailroom.conf's locations): files sent by nginx, with Range."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from storage.models import AuditEntry, Item
from tests.conftest import LABELLED
from tests.servers.nginx import NginxServer, free_port
from tests.web.conftest import PASSWORD, attach_web_video, csrf_of, open_site
from web.app import create_app
from web.security import FILE_CSP
from web.server import web_server
from workers.app import AppContext
from workers.config import build_config

REPORT = "reports/daily/2023-05-20/每日报告-2023-05-20.txt"


@dataclass
class Proxied:
    ctx: AppContext
    nginx: NginxServer
    video_item_id: int


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[Proxied]:
    """A site with a video and a saved report, served by uvicorn behind nginx on loopback."""
    folder = tmp_path_factory.mktemp("nginx-site")
    ctx = open_site(folder, [LABELLED / "013-shenyang-video-bare-city.eml"])
    video_item_id = attach_web_video(ctx, folder)
    ctx.archive.put_bytes(REPORT, "昨日收到 3 封邮件。\n".encode())
    base = build_config({}, None, ctx.config.base_dir).web
    settings = replace(
        base,
        cookie_secure=False,
        port=free_port(),
        accel_redirect="/_mailroom_archive/",
        trusted_proxies=("127.0.0.1",),  # as deploy/config.multi-machine.toml says
    )
    server = web_server(create_app(ctx, settings), "127.0.0.1", settings.port, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        nginx = NginxServer(settings.port, ctx.config.storage.archive_dir).start()
    except RuntimeError as exc:
        server.should_exit = True
        pytest.fail(str(exc))
    yield Proxied(ctx, nginx, video_item_id)
    nginx.stop()
    server.should_exit = True
    thread.join(10)
    ctx.close()


@pytest.fixture
def browser(proxied) -> Iterator[httpx.Client]:
    """An HTTP client talking to nginx, signed in as a viewer."""
    with httpx.Client(base_url=proxied.nginx.url, timeout=30) as client:
        token = csrf_of(client.get("/login").text)
        signed = client.post(
            "/login",
            data={"csrf_token": token, "name": "viewer", "password": PASSWORD, "next": "/"},
        )
        assert signed.status_code == 303, signed.text
        yield client


def archive_bytes(proxied: Proxied, rel: str) -> bytes:
    return Path(proxied.ctx.archive.abspath(rel)).read_bytes()


def test_video_range_through_nginx_is_206_with_those_bytes(proxied, browser):
    with proxied.ctx.db.session() as session:
        rel = session.get(Item, proxied.video_item_id).web_video
    data = archive_bytes(proxied, rel)
    url = f"/items/{proxied.video_item_id}/video"

    part = browser.get(url, headers={"Range": "bytes=100-299"})
    assert part.status_code == 206, proxied.nginx.error_log()
    assert part.content == data[100:300]
    assert part.headers["content-range"] == f"bytes 100-299/{len(data)}"
    assert part.headers["content-type"] == "video/mp4"
    assert part.headers["content-disposition"].startswith("inline;")
    assert part.headers["content-security-policy"] == FILE_CSP
    assert part.headers["x-content-type-options"] == "nosniff"
    assert "x-accel-redirect" not in part.headers  # nginx keeps the internal path to itself
    # nginx's own ETag ("<mtime hex>-<size hex>"; the app's is an md5): nginx sent the bytes
    assert re.fullmatch(rf'"[0-9a-f]+-{len(data):x}"', part.headers["etag"])

    whole = browser.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"


def test_chinese_report_name_through_nginx(proxied, browser):
    response = browser.get("/reports/file/0")
    assert response.status_code == 200, proxied.nginx.error_log()
    assert response.content == "昨日收到 3 封邮件。\n".encode()
    assert "filename*=UTF-8''%E6%AF%8F%E6%97%A5" in response.headers["content-disposition"]


def test_original_download_through_nginx(proxied, browser):
    with proxied.ctx.db.session() as session:
        item = session.scalars(select(Item).where(Item.media == "video")).first()
    response = browser.get(f"/items/{item.id}/file")
    assert response.status_code == 200 and response.content == archive_bytes(
        proxied, item.blob_path
    )


def test_the_internal_location_is_not_reachable_from_outside(proxied, browser):
    with proxied.ctx.db.session() as session:
        rel = session.get(Item, proxied.video_item_id).web_video
    assert browser.get(f"/_mailroom_archive/{rel}").status_code == 404


def test_without_sign_in_nginx_sends_no_file(proxied):
    with httpx.Client(base_url=proxied.nginx.url) as stranger:
        response = stranger.get(f"/items/{proxied.video_item_id}/video")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert response.content == b""


HSTS = "max-age=31536000"


def test_pages_and_files_carry_hsts_and_no_store_and_no_server_version(proxied, browser):
    page = browser.get("/")
    video = browser.get(f"/items/{proxied.video_item_id}/video", headers={"Range": "bytes=0-99"})
    assert page.status_code == 200 and video.status_code == 206, proxied.nginx.error_log()
    for response in (page, video):
        assert response.headers["strict-transport-security"] == HSTS
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers.get("server", "") in ("", "nginx")  # no version, no uvicorn


def test_nginx_replaces_a_forwarded_for_the_client_made_up(proxied):
    with httpx.Client(base_url=proxied.nginx.url, timeout=30) as client:
        client.headers["X-Forwarded-For"] = "203.0.113.77"
        token = csrf_of(client.get("/login").text)
        signed = client.post(
            "/login", data={"csrf_token": token, "name": "editor", "password": PASSWORD}
        )
        assert signed.status_code == 303, signed.text
    with proxied.ctx.db.session() as session:
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "login", AuditEntry.actor == "editor")
            .order_by(AuditEntry.id.desc())
        ).first()
    assert entry.data["client"] == "127.0.0.1"  # nginx's $remote_addr, not the claim
