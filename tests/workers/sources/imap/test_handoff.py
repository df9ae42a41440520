"""UIDs queued for ingest workers: the poller and the jobs settling them at the same moment.

Real SQLite and PostgreSQL; the interleaving is forced with an open session and a thread.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from storage import mailbox_state as state
from storage.mailbox_state import WAITING_FOR_WORKER, FolderKey, MailboxRecord
from tests.workers.sources.imap.test_client import make_raw
from workers.ingest import Ingestor
from workers.ingest_result import SourceRef
from workers.sources.imap import handoff as queued_mail

INBOX = FolderKey("official", "INBOX", 7)
COPIES = FolderKey("official", "归档", 9)


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request, make_app):
    if request.param == "sqlite":
        return make_app()
    return make_app(database_url=request.getfixturevalue("postgres").create_database())


def test_a_copy_queued_while_its_twin_is_settled_is_not_left_without_a_job(site):
    """The same bytes in a second folder, recorded as the first copy's job settles."""
    raw = make_raw(1)
    sha, _ = site.archive.put_raw(raw)
    assert queued_mail.record(site, INBOX, [(1, sha, None)], acted=True) == [(1, sha, None)]
    assert queued_mail.claim(site, sha, dead_before=datetime.now(UTC)) == "run"
    outcome = Ingestor(site, "test").ingest(raw, SourceRef("imap", INBOX.location, 7, 1))
    assert outcome.status != "error"

    # The first copy's job has read the UIDs queued with these bytes, to settle them ...
    settling = site.db.sessions()
    rows = state.queued_rows(settling, sha)
    # ... when the poller, in the next folder, records a second copy of the same bytes.
    jobs: list = []
    poller = threading.Thread(
        target=lambda: jobs.extend(queued_mail.record(site, COPIES, [(3, sha, None)], acted=True))
    )
    poller.start()
    time.sleep(0.5)  # long enough for the poller to count the first copy as waiting
    for row in rows:
        state.settle_queued(row, status=outcome.status, message_pk=outcome.message_pk, error=None)
    settling.commit()
    settling.close()
    poller.join(timeout=60)

    with site.db.session() as session:
        copy = session.scalar(select(MailboxRecord).where(MailboxRecord.folder == COPIES.folder))
    # either the first job settled the copy, or the copy has a job of its own
    assert copy.status not in WAITING_FOR_WORKER or jobs == [(3, sha, None)]
