"""The scheduler's lock: at most one `mailroom scheduler` acts, whatever machine it is on.

On PostgreSQL it is a session advisory lock (`pg_try_advisory_lock`) held on a
connection of its own: the server releases it the moment that process or its
machine dies, so a standby scheduler takes over at once and nothing can leave a
stale lock behind. SQLite has no such thing, so there it is a row of the lease
table (storage/leases.py) that the holder renews and that expires.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage import leases
from storage.db import Database

log = logging.getLogger(__name__)
LEASE_TTL = timedelta(seconds=90)


def advisory_key(name: str) -> int:
    """Returns the signed 64-bit advisory lock key for a name (stable across machines)."""
    return int.from_bytes(
        hashlib.sha256(f"mailroom:{name}".encode()).digest()[:8], "big", signed=True
    )


def process_gone(host: str, pid: str) -> bool | None:
    """Return whether process pid of host has ended; None when this machine cannot tell.

    Lock holders, leases and jobs name their process "host:pid"; only on that host can
    a dead holder be told from a live one (elsewhere, only an expiry can).
    """
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    """True for a process that has exited but was not reaped (containers whose init never
    reaps orphans keep them), which os.kill(pid, 0) still finds."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


class SingletonLock:
    """A named lock that one process in the whole deployment can hold."""

    def __init__(self, db: Database, name: str = "scheduler"):
        self.db, self.name = db, name
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.postgres = db.engine.dialect.name == "postgresql"
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        """Returns True if this process now holds the lock (False: another one does)."""
        if not self.postgres:
            return leases.acquire_lease(self.db, f"lock:{self.name}", self.holder, LEASE_TTL)
        if self._conn is None:
            self._conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = self._conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(self.name)}
        ).scalar()
        if not got:
            self._close()
        return bool(got)

    def still_held(self) -> bool:
        """Returns True while the lock is ours (renews the SQLite lease)."""
        if not self.postgres:
            return leases.renew_lease(self.db, f"lock:{self.name}", self.holder, LEASE_TTL)
        if self._conn is None:
            return False
        try:  # a session lock lasts as long as its connection: alive means held
            return self._conn.execute(text("SELECT 1")).scalar() == 1
        except Exception:  # the connection broke: the server has already released the lock
            log.exception("lost the database connection that holds the %s lock", self.name)
            self._close()
            return False

    def release(self) -> None:
        if not self.postgres:
            leases.release_lease(self.db, f"lock:{self.name}", self.holder)
            return
        if self._conn is not None:
            try:
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(self.name)}
                )
            finally:
                self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def current_holder(self) -> str | None:
        """Returns who holds the SQLite lease (PostgreSQL: the lock's backend pid), or None."""
        if not self.postgres:
            found = leases.lease_holder(self.db, f"lock:{self.name}")
            return found[0] if found else None
        key = advisory_key(self.name) & 0xFFFFFFFFFFFFFFFF
        with self.db.engine.connect() as conn:
            # a bigint advisory key shows in pg_locks as classid (high half), objid (low half)
            pid = conn.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND objsubid = 1 AND classid::bigint = :high AND objid::bigint = :low"
                ),
                {"high": key >> 32, "low": key & 0xFFFFFFFF},
            ).scalar()
        return f"database backend {pid}" if pid else None


@contextmanager
def migration_lock(db: Database) -> Iterator[None]:
    """Holds a blocking PostgreSQL advisory lock while the block runs (migrations).

    Several workers started at once on a fresh database would otherwise all run the
    first migration and all but one fail on the alembic_version table.
    """
    if db.engine.dialect.name != "postgresql":
        yield
        return
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": advisory_key("migrate")})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key("migrate")})
