"""Leases: named, expiring rights to do something alone (poll one account, be the scheduler).

A holder renews its lease while it works; a lease whose holder died expires, or is
taken over at once when the holder is known to be gone (see storage.locks.process_gone).
They live in the index database and are taken, renewed and released by conditional
UPDATE/INSERT/DELETE, so they work the same on SQLite and PostgreSQL, with no file locks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import String, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Database
from storage.models import Base


class Lease(Base):
    """A named, expiring right to do something alone (poll one account)."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column()


def acquire_lease(db: Database, name: str, holder: str, ttl: timedelta) -> bool:
    """Return True if holder now has the lease (it was free, expired or already ours)."""
    now = datetime.now(UTC)
    with db.session() as session:
        taken = session.execute(
            update(Lease)
            .where(Lease.name == name, (Lease.holder == holder) | (Lease.expires_at < now))
            .values(holder=holder, expires_at=now + ttl)
        ).rowcount
        if taken:
            return True
    try:
        with db.session() as session:
            session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:  # somebody else holds it (or won the race to insert it)
        return False
    return True


def take_over_lease(db: Database, name: str, old: str, holder: str, ttl: timedelta) -> bool:
    """Return True if the lease still held by old is now holder's (old is known to be dead)."""
    with db.session() as session:
        return bool(
            session.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == old)
                .values(holder=holder, expires_at=datetime.now(UTC) + ttl)
            ).rowcount
        )


def renew_lease(db: Database, name: str, holder: str, ttl: timedelta) -> bool:
    """Return True if the lease is still ours and now runs for ttl more."""
    with db.session() as session:
        return bool(
            session.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == holder)
                .values(expires_at=datetime.now(UTC) + ttl)
            ).rowcount
        )


def release_lease(db: Database, name: str, holder: str) -> None:
    """Give the lease up if holder has it."""
    with db.session() as session:
        session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def lease_holder(db: Database, name: str) -> tuple[str, datetime] | None:
    """Return (holder, expires_at) of a lease that has not expired, or None."""
    with db.session() as session:
        lease = session.get(Lease, name)
        if lease is None or lease.expires_at < datetime.now(UTC):
            return None
        return lease.holder, lease.expires_at
