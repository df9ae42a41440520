"""Sign-in limits that cannot be turned against staff, kept in the index.

Counting failures by name *or* by client let anyone lock every account with five
made-up names (behind a proxy every client looked the same). The limits now:

- one name from one client: `pair_max` failures in the window, then that pair waits;
- one client, any names: `client_max` failures in the window, then names that never
  signed in from that client wait there (a clerk's own name on her own machine does not);
- one name across clients: only failures from clients that have signed in before count
  (a stranger's made-up or real names never lock a name), `name_max` of them within
  `name_lock` lock the name for that short time, except on clients where it signed in.

A refused try is not recorded, so hammering does not make a lock last longer. The
check and the attempt's row are one transaction under a lock (PostgreSQL: an advisory
lock; SQLite: the write lock), and the row counts as a failure until its password
check succeeds: forty parallel wrong passwords get exactly `pair_max` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, false, func, select, text, update
from sqlalchemy.orm import Session

from storage.locks import advisory_key
from storage.models import utcnow
from storage.web_models import LoginAttempt, User

KEEP_FAILURES = timedelta(days=2)  # failures older than this serve no limit


@dataclass(frozen=True)
class Limits:
    """How many failures each limit allows, and for how long they count."""

    window: timedelta = timedelta(minutes=15)
    pair_max: int = 5
    client_max: int = 20
    name_max: int = 10
    name_lock: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class Reservation:
    """The turn to check one password: the attempt's row and the account it names."""

    attempt_id: int
    user_id: int | None
    password_hash: str | None
    disabled: bool


def reserve(
    session: Session, name: str, client: str, limits: Limits, now: datetime | None = None
) -> Reservation | str:
    """Returns a Reservation, or which limit holds ("pair", "client" or "name").

    The caller commits at once and checks the password after, outside any transaction.
    """
    now = now or utcnow()
    _take_turn(session)
    refused = _limit_reached(session, name, client, limits, now)
    if refused:
        return refused
    session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.ok.is_(False), LoginAttempt.created_at < now - KEEP_FAILURES
        )
    )
    attempt = LoginAttempt(name=name, client=client, ok=False, created_at=now)
    session.add(attempt)
    user = session.scalar(select(User).where(User.name == name))
    session.flush()
    if user is None:
        return Reservation(attempt.id, None, None, False)
    return Reservation(attempt.id, user.id, user.password_hash, user.disabled)


def succeeded(session: Session, attempt_id: int, user_id: int, now: datetime | None = None) -> None:
    """Records that the reserved attempt succeeded and when the user last signed in."""
    now = now or utcnow()
    session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(ok=True))
    session.execute(update(User).where(User.id == user_id).values(last_login_at=now))


def _take_turn(session: Session) -> None:
    """Holds, until commit, the one turn to count and record sign-in attempts."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key("login")})
    else:  # a first write takes SQLite's write lock now, before the counts are read
        session.execute(update(LoginAttempt).where(false()).values(ok=LoginAttempt.ok))


def _failures(session: Session, since: datetime, *where) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.ok.is_(False), LoginAttempt.created_at >= since, *where)
        )
        or 0
    )


def _limit_reached(
    session: Session, name: str, client: str, limits: Limits, now: datetime
) -> str | None:
    if (
        _failures(
            session, now - limits.window, LoginAttempt.name == name, LoginAttempt.client == client
        )
        >= limits.pair_max
    ):
        return "pair"
    signed_in_here = session.scalar(
        select(
            exists().where(
                LoginAttempt.name == name, LoginAttempt.client == client, LoginAttempt.ok.is_(True)
            )
        )
    )
    if signed_in_here:
        return None
    if _failures(session, now - limits.window, LoginAttempt.client == client) >= limits.client_max:
        return "client"
    known_clients = select(LoginAttempt.client).where(LoginAttempt.ok.is_(True))
    if (
        _failures(
            session,
            now - limits.name_lock,
            LoginAttempt.name == name,
            LoginAttempt.client.in_(known_clients),
        )
        >= limits.name_max
    ):
        return "name"
    return None
