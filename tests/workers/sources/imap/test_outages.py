"""The poller through a bad day of the machine, against a real Dovecot: nothing quarantined,
nothing made an error row, nothing lost.

Real faults: an archive on a 1 MiB tmpfs filled to the last byte, and a second SQLite
connection holding `BEGIN IMMEDIATE` past the index's busy timeout.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading

import pytest
from sqlalchemy import event, func, select

from storage import layout
from storage.health import SourceStatus
from storage.mailbox_state import MailboxRecord
from storage.models import IngestError, Message
from tests.support.disks import fill
from tests.workers.sources.imap.test_client import make_raw
from tests.workers.sources.imap.test_poller import message_count, poll, records
from workers.app import open_context
from workers.config import load_config
from workers.ingest import Ingestor
from workers.sources.imap.progress import LogProgress


@pytest.fixture
def site(tmp_path, dovecot, monkeypatch):
    """Returns make(archive_dir=..., **mailbox) -> (ctx, mailbox config) for the running Dovecot."""
    monkeypatch.setenv("MAILROOM_IMAP_PASSWORD", "secret")
    opened = []

    def make(archive_dir=None, min_free_bytes=0, **mailbox):
        table = {"name": "official", "host": "127.0.0.1", "port": dovecot.port,
                 "security": "none", "username": "alice",
                 "password_env": "MAILROOM_IMAP_PASSWORD", "max_attempts": 3, **mailbox}  # fmt: skip
        lines = [
            "[storage]",
            f'archive_dir = "{archive_dir or tmp_path / "archive"}"',
            f'database_url = "sqlite:///{tmp_path / "index.db"}"',
            "[limits]",
            f"min_free_bytes = {min_free_bytes}",
            "[[mailbox]]",
            *(f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in table.items()),
        ]
        path = tmp_path / "config.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        ctx = open_context(load_config(path))
        opened.append(ctx)
        return ctx, ctx.config.mailboxes[0]

    yield make
    for ctx in opened:
        ctx.close()


def counts(ctx) -> dict[str, int]:
    with ctx.db.session() as session:
        return dict(
            session.execute(
                select(MailboxRecord.status, func.count()).group_by(MailboxRecord.status)
            ).all()
        )


def error_rows(ctx) -> int:
    with ctx.db.session() as session:
        return session.scalar(select(func.count(IngestError.id))) + session.scalar(
            select(func.count(Message.id)).where(Message.status == "error")
        )


def test_a_full_disk_keeps_mail_waiting_however_long_and_files_it_all_once_there_is_room(
    site, dovecot, small_disk, caplog
):
    ctx, cfg = site(archive_dir=small_disk)
    dovecot.append_many("INBOX", [make_raw(n) for n in range(6)])
    filler = fill(small_disk)
    for _ in range(5):  # more polls than max_attempts: none of them counts
        summary = poll(ctx, cfg)
        assert summary.fetched == 0  # the poll stops at the first message the disk refuses
        assert summary.errors[0].startswith("INBOX: waiting: cannot write to the archive at ")
    [(_, _, _, status, _)] = records(ctx)
    assert status == "waiting" and message_count(ctx) == 0 and error_rows(ctx) == 0
    with ctx.db.session() as session:
        row = session.scalar(select(MailboxRecord))
        assert (row.attempts, row.reason) == (0, "archive") and "disk is full" in row.error
        health = session.get(SourceStatus, "imap:official")
        assert health.reason == "archive" and health.last_ok_at is None

    filler.unlink()  # space comes back
    summary = poll(ctx, cfg)
    assert (summary.fetched, summary.errors) == (6, [])
    assert message_count(ctx) == 6 and counts(ctx) == {
        "triage": 6
    }  # no unit registry here: all to triage
    assert "quarantined" not in caplog.text


def test_a_failing_message_on_a_full_disk_waits_and_is_quarantined_only_with_its_raw_copy(
    site, dovecot, small_disk, monkeypatch
):
    ctx, cfg = site(archive_dir=small_disk)
    real = Ingestor.ingest

    def ingest(self, raw, source, **kwargs):  # a message that breaks the parser every time
        if b"POISON" in raw:
            raise RuntimeError("the parser chokes on this message")
        return real(self, raw, source, **kwargs)

    monkeypatch.setattr(Ingestor, "ingest", ingest)
    poison = make_raw(0, body="POISON")
    dovecot.append_many("INBOX", [poison, make_raw(1)])
    filler = fill(small_disk)
    for _ in range(4):  # the raw copy cannot be written: no attempt counts
        poll(ctx, cfg)
    assert counts(ctx) == {"waiting": 1}

    filler.unlink()
    statuses = []
    for _ in range(3):
        poll(ctx, cfg)
        statuses.append(counts(ctx))
    assert statuses == [
        {"retry": 1, "triage": 1},
        {"retry": 1, "triage": 1},
        {"quarantined": 1, "triage": 1},
    ]
    raw = ctx.archive.abspath(layout.raw_path(hashlib.sha256(poison).hexdigest()))
    assert raw.read_bytes() == poison  # quarantine keeps the raw copy, always


def test_below_min_free_bytes_nothing_is_fetched_until_there_is_room_again(
    site, dovecot, small_disk, caplog
):
    ctx, cfg = site(archive_dir=small_disk, min_free_bytes=512 * 1024)
    dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * 700 * 1024)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        summary = poll(ctx, cfg)
        assert summary.low_disk and summary.fetched == 0 and records(ctx) == []
    said = [r.getMessage() for r in caplog.records if "not fetching mail" in r.getMessage()]
    assert len(said) == 1  # said once, not at every tick
    assert said[0].startswith(
        f"mailbox official: not fetching mail: the archive disk at {small_disk}"
    )
    with ctx.db.session() as session:
        assert session.get(SourceStatus, "imap:official").reason == "low_disk"

    filler.unlink()
    assert poll(ctx, cfg).fetched == 3 and message_count(ctx) == 3
    with ctx.db.session() as session:
        status = session.get(SourceStatus, "imap:official")
        assert status.reason is None and status.last_ok_at is not None


class LockAfterFirst(LogProgress):
    """Progress that, once the first message is filed, holds the index's write lock from a
    second connection (as another process in BEGIN IMMEDIATE would) until released."""

    def __init__(self, db_path):
        super().__init__()
        self.db_path, self.locker, self.taken = db_path, None, threading.Event()

    def advance(self, count: int = 1) -> None:
        super().advance(count)
        if self.locker is None:
            self.locker = sqlite3.connect(self.db_path, isolation_level=None)
            self.locker.execute("BEGIN IMMEDIATE")
            self.taken.set()

    def release(self) -> None:
        self.locker.execute("ROLLBACK")
        self.locker.close()


def test_an_index_locked_past_the_busy_timeout_makes_no_error_row_and_the_mail_waits(
    site, dovecot, tmp_path, caplog
):
    ctx, cfg = site()
    # The shipped busy timeout is 30 s; 0.3 s makes "longer than it" quick to reach.
    event.listen(ctx.db.engine, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout=300"))
    ctx.db.engine.dispose()
    dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])
    progress = LockAfterFirst(tmp_path / "index.db")
    caplog.set_level(logging.WARNING)
    try:
        summary = poll_with(ctx, cfg, progress)
    finally:
        progress.release()
    assert progress.taken.is_set()
    assert summary.errors and "database is locked" in summary.errors[0]
    assert "UID 2 waits, fetched again on the next poll: cannot use the index" in caplog.text
    assert "Traceback" not in caplog.text
    assert message_count(ctx) == 1 and error_rows(ctx) == 0  # no error row, no "error" UID
    assert counts(ctx) == {"triage": 1}  # the next UID could not even be recorded: not taken

    summary = poll(ctx, cfg)  # the lock is gone: the same process polls again at once
    assert summary.fetched == 2 and summary.errors == []
    assert message_count(ctx) == 3 and counts(ctx) == {"triage": 3} and error_rows(ctx) == 0


def poll_with(ctx, cfg, progress):
    from workers.sources.imap.poller import poll_account

    return poll_account(ctx, cfg, "secret", progress=progress)
