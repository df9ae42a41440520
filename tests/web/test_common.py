"""Odd input in paths, query strings and forms is a 400 or 404 page, never a 500, always with headers."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from tests.web.conftest import TestClient, csrf_of, sign_in
from web.app import create_app

HUGE = str(2**64)

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def assert_safe_error_page(response, status: int) -> None:
    assert response.status_code == status, response.text[:300]
    for name, part in SECURITY_HEADERS.items():
        assert part in response.headers.get(name, ""), name
    assert "<h1>" in response.text and "Traceback" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/browse?day=9999-12-31",
        "/browse?day=0001-01-01",
        "/photos?day=9999-12-31",
        "/search?q=活动&from=0001-01-01",
        "/search?q=活动&to=9999-12-31",
        "/browse?day=2023-5-1",
        "/browse?day=２０２３-05-16",
        "/browse?page=²",
        "/browse?page=0",
        f"/photos?page={HUGE}",
    ],
)
def test_odd_dates_and_pages_are_400_with_a_chinese_reason(corpus_site, client_for, path):
    response = client_for(corpus_site).get(path)
    assert_safe_error_page(response, 400)
    assert "日期" in response.text or "页码" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/items/²",
        "/items/1²",
        "/messages/٣",
        f"/items/{HUGE}",
        f"/items/{HUGE}/file",
        f"/messages/{HUGE}/raw",
        f"/reports/file/{HUGE}",
    ],
)
def test_odd_ids_in_the_path_are_404(corpus_site, client_for, path):
    assert_safe_error_page(client_for(corpus_site).get(path), 404)


def test_odd_ids_in_forms_are_400_or_404(small_site, client_for):
    client = client_for(small_site, "editor")
    token = csrf_of(client.get("/triage").text)
    for field in ("²", "1²", HUGE, "-1", "0x10"):
        response = client.post("/photos/zip", data={"csrf_token": token, "item": [field]})
        assert_safe_error_page(response, 400)
        response = client.post(
            "/triage/assign", data={"csrf_token": token, "message": field, "unit": "dalian"}
        )
        assert_safe_error_page(response, 400)
    response = client.post(
        "/triage/assign",
        data={"csrf_token": token, "message": "1", "unit": "dalian", "kind_²": "plan"},
    )
    assert_safe_error_page(response, 400)
    response = client.post(f"/items/{HUGE}/kind", data={"csrf_token": token, "kind": "plan"})
    assert_safe_error_page(response, 404)
    response = client.post("/items/999999/kind", data={"csrf_token": token, "kind": "plan"})
    assert_safe_error_page(response, 404)
    response = client.post(f"/messages/{HUGE}/material", data={"csrf_token": token})
    assert_safe_error_page(response, 404)


def test_an_unexpected_error_page_carries_the_security_headers(small_site):
    app = create_app(small_site)
    app.router.routes.append(Route("/boom", _boom))  # a bug, as any route could have
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        response = sign_in(client, "viewer").get("/boom")
    assert_safe_error_page(response, 500)
    assert "出了意外错误" in response.text and "ZeroDivisionError" not in response.text


def _boom(request):
    return 1 / 0
