"""IMAP mail filed by `mailroom worker` processes: real Dovecot, Redis, PostgreSQL.

With a broker the poller only stores each fetched message and queues its
ingestion; the worker files it and settles the UID record. Exactly once still
holds, and the after-action waits until the message is in the index.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import func, select

from storage.mailbox_state import INGESTING, QUARANTINED, QUEUED, WAITING_FOR_WORKER, MailboxRecord
from storage.models import IngestRun, Message
from tests.conftest import broker_jobs
from tests.workers.sources.imap.test_client import make_raw
from workers.jobs.runners import resubmit_stale, run_ingest
from workers.sources.imap import handoff as queued_mail
from workers.sources.imap.poller import PollSummary, poll_account


@pytest.fixture
def imap_site(make_site, redis_server, dovecot, monkeypatch):
    """Return a function (**mailbox) -> (site, broker URL) polling the test Dovecot."""
    monkeypatch.setenv("MAILROOM_IMAP_PASSWORD", "secret")

    def make(**mailbox):
        table = {
            "name": "official", "host": "127.0.0.1", "port": dovecot.port, "security": "none",
            "username": "alice", "password_env": "MAILROOM_IMAP_PASSWORD",
            "timeout_seconds": 10, **mailbox,
        }  # fmt: skip
        lines = ["[[mailbox]]"] + [
            f"{k} = {v}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in table.items()
        ]
        url = redis_server.url()
        return make_site(broker_url=url, queue_extra="\n".join(lines)), url

    return make


def poll(site) -> PollSummary:
    """One poll as `mailroom scheduler` does it: the queue configured from [queue]."""
    ctx = site.context()
    try:
        with broker_jobs(ctx):
            return poll_account(ctx, ctx.config.mailboxes[0], "secret")
    finally:
        ctx.close()


def records(site) -> list[MailboxRecord]:
    ctx = site.context()
    try:
        with ctx.db.session() as session:
            return list(session.scalars(select(MailboxRecord).order_by(MailboxRecord.uid)))
    finally:
        ctx.close()


def filed(site) -> list[tuple[int, str, str, str]]:
    """Return (pk, status, received_source, run source) of every message in the index."""
    ctx = site.context()
    try:
        with ctx.db.session() as session:
            return session.execute(
                select(Message.id, Message.status, Message.received_source, IngestRun.source)
                .join(IngestRun, IngestRun.id == Message.run_id)
                .order_by(Message.id)
            ).all()
    finally:
        ctx.close()


def wait_settled(site, uids: int, timeout: float = 120) -> list[MailboxRecord]:
    """Wait until `uids` records exist and none is still queued; return them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = records(site)
        if len(rows) == uids and all(r.status not in WAITING_FOR_WORKER for r in rows):
            return rows
        time.sleep(0.3)
    raise AssertionError(f"still queued after {timeout}s: {rows}\n{site.worker_logs()}")


def wait_for_empty_queue(broker: redis.Redis, timeout: float = 60) -> None:
    """Wait until no ingest task is waiting or running (acks_late: running ones are unacked)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if broker.llen("ingest") == 0 and broker.hlen("unacked") == 0:
            return
        time.sleep(0.3)
    raise AssertionError("ingest tasks still waiting or running")


def seen(dovecot) -> list[bool]:
    return [b"\\Seen" in flags for _, flags in sorted(dovecot.flags("INBOX").items())]


def test_a_worker_files_every_polled_message_once_and_settles_its_uid(imap_site, dovecot):
    site, _ = imap_site()
    site.start_worker("ingest")
    site.wait_ready()
    uids = dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])

    first = poll(site)
    assert (first.fetched, first.count("queued"), first.errors) == (3, 3, [])
    assert "3 queued" in first.text()
    rows = wait_settled(site, uids=3)

    messages = filed(site)
    assert len(messages) == 3
    assert all(run.startswith("queue:imap:official/INBOX") for *_, run in messages)  # the worker
    by_pk = {pk: status for pk, status, *_ in messages}
    assert [r.uid for r in rows] == uids
    assert sorted(r.message_pk for r in rows) == sorted(by_pk)
    assert all(r.status == by_pk[r.message_pk] and r.attempts == 1 for r in rows)
    assert all(source == "imap" for _, _, source, _ in messages)  # INTERNALDATE reached it
    second = poll(site)
    assert (second.fetched, second.errors) == (0, [])
    assert len(filed(site)) == 3


def test_after_action_waits_until_the_worker_has_filed_the_message(imap_site, dovecot):
    site, _ = imap_site(after="seen")
    dovecot.append_many("INBOX", [make_raw(n) for n in range(2)])

    assert poll(site).count("queued") == 2  # no worker yet: the jobs wait in Redis
    assert seen(dovecot) == [False, False]
    assert poll(site).fetched == 0  # queued UIDs are not fetched again...
    assert seen(dovecot) == [False, False]  # ...and not marked while unfiled
    assert [r.after_done for r in records(site)] == [False, False]

    site.start_worker("ingest")
    wait_settled(site, uids=2)
    assert seen(dovecot) == [False, False]  # marked by the poller, on its next tick
    assert poll(site).fetched == 0
    assert seen(dovecot) == [True, True]
    assert [r.after_done for r in records(site)] == [True, True]
    assert len(filed(site)) == 2


def test_jobs_the_broker_lost_are_sent_again_and_filed_once(imap_site, dovecot):
    site, url = imap_site()
    dovecot.append_many("INBOX", [make_raw(n) for n in range(2)])
    assert poll(site).count("queued") == 2
    broker = redis.Redis.from_url(url)
    assert broker.llen("ingest") == 2
    broker.flushdb()  # the broker loses its data before any worker ran the jobs

    ctx = site.context()
    try:
        with broker_jobs(ctx):
            settings = ctx.config.queue
            assert resubmit_stale(ctx) == 0  # queued just now: not stale yet
            later = datetime.now(UTC) + timedelta(minutes=settings.resubmit_after_minutes + 1)
            assert resubmit_stale(ctx, now=later) == 2
            assert resubmit_stale(ctx, now=later) == 0  # sent recently
            ctx.jobs.submit_ingest(*queued_mail.stale(ctx, later, datetime.now(UTC))[0])
            assert broker.llen("ingest") == 3  # one message's job twice: it must run harmlessly
    finally:
        ctx.close()

    site.start_worker("ingest")
    rows = wait_settled(site, uids=2)
    wait_for_empty_queue(broker)  # the second copy of the job has run too
    messages = filed(site)
    assert len(messages) == 2
    assert [r.attempts for r in records(site)] == [1, 1]
    assert sorted(r.message_pk for r in rows) == [pk for pk, *_ in messages]
    assert all(source == "imap" for _, _, source, _ in messages)  # INTERNALDATE kept in the row


def test_the_same_message_under_two_uids_is_filed_once(imap_site, dovecot):
    site, url = imap_site()
    uids = dovecot.append_many("INBOX", [make_raw(7), make_raw(7)])
    summary = poll(site)
    assert summary.count("queued") == 2
    assert redis.Redis.from_url(url).llen("ingest") == 1  # one job settles both UIDs

    site.start_worker("ingest")
    rows = wait_settled(site, uids=2)
    messages = filed(site)
    assert len(messages) == 1
    assert [r.uid for r in rows] == uids
    assert [r.status for r in rows] == [messages[0][1], "duplicate"]
    assert {r.message_pk for r in rows} == {messages[0][0]}
    assert poll(site).fetched == 0
    ctx = site.context()
    try:
        with ctx.db.session() as session:
            assert session.scalar(select(func.count(Message.id))) == 1
    finally:
        ctx.close()


def test_server_dropped_mid_batch_with_a_broker_loses_and_doubles_nothing(imap_site, dovecot):
    from tests.workers.sources.imap.test_poller import KillServerAfter

    site, _ = imap_site(batch_size=5)
    dovecot.append_many("INBOX", [make_raw(n) for n in range(20)])
    ctx = site.context()
    try:
        with broker_jobs(ctx):
            broken = poll_account(
                ctx, ctx.config.mailboxes[0], "secret", progress=KillServerAfter(dovecot, 7)
            )
    finally:
        ctx.close()
    assert broken.errors and "dropped" in broken.errors[0]
    stored = records(site)  # what was fetched before the drop is recorded, batch or not
    assert 7 <= len(stored) < 20 and all(r.status == QUEUED for r in stored)

    dovecot.start()
    rest = poll(site)
    assert rest.fetched == 20 - len(stored) and not rest.errors
    site.start_worker("ingest")
    rows = wait_settled(site, uids=20)
    assert len({r.message_pk for r in rows}) == 20
    assert len(filed(site)) == 20


def queued_site(imap_site, dovecot, count: int = 1):
    """A site with `count` messages polled and queued, no worker running; returns (site, shas)."""
    site, _ = imap_site()
    dovecot.append_many("INBOX", [make_raw(n) for n in range(count)])
    assert poll(site).count("queued") == count
    return site, [r.raw_sha256 for r in records(site)]


def test_a_copy_of_a_job_sent_while_the_first_runs_does_nothing(imap_site, dovecot):
    site, [sha] = queued_site(imap_site, dovecot)
    ctx = site.context()
    try:
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        assert queued_mail.claim(ctx, sha, dead_before=long_ago) == "run"  # the first job
        row = records(site)[0]
        assert (row.status, row.attempts) == (INGESTING, 1)
        location = f"{row.account}/{row.folder}"
        copy = run_ingest(ctx, sha, "imap", location, row.uidvalidity, row.uid)
        assert copy.status == "skipped"
        assert filed(site) == [] and records(site)[0].attempts == 1
    finally:
        ctx.close()


def test_a_message_whose_jobs_never_finish_is_quarantined(imap_site, dovecot):
    site, [sha] = queued_site(imap_site, dovecot)
    ctx = site.context()
    try:
        now = datetime.now(UTC)
        assert queued_mail.stale(ctx, now - timedelta(minutes=10), now - timedelta(hours=1)) == []
        for attempt in (1, 2, 3):  # each job's worker dies: the claim outlives the time limit
            dead = datetime.now(UTC) + timedelta(seconds=1)
            assert [s for s, _ in queued_mail.stale(ctx, dead, dead)] == [sha]  # swept again
            assert queued_mail.claim(ctx, sha, dead_before=dead) == "run"
            assert records(site)[0].attempts == attempt
        dead = datetime.now(UTC) + timedelta(seconds=1)
        assert queued_mail.claim(ctx, sha, dead_before=dead) == "quarantined"
        assert queued_mail.stale(ctx, dead, dead) == []  # never sent again
    finally:
        ctx.close()
    [row] = records(site)
    assert row.status == QUARANTINED and "never finished" in row.error
    assert filed(site) == []


def test_queue_status_shows_mail_waiting_for_the_ingest_workers(imap_site, dovecot):
    site, shas = queued_site(imap_site, dovecot, count=2)
    ctx = site.context()
    try:
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        assert queued_mail.claim(ctx, shas[0], dead_before=long_ago) == "run"
    finally:
        ctx.close()
    out = site.run("queue", "status")
    assert "ingest 2 waiting" in out  # the two jobs in Redis, no worker running
    assert "IMAP mail for the ingest workers: queued 1, being filed 1" in out


def test_without_the_broker_queue_resubmit_files_the_mail_still_queued(imap_site, dovecot):
    site, _ = queued_site(imap_site, dovecot, count=2)
    text = site.config.read_text(encoding="utf-8")
    site.config.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("broker_url")),
        encoding="utf-8",
    )
    assert "2 jobs sent" in site.run("queue", "resubmit")
    assert len(filed(site)) == 2
    assert all(r.status not in WAITING_FOR_WORKER and r.message_pk for r in records(site))
