"""Database engine, sessions and migrations for the index."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.orm import Session, sessionmaker

from pipeline.errors import IndexUnavailable

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
# SQLite errors that say the database file or its disk is the problem, not the statement
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    "attempt to write a readonly database",
)


def make_engine(url: str) -> Engine:
    """Returns an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IndexUnavailable(
                f"cannot open the index at {url}: {exc.strerror} — check [storage] database_url"
            ) from None
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "handle_error", _translate_error)
    return engine


def _translate_error(context: ExceptionContext) -> None:
    """Raises IndexUnavailable for a database that cannot be reached, opened or written.

    Called by SQLAlchemy for every DBAPI error; statement errors (a constraint, a
    deadlock to retry) pass through unchanged. The message names the index without
    its password and says which setting to check.
    """
    original = context.original_exception
    reason = (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )
    engine = context.engine
    url = engine.url.render_as_string(hide_password=True) if engine is not None else "?"
    if engine is not None and engine.dialect.name == "sqlite":
        if not any(text in reason.lower() for text in _SQLITE_UNAVAILABLE):
            return
    elif not (context.is_disconnect or context.connection is None):
        return
    raise IndexUnavailable(
        f"cannot use the index at {url}: {reason} — check [storage] database_url "
        "and that the database is running and writable"
    ) from original


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(url: str):
    """Returns the Alembic config for the index at url (alembic is imported only here)."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)


def heads_on_disk() -> set[str]:
    """Returns the newest revision of each migration branch, read from the files."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if found := _REVISION.search(source):
            revisions.add(found.group(1))
        if found := _DOWN_REVISION.search(source):
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", found.group(1)))
    return revisions - parents


def heads_in_database(engine: Engine) -> set[str]:
    """Returns the revisions the index is at (empty for a new index)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect() as connection:
            return {
                row[0]
                for row in connection.execute(text("SELECT version_num FROM alembic_version"))
            }
    except DBAPIError:
        return set()


def migrate(engine: Engine, attempts: int = 5) -> None:
    """Brings the index schema up to the newest migration, one process at a time.

    Several processes opening a fresh index at once (a service and a CLI, two
    workers) would all run the first migration: on PostgreSQL a transaction-scoped
    advisory lock serialises them; on SQLite the loser's DDL fails and rolls back,
    and it tries again once the winner has committed.
    """
    current = heads_on_disk()
    if current and current == heads_in_database(engine):
        return  # already up to date: skip loading Alembic (it costs every command ~0.3 s)
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(7236870523)"))
                cfg.attributes["connection"] = connection
                # "heads": features add their tables on branches of their own from the first
                # revision, so two features written at once never fight over one chain.
                command.upgrade(cfg, "heads")
            return
        except (DBAPIError, IndexUnavailable):  # the other process holds the write lock
            if attempt == attempts or engine.dialect.name == "postgresql":
                raise
            log.info("the index is being migrated by another process; trying again")
            time.sleep(0.5 * attempt)


class Database:
    """The index database: an engine and a session factory."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        migrate(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yields a session that commits on success and rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
