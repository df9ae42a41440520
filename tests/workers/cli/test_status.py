"""`mailroom status`: one screen saying how polls went, what waits and why, and the free disk."""

from __future__ import annotations

from click.testing import CliRunner

from storage import health
from storage import mailbox_state as state
from storage.mailbox_state import FolderKey
from workers.cli import cli


def status(app) -> str:
    result = CliRunner().invoke(
        cli, ["status"], env={"MAILROOM_CONFIG": str(app.config.path)}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_a_fresh_site_has_nothing_waiting_and_shows_its_disks(app):
    out = status(app)
    assert "mail sources:\n  (not polled yet)" in out
    assert "mail not filed yet:\n  none" in out
    assert "jobs after filing: 0 pending" in out
    assert f"archive disk {app.config.storage.archive_dir}: " in out and "index disk " in out


def test_waiting_mail_and_a_failing_source_are_shown_with_the_reason(app):
    key = FolderKey("official", "INBOX", 7)
    with app.db.session() as session:
        state.record_waiting(
            session, key, 5, raw_sha256="a" * 64, reason=state.INDEX_DOWN,
            error="cannot use the index at sqlite:///x.db: database is locked",
        )  # fmt: skip
    health.record_poll(app.db, "imap:official", fetched=0, problem="database is locked",
                       reason=state.INDEX_DOWN)  # fmt: skip
    health.record_poll(app.db, "folder:inbox", fetched=2)
    out = status(app)
    assert (
        "  imap:official: polled " in out and "NOT OK: database is locked (never succeeded)" in out
    )
    assert "  folder:inbox: polled " in out and "ok, 2 taken (last success " in out
    assert "  waiting 1: the index is locked or cannot be reached; e.g. cannot use the index" in out
    assert "  oldest waiting since " in out
