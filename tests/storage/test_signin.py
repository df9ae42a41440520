"""Sign-in turns in the index: counted and recorded atomically, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage import signin
from storage.models import utcnow
from storage.web_models import LoginAttempt, User, hash_password

pytestmark = pytest.mark.both_databases
LIMITS = signin.Limits(pair_max=5, client_max=8, name_max=3, name_lock=timedelta(minutes=2))


def reserve(app, name: str, client: str, now=None):
    with app.db.session() as session:
        return signin.reserve(session, name, client, LIMITS, now)


def test_parallel_turns_never_exceed_the_limit(app):
    barrier = threading.Barrier(16)

    def one(_):
        barrier.wait(timeout=30)
        return reserve(app, "wang", "203.0.113.1")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(16)))
    granted = [r for r in results if isinstance(r, signin.Reservation)]
    assert len(granted) == 5 and results.count("pair") == 11
    with app.db.session() as session:  # refused turns leave no row: they cannot extend a lock
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 5


def test_a_turn_names_the_account_and_success_is_recorded(app):
    with app.db.session() as session:
        session.add(User(name="li", role="viewer", password_hash=hash_password("long pass 1")))
    turn = reserve(app, "li", "192.0.2.1")
    assert turn.user_id is not None and turn.password_hash.startswith("$argon2id$")
    with app.db.session() as session:
        signin.succeeded(session, turn.attempt_id, turn.user_id)
    with app.db.session() as session:
        assert session.scalar(select(User).where(User.name == "li")).last_login_at is not None
    for n in range(8):  # the client's limit, with other names
        assert isinstance(reserve(app, f"x{n}", "192.0.2.1"), signin.Reservation)
    assert reserve(app, "nobody", "192.0.2.1") == "client"
    assert isinstance(reserve(app, "li", "192.0.2.1"), signin.Reservation)  # her own client


def test_failures_stop_counting_after_the_window(app):
    long_ago = utcnow() - timedelta(minutes=16)
    for _ in range(5):
        reserve(app, "zhao", "198.51.100.1", now=long_ago)
    assert reserve(app, "zhao", "198.51.100.1", now=long_ago) == "pair"
    assert isinstance(reserve(app, "zhao", "198.51.100.1"), signin.Reservation)
