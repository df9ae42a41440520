"""The job functions against a machine that fails: an ingest job on a full disk hands its
message back to the queue, uncounted, as long as the outage lasts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.mailbox_state import FolderKey, MailboxRecord
from tests.support import media_files as files
from tests.support.disks import fill, tmpfs
from workers.jobs.runners import run_ingest
from workers.sources.imap import handoff

KEY = FolderKey("official", "INBOX", 7)


@pytest.fixture
def site(tmp_path, make_app):
    """Returns (ctx, its archive disk) for a site whose archive is a 2 MiB tmpfs."""
    with tmpfs(tmp_path / "site" / "archive", "2m") as mount:
        yield make_app(folder=tmp_path / "site"), mount


def test_an_ingest_job_on_a_full_disk_puts_its_uid_back_in_the_queue_uncounted(site):
    ctx, disk = site
    raw = files.message("大连市活动周照片", [("合影.jpg", files.jpeg(), "image/jpeg")])
    sha, _ = ctx.archive.put_raw(raw)  # stored by the poller before the disk filled
    handoff.record(ctx, KEY, [(3, sha, None)], acted=True)
    filler = fill(disk)
    for _ in range(5):  # more than max_attempts (3): none counts
        outcome = run_ingest(ctx, sha, "imap", KEY.location, KEY.uidvalidity, 3)
        assert outcome.status == "waiting" and "disk is full" in outcome.error
    with ctx.db.session() as session:
        row = session.scalar(select(MailboxRecord))
        assert (row.status, row.attempts, row.reason) == ("queued", 0, "archive")

    filler.unlink()
    outcome = run_ingest(ctx, sha, "imap", KEY.location, KEY.uidvalidity, 3)
    assert outcome.status in ("filed", "triage")
    with ctx.db.session() as session:
        row = session.scalar(select(MailboxRecord))
        assert row.status == outcome.status and row.message_pk == outcome.message_pk
