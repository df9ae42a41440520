"""Sign-in limits against a real uvicorn on loopback: raced, sprayed, and never turned on staff.

Clients are told apart by X-Forwarded-For, which the app believes only because the
test lists 127.0.0.1 in [web] trusted_proxies (as behind the nginx of deploy/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import LABELLED
from tests.web.conftest import PASSWORD, csrf_of, live_server, open_site
from workers.app import AppContext


@dataclass
class Site:
    ctx: AppContext
    app: object
    url: str


def serve(folder, **web) -> Iterator[Site]:
    ctx = open_site(folder, [LABELLED / "003-jinzhou-photos-subject-tag.eml"])
    try:
        with live_server(ctx, **web) as (url, app):
            yield Site(ctx, app, url)
    finally:
        ctx.close()


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    yield from serve(
        tmp_path / "site",
        trusted_proxies=("127.0.0.1",),
        login_max_failures=3,
        login_client_max_failures=6,
        login_name_max_failures=4,
        login_name_lock_minutes=2,
        login_hash_concurrency=2,
    )


def attempt(site: Site, name: str, password: str, client: str | None) -> int:
    """Signs in through a fresh browser (its own cookies) from client; returns the status."""
    headers = {"X-Forwarded-For": client} if client else {}
    with httpx.Client(base_url=site.url, headers=headers, timeout=120) as browser:
        token = csrf_of(browser.get("/login").text)
        return browser.post(
            "/login", data={"csrf_token": token, "name": name, "password": password}
        ).status_code


def in_parallel(count: int, call: Callable[[int], int]) -> list[int]:
    """Runs call(i) for i < count in threads released together; returns their results."""
    barrier = threading.Barrier(count)

    def run(i: int) -> int:
        barrier.wait(timeout=60)
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_forty_parallel_wrong_passwords_get_exactly_the_limit_of_checks(site):
    statuses = in_parallel(40, lambda i: attempt(site, "editor", f"wrong {i}", "203.0.113.9"))
    assert statuses.count(401) == 3 and statuses.count(429) == 37
    assert site.app.state.hash_gate.peak <= 2


def test_password_checks_queue_instead_of_running_all_at_once(site):
    statuses = in_parallel(
        24, lambda i: attempt(site, f"someone{i}", "wrong", f"198.51.100.{i + 1}")
    )
    assert statuses == [401] * 24  # every one was checked, none dropped
    assert 1 <= site.app.state.hash_gate.peak <= 2  # [web] login_hash_concurrency


def test_made_up_names_from_one_client_lock_out_no_real_user(site):
    office, stranger = "192.0.2.10", "203.0.113.66"
    assert attempt(site, "viewer", PASSWORD, office) == 303  # she has signed in here before
    statuses = [attempt(site, f"made-up-{i}", "x", office) for i in range(10)]
    assert statuses == [401] * 6 + [429] * 4  # this client is now refused for new names
    assert attempt(site, "editor", PASSWORD, stranger) == 303  # other clients: unaffected
    assert attempt(site, "viewer", PASSWORD, office) == 303  # her own name, where she signs in
    assert attempt(site, "admin", PASSWORD, office) == 429  # a name never used from here waits


def test_strangers_guessing_a_real_name_never_lock_it(site):
    for n in range(5):  # 15 wrong passwords for admin from five clients that never signed in
        assert [attempt(site, "admin", "guess", f"203.0.113.{n + 1}") for _ in range(3)] == [
            401
        ] * 3
    assert attempt(site, "admin", "guess", "203.0.113.1") == 429  # that pair waits
    assert attempt(site, "admin", PASSWORD, "198.51.100.200") == 303  # the name is not locked


def test_guessing_from_clients_that_signed_in_locks_the_name_briefly_elsewhere(site):
    colleagues = ["192.0.2.21", "192.0.2.22"]
    for client in colleagues:
        assert attempt(site, "viewer", PASSWORD, client) == 303
    assert attempt(site, "admin", PASSWORD, "192.0.2.99") == 303  # admin's own machine
    for client in colleagues:
        assert [attempt(site, "admin", "guess", client) for _ in range(2)] == [401, 401]
    with httpx.Client(base_url=site.url, headers={"X-Forwarded-For": "198.51.100.9"}) as b:
        token = csrf_of(b.get("/login").text)
        refused = b.post(
            "/login", data={"csrf_token": token, "name": "admin", "password": PASSWORD}
        )
    assert refused.status_code == 429 and "2 分钟后再试" in refused.text
    assert attempt(site, "admin", PASSWORD, "192.0.2.99") == 303  # not where admin signs in


@pytest.fixture
def untrusting_site(tmp_path) -> Iterator[Site]:
    yield from serve(tmp_path / "plain", login_max_failures=3)


def test_x_forwarded_for_from_an_unlisted_peer_is_ignored(untrusting_site, caplog):
    # a client cannot escape its limit by naming another address
    statuses = [attempt(untrusting_site, "editor", "x", f"198.51.100.{i}") for i in range(1, 6)]
    assert statuses == [401, 401, 401, 429, 429]
    warnings = [r for r in caplog.records if "trusted_proxies" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"  # said once, not per try
