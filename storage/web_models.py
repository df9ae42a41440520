"""Web UI accounts: users with roles, server-side sessions and sign-in attempts.

Passwords are stored as argon2id hashes (argon2-cffi). A session row is what a
signed cookie points at, so signing out or a password change ends it at once.
Sign-in attempts are kept to rate-limit guessing across processes and restarts
(storage/signin.py). A disabled account's sessions end when it is disabled, and a
session of a disabled account is refused even if one were started meanwhile.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ForeignKey, Index, Integer, String, delete, false, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from storage.models import Base, utcnow

ROLES = ("viewer", "editor", "admin")
_HASHER = PasswordHasher()


class User(Base):
    """A person who may sign in to the web UI."""

    __tablename__ = "web_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="viewer")  # viewer | editor | admin
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def can_edit(self) -> bool:
        return self.role in ("editor", "admin")


class WebSession(Base):
    """A signed-in browser: the cookie carries its token, the row keeps only its hash."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """One sign-in attempt, by name and client address, and whether it succeeded.

    The row is written before the password is checked (storage/signin.py) and counts
    as a failure until the check succeeds, so parallel tries cannot all slip under a limit.
    """

    __tablename__ = "web_login_attempts"
    __table_args__ = (
        Index("ix_web_login_attempts_at", "created_at"),
        Index("ix_web_login_attempts_name_client", "name", "client", "ok"),
        Index("ix_web_login_attempts_client", "client", "ok"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    client: Mapped[str] = mapped_column(String(64), default="")
    ok: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def hash_password(password: str) -> str:
    """Returns the argon2id hash of a password."""
    return _HASHER.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """True when password matches the user's hash (a missing user still costs a hash)."""
    return verify_password(user.password_hash if user else None, password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when password matches the hash; None (no such account) costs a hash all the same."""
    if password_hash is None:
        _HASHER.hash(password)  # same time whether or not the name exists
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, lifetime: timedelta) -> str:
    """Records a new sign-in for user; returns the token the cookie carries."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(token_hash=_token_hash(token), user_id=user.id, expires_at=utcnow() + lifetime)
    )
    return token


def session_user(session: Session, token: str | None) -> User | None:
    """Returns the user of a live session token, or None when unknown, expired or disabled."""
    if not token:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _token_hash(token)))
    if row is None or row.expires_at <= utcnow() or row.user.disabled:
        return None
    return row.user


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


def set_password(session: Session, user: User, password: str) -> None:
    """Changes a password and ends every session of that user."""
    user.password_hash = hash_password(password)
    end_sessions(session, user)


def end_sessions(session: Session, user: User) -> int:
    """Ends every session of user at once (password change, disabling); returns how many."""
    return session.execute(delete(WebSession).where(WebSession.user_id == user.id)).rowcount


def set_disabled(session: Session, user: User, disabled: bool) -> int:
    """Disables (ending every session now) or enables an account; returns sessions ended."""
    user.disabled = disabled
    return end_sessions(session, user) if disabled else 0


def delete_user(session: Session, user: User) -> None:
    """Removes an account and its sessions; audit entries keep the name as written."""
    end_sessions(session, user)
    session.delete(user)
