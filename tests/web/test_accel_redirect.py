"""[web] accel_redirect: file answers name the archive file for nginx instead of carrying it."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from urllib.parse import quote

import pytest
from sqlalchemy import select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from pipeline.errors import ConfigError
from storage.models import Item
from tests.web.conftest import sign_in
from web.app import create_app
from web.files import accel_redirect_uri
from web.security import FILE_CSP
from workers.config import build_config

PREFIX = "/_mailroom_archive/"
REPORT = "reports/daily/2023-05-20/每日报告-2023-05-20.txt"


@pytest.fixture
def accel_client() -> Iterator[Callable[..., TestClient]]:
    """Returns a factory: accel_client(ctx, role) gives a client of an app with accel_redirect on."""
    clients: list[TestClient] = []

    def factory(ctx, role: str | None = "viewer") -> TestClient:
        base = ctx.config.web
        app = create_app(ctx, replace(base, accel_redirect=PREFIX))
        client = TestClient(app, base_url="https://testserver")
        clients.append(client)
        return sign_in(client, role) if role else client

    yield factory
    for client in clients:
        client.close()


def web_video_of(ctx) -> str:
    with ctx.db.session() as session:
        return session.get(Item, ctx.video_item_id).web_video


def test_video_is_handed_to_nginx_by_its_path_in_the_archive(corpus_site, accel_client):
    client = accel_client(corpus_site)
    response = client.get(
        f"/items/{corpus_site.video_item_id}/video", headers={"Range": "bytes=100-299"}
    )
    assert response.status_code == 200 and response.content == b""  # nginx answers the Range
    assert response.headers["x-accel-redirect"] == PREFIX + web_video_of(corpus_site)
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["content-disposition"].startswith("inline;")
    assert response.headers["content-security-policy"] == FILE_CSP
    assert "content-range" not in response.headers


def test_chinese_path_is_percent_encoded_and_the_download_keeps_its_name(small_site, accel_client):
    small_site.archive.put_bytes(REPORT, "昨日收到 3 封邮件。\n".encode())
    response = accel_client(small_site).get("/reports/file/0")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["x-accel-redirect"] == (
        "/_mailroom_archive/reports/daily/2023-05-20/"
        "%E6%AF%8F%E6%97%A5%E6%8A%A5%E5%91%8A-2023-05-20.txt"
    )
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == (
        'attachment; filename="____-2023-05-20.txt"; '
        "filename*=UTF-8''%E6%AF%8F%E6%97%A5%E6%8A%A5%E5%91%8A-2023-05-20.txt"
    )


def test_original_download_names_the_object_and_keeps_the_chinese_name(corpus_site, accel_client):
    with corpus_site.db.session() as session:
        item = session.scalars(select(Item).where(Item.name.like("%.docx"))).first()
    response = accel_client(corpus_site).get(f"/items/{item.id}/file")
    assert response.headers["x-accel-redirect"] == PREFIX + item.blob_path
    assert (
        f"filename*=UTF-8''{quote(item.name, safe='')}" in response.headers["content-disposition"]
    )
    assert response.headers["content-type"] == "application/octet-stream"


def test_without_sign_in_there_is_no_file_and_no_redirect_header(corpus_site, accel_client):
    client = accel_client(corpus_site, role=None)
    response = client.get(f"/items/{corpus_site.video_item_id}/video", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert "x-accel-redirect" not in response.headers


def test_a_file_missing_from_the_archive_is_404_not_handed_over(small_site, accel_client):
    with small_site.db.session() as session:
        item = session.scalars(select(Item).where(Item.blob_path.is_not(None))).first()
        item.thumbnail = ".derived/00/gone/thumb.jpg"
    response = accel_client(small_site).get(f"/items/{item.id}/thumb")
    assert response.status_code == 404
    assert "x-accel-redirect" not in response.headers


def test_off_by_default_the_app_sends_the_bytes_and_answers_range(corpus_site, client_for):
    client = client_for(corpus_site)
    response = client.get(
        f"/items/{corpus_site.video_item_id}/video", headers={"Range": "bytes=100-299"}
    )
    assert response.status_code == 206 and len(response.content) == 200
    assert "x-accel-redirect" not in response.headers


def test_names_nginx_would_decode_twice_are_streamed_by_the_app():
    assert accel_redirect_uri(PREFIX, "reports/a b/报告.txt") == (
        "/_mailroom_archive/reports/a%20b/%E6%8A%A5%E5%91%8A.txt"
    )
    assert accel_redirect_uri(PREFIX, "reports/100%.txt") is None
    assert accel_redirect_uri(PREFIX, "reports/why?.txt") is None


@pytest.mark.parametrize(
    "value", ["_mailroom_archive/", "/_mailroom_archive", "/a//b/", "/../", "/档案/", 5]
)
def test_a_bad_accel_redirect_names_the_key(tmp_path, value):
    with pytest.raises(ConfigError, match=r"web\.accel_redirect"):
        build_config({"web": {"accel_redirect": value}}, None, tmp_path)


def test_accel_redirect_is_refused_with_the_s3_archive(tmp_path):
    raw = {"web": {"accel_redirect": PREFIX}, "storage": {"backend": "s3"}}
    with pytest.raises(ConfigError, match=r"web\.accel_redirect.*backend = \"local\""):
        build_config(raw, None, tmp_path)


def test_default_is_off_and_a_good_prefix_is_kept(tmp_path):
    assert build_config({}, None, tmp_path).web.accel_redirect == ""
    settings = build_config({"web": {"accel_redirect": PREFIX}}, None, tmp_path).web
    assert settings.accel_redirect == PREFIX
