"""Sign-in, sessions, CSRF, rate limiting and roles."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storage.models import AuditEntry
from storage.web_models import User
from tests.web.conftest import PASSWORD, csrf_of, sign_in

PAGES = [
    "/",
    "/browse",
    "/units",
    "/units/shenyang",
    "/messages/1",
    "/messages/1/raw",
    "/items/1",
    "/items/1/file",
    "/items/1/thumb",
    "/items/1/preview",
    "/items/1/video",
    "/photos",
    "/search?q=视频",
    "/triage",
    "/reports",
    "/reports/tracker.csv",
    "/reports/file/0",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_and_file_redirects_to_sign_in_without_a_session(corpus_site, client_for, path):
    client = client_for(corpus_site, None)
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/triage/assign", "/photos/zip", "/items/1/kind"])
def test_posts_without_a_session_redirect_to_sign_in(corpus_site, client_for, path):
    response = client_for(corpus_site, None).post(path, data={}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_sign_in_returns_to_the_page_asked_for(corpus_site, client_for):
    client = client_for(corpus_site, None)
    page = client.get("/units/shenyang")  # follows the redirect to the sign-in form
    assert "登录" in page.text
    token = csrf_of(page.text)
    response = client.post(
        "/login",
        data={
            "csrf_token": token,
            "name": "viewer",
            "password": PASSWORD,
            "next": "/units/shenyang",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/units/shenyang"


def test_session_cookie_is_secure_httponly_and_samesite(corpus_site, client_for):
    client = client_for(corpus_site, None)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "name": "viewer", "password": PASSWORD},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_wrong_password_is_refused_with_a_chinese_message(corpus_site, client_for):
    client = client_for(corpus_site, None)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf_token": token, "name": "viewer", "password": "nope"}
    )
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.text


def test_sign_in_is_rate_limited_after_repeated_failures(small_site, client_for):
    client = client_for(small_site, None)
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        client.post("/login", data={"csrf_token": token, "name": "editor", "password": "x"})
    # even the right password is refused while the limit holds
    response = client.post(
        "/login", data={"csrf_token": token, "name": "editor", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert "登录失败次数过多" in response.text


def test_sign_in_without_csrf_token_is_forbidden(corpus_site, client_for):
    client = client_for(corpus_site, None)
    client.get("/login")
    response = client.post("/login", data={"name": "viewer", "password": PASSWORD})
    assert response.status_code == 403


def test_sign_in_never_redirects_to_another_site(corpus_site, client_for):
    client = client_for(corpus_site, None)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "csrf_token": token,
            "name": "viewer",
            "password": PASSWORD,
            "next": "//evil.example.com/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_sign_out_ends_the_session_even_for_a_copied_cookie(small_site, client_for):
    client = client_for(small_site, "viewer")
    cookies = dict(client.cookies)
    token = csrf_of(client.get("/").text)
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    thief = client_for(small_site, None)
    thief.cookies.update(cookies)
    assert thief.get("/", follow_redirects=False).status_code == 303


def test_sign_ins_are_in_the_audit_log(small_site, client_for):
    client_for(small_site, "editor")
    with small_site.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "login")).first()
        assert entry.actor == "editor" and entry.created_at is not None


def test_a_viewer_cannot_assign_or_change_kinds(small_site, client_for):
    client = client_for(small_site, "viewer")
    page = client.get("/triage")
    assert "查看者" in page.text and 'action="/triage/assign"' not in page.text
    token = csrf_of(page.text)
    response = client.post(
        "/triage/assign", data={"csrf_token": token, "message": "2", "unit": "shenyang"}
    )
    assert response.status_code == 403
    response = client.post("/items/1/kind", data={"csrf_token": token, "kind": "plan"})
    assert response.status_code == 403


def test_a_form_without_csrf_token_is_forbidden_even_for_an_editor(small_site, client_for):
    client = client_for(small_site, "editor")
    response = client.post("/triage/assign", data={"message": "2", "unit": "shenyang"})
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_new_session_gets_a_fresh_csrf_token(corpus_site, client_for):
    anonymous = client_for(corpus_site, None)
    before = csrf_of(anonymous.get("/login").text)
    sign_in(anonymous, "viewer")
    assert csrf_of(anonymous.get("/").text) != before


def _cli(ctx, *args, stdin: str | None = None):
    from click.testing import CliRunner

    from workers.cli import cli

    result = CliRunner().invoke(cli, ["--config", str(ctx.config.path), *args], input=stdin)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _sign_in_status(client, name: str, password: str = PASSWORD):
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"csrf_token": token, "name": name, "password": password},
        follow_redirects=False,
    )


def test_disabling_a_user_ends_her_sessions_at_once(small_site, client_for):
    first, second = client_for(small_site, "editor"), client_for(small_site, "editor")
    assert first.get("/", follow_redirects=False).status_code == 200
    _cli(small_site, "user", "disable", "editor")
    for client in (first, second):
        response = client.get("/triage", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    refused = _sign_in_status(client_for(small_site, None), "editor")
    assert refused.status_code == 403 and "已停用" in refused.text
    assert "已停用" not in _sign_in_status(client_for(small_site, None), "editor", "wrong").text
    _cli(small_site, "user", "enable", "editor")
    assert _sign_in_status(client_for(small_site, None), "editor").status_code == 303


def test_a_session_of_a_disabled_account_is_refused_even_if_it_survived(small_site, client_for):
    client = client_for(small_site, "viewer")
    with small_site.db.session() as session:  # disabled by a write that ended no session
        session.scalar(select(User).where(User.name == "viewer")).disabled = True
    assert client.get("/", follow_redirects=False).status_code == 303


def test_deleting_or_a_new_password_ends_sessions(small_site, client_for):
    viewer, editor = client_for(small_site, "viewer"), client_for(small_site, "editor")
    _cli(small_site, "user", "delete", "viewer", "--yes")
    _cli(small_site, "user", "passwd", "editor", "--password-stdin", stdin="another pass 9\n")
    for client in (viewer, editor):
        assert client.get("/", follow_redirects=False).status_code == 303
    assert _sign_in_status(client_for(small_site, None), "viewer").status_code == 401
    assert (
        _sign_in_status(client_for(small_site, None), "editor", "another pass 9").status_code == 303
    )


def test_user_list_shows_the_last_sign_in(small_site, client_for):
    def admin_line() -> list[str]:
        lines = _cli(small_site, "user", "list").output.splitlines()
        return next(line for line in lines if line.startswith("admin\t")).split("\t")

    assert admin_line()[1:4] == ["admin 管理员", "启用", "从未登录"]
    client_for(small_site, "admin")
    last = admin_line()[3]
    assert re.fullmatch(r"20\d\d-\d\d-\d\d \d\d:\d\d", last)
