"""The IMAP poller against a real Dovecot: exactly once, whatever happens meanwhile."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from pipeline.errors import MailboxError
from storage import leases
from storage.mailbox_state import MailboxRecord
from storage.models import Message
from tests.conftest import ROOT
from tests.workers.sources.imap.test_client import make_raw
from workers.app import open_context
from workers.config import load_config
from workers.ingest import Ingestor
from workers.sources.imap.poller import poll_account
from workers.sources.imap.progress import LogProgress
from workers.sources.imap.schedule import Backoff, poll_job, register_poll_jobs


def write_config(folder: Path, server, **mailbox) -> Path:
    table = {
        "name": "official", "host": "127.0.0.1", "port": server.port, "security": "none",
        "username": "alice", "password_env": "MAILROOM_IMAP_PASSWORD", "timeout_seconds": 10,
        **mailbox,
    }  # fmt: skip
    lines = ["[storage]", 'archive_dir = "archive"', 'database_url = "sqlite:///index.db"', ""]
    lines.append("[[mailbox]]")
    for key, value in table.items():
        if isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, list | tuple):
            lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
        else:
            lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
    path = folder / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def setup(tmp_path, dovecot, monkeypatch):
    """Return a function (**mailbox overrides) -> (ctx, MailboxConfig) for the running Dovecot."""
    monkeypatch.setenv("MAILROOM_IMAP_PASSWORD", "secret")
    opened = []

    def make(**mailbox):
        ctx = open_context(load_config(write_config(tmp_path, dovecot, **mailbox)))
        opened.append(ctx)
        return ctx, ctx.config.mailboxes[0]

    yield make
    for ctx in opened:
        ctx.close()


def poll(ctx, cfg, **kwargs):
    return poll_account(ctx, cfg, "secret", progress=LogProgress(), **kwargs)


def message_count(ctx) -> int:
    with ctx.db.session() as session:
        return session.scalar(select(func.count(Message.id)))


def records(ctx) -> list[tuple]:
    with ctx.db.session() as session:
        return session.execute(
            select(MailboxRecord.folder, MailboxRecord.uidvalidity, MailboxRecord.uid,
                   MailboxRecord.status, MailboxRecord.after_done)
            .order_by(MailboxRecord.id)
        ).all()  # fmt: skip


def message_ids(ctx) -> list[str]:
    with ctx.db.session() as session:
        return sorted(session.scalars(select(Message.message_id)))


def test_new_mail_is_filed_once_and_a_second_poll_files_nothing(setup, dovecot):
    ctx, cfg = setup()
    uids = dovecot.append_many("INBOX", [make_raw(n) for n in range(5)])
    first = poll(ctx, cfg)
    assert (first.fetched, first.errors) == (5, [])
    assert message_ids(ctx) == sorted(f"<msg{n}@example.cn>" for n in range(5))
    assert [r.uid for r in records(ctx)] == uids
    second = poll(ctx, cfg)
    assert (second.fetched, second.run_id, second.errors) == (0, None, [])
    assert message_count(ctx) == 5
    # the mailbox is left exactly as staff see it (after = "none")
    assert all(b"\\Seen" not in flags for flags in dovecot.flags("INBOX").values())


def test_only_new_uids_are_fetched_on_the_next_poll(setup, dovecot):
    ctx, cfg = setup()
    dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])
    poll(ctx, cfg)
    dovecot.append_many("INBOX", [make_raw(n) for n in range(3, 5)])
    assert poll(ctx, cfg).fetched == 2
    assert message_count(ctx) == 5


def test_after_action_is_applied_only_to_committed_messages(setup, dovecot, monkeypatch):
    ctx, cfg = setup(after="flag:$Filed", batch_size=2)
    uids = dovecot.append_many("INBOX", [make_raw(n) for n in range(5)])
    seen_at_action: list[list[int]] = []
    from workers.sources.imap import client as imap_client

    real = imap_client.apply_after_action

    def spy(client, folder, action_uids, action):
        # look from a separate connection: only committed rows are visible there
        with ctx.db.session() as session:
            committed = set(session.scalars(
                select(MailboxRecord.uid).where(MailboxRecord.message_pk.is_not(None))))  # fmt: skip
        assert set(action_uids) <= committed
        seen_at_action.append(list(action_uids))
        real(client, folder, action_uids, action)

    monkeypatch.setattr(imap_client, "apply_after_action", spy)
    poll(ctx, cfg)
    assert sorted(u for batch in seen_at_action for u in batch) == uids
    assert len(seen_at_action) >= 2  # applied batch by batch, not only at the very end
    assert all(b"$Filed" in flags for flags in dovecot.flags("INBOX").values())
    assert all(r.after_done for r in records(ctx))


def test_move_after_filing_empties_the_watched_folder(setup, dovecot):
    ctx, cfg = setup(after="move:Filed")
    dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])
    poll(ctx, cfg)
    assert dovecot.flags("INBOX") == {}
    assert len(dovecot.flags("Filed")) == 3
    assert poll(ctx, cfg).fetched == 0


def test_a_message_that_keeps_failing_is_quarantined_and_does_not_block_others(
    setup, dovecot, monkeypatch
):
    ctx, cfg = setup(after="flag:$Filed", max_attempts=3)
    real = Ingestor.ingest

    def ingest(self, raw, source, **kwargs):  # a fault the real index cannot produce on demand
        if b"POISON" in raw:
            raise RuntimeError("database is on fire")
        return real(self, raw, source, **kwargs)

    monkeypatch.setattr(Ingestor, "ingest", ingest)
    raws = [make_raw(0), make_raw(1, body="POISON"), make_raw(2)]
    uids = dovecot.append_many("INBOX", raws)
    statuses = []
    for _ in range(4):
        summary = poll(ctx, cfg)
        statuses.append({r.uid: r.status for r in records(ctx)}[uids[1]])
    assert statuses == ["retry", "retry", "quarantined", "quarantined"]
    assert summary.fetched == 0  # given up: not fetched again
    assert message_count(ctx) == 2
    flags = dovecot.flags("INBOX")
    assert b"$Filed" in flags[uids[0]] and b"$Filed" in flags[uids[2]]
    import hashlib

    from storage import layout

    sha = hashlib.sha256(raws[1]).hexdigest()
    assert ctx.archive.abspath(layout.raw_path(sha)).read_bytes() == raws[1]


def test_uidvalidity_change_rescans_without_duplicates(setup, dovecot):
    ctx, cfg = setup(folders=["Submissions"])
    dovecot.create_folder("Submissions")
    raws = [make_raw(n) for n in range(4)]
    dovecot.append_many("Submissions", raws)
    poll(ctx, cfg)
    old = dovecot.status("Submissions")[b"UIDVALIDITY"]
    dovecot.recreate_folder("Submissions")
    dovecot.append_many("Submissions", raws + [make_raw(10), make_raw(11)])
    assert dovecot.status("Submissions")[b"UIDVALIDITY"] != old
    summary = poll(ctx, cfg)
    assert summary.folders[0].rescanned
    assert summary.count("duplicate") == 4 and summary.fetched == 6
    assert message_count(ctx) == 6
    assert poll(ctx, cfg).fetched == 0


def test_renumbered_inbox_files_nothing_new(setup, dovecot):
    ctx, cfg = setup()
    dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])
    poll(ctx, cfg)
    dovecot.reset_uidvalidity("INBOX")
    summary = poll(ctx, cfg)
    assert summary.count("duplicate") == 3
    assert message_count(ctx) == 3


class KillServerAfter(LogProgress):
    """Progress that crashes the server after n messages (a server restart mid-poll)."""

    def __init__(self, server, n):
        super().__init__()
        self.server, self.n = server, n

    def advance(self, count=1):
        super().advance(count)
        if self.done == self.n:
            self.server.kill()


def test_server_stopped_mid_poll_is_recovered_on_the_next_poll(setup, dovecot):
    ctx, cfg = setup(batch_size=5)
    dovecot.append_many("INBOX", [make_raw(n) for n in range(20)])
    summary = poll_account(ctx, cfg, "secret", progress=KillServerAfter(dovecot, 7))
    assert summary.errors and "dropped" in summary.errors[0]
    assert 7 <= message_count(ctx) < 20
    with pytest.raises(MailboxError, match="cannot connect to 127.0.0.1"):
        poll(ctx, cfg)
    dovecot.start()
    poll(ctx, cfg)
    assert message_ids(ctx) == sorted(f"<msg{n}@example.cn>" for n in range(20))
    assert len(records(ctx)) == 20


def test_missing_folder_is_reported_and_the_other_folders_still_polled(setup, dovecot):
    ctx, cfg = setup(folders=["Gone", "INBOX"])
    dovecot.append("INBOX", make_raw(1))
    summary = poll(ctx, cfg)
    assert "folder 'Gone' does not exist" in summary.errors[0]
    assert summary.fetched == 1


def test_wrong_password_is_one_clear_line(setup, dovecot):
    ctx, cfg = setup()
    with pytest.raises(
        MailboxError, match="cannot log in to 127.0.0.1 as alice: check MAILROOM_IMAP_PASSWORD"
    ):
        poll_account(ctx, cfg, "wrong")


def test_scheduled_job_survives_a_wrong_password(setup, dovecot, monkeypatch, caplog):
    ctx, cfg = setup()
    monkeypatch.setenv("MAILROOM_IMAP_PASSWORD", "wrong")
    stop = threading.Event()
    scheduler = BackgroundScheduler(job_defaults={"misfire_grace_time": 60})
    register_poll_jobs(scheduler, ctx, stop)
    caplog.set_level(logging.ERROR, logger="workers.imap_poller")
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while "cannot log in" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "mailbox official: cannot log in to 127.0.0.1 as alice" in caplog.text
        assert scheduler.running and scheduler.get_job("imap:official") is not None
    finally:
        stop.set()
        scheduler.shutdown(wait=True)


def test_failed_ticks_back_off():
    now = [0.0]
    backoff = Backoff(60, ceiling=300, clock=lambda: now[0])
    assert [backoff.failed() for _ in range(5)] == [60, 120, 240, 300, 300]
    assert not backoff.ready()
    now[0] = 240
    assert backoff.ready()
    backoff.succeeded()
    assert backoff.ready()


def test_job_logs_a_missing_password_instead_of_raising(setup, dovecot, monkeypatch, caplog):
    ctx, cfg = setup()
    monkeypatch.delenv("MAILROOM_IMAP_PASSWORD")
    caplog.set_level(logging.ERROR, logger="workers.imap_poller")
    poll_job(ctx, cfg, threading.Event(), Backoff(60))
    assert "MAILROOM_IMAP_PASSWORD: is not set" in caplog.text


class BlockAfter(LogProgress):
    """Progress that pauses the poll after n messages until released."""

    def __init__(self, n):
        super().__init__()
        self.n, self.reached, self.release = n, threading.Event(), threading.Event()

    def advance(self, count=1):
        super().advance(count)
        if self.done == self.n:
            self.reached.set()
            self.release.wait(30)


def test_two_pollers_at_once_one_skips(setup, dovecot):
    ctx, cfg = setup()
    other_ctx, _ = setup()
    dovecot.append_many("INBOX", [make_raw(n) for n in range(6)])
    blocker = BlockAfter(2)
    results = {}
    first = threading.Thread(
        target=lambda: results.update(a=poll_account(ctx, cfg, "secret", progress=blocker))
    )
    first.start()
    assert blocker.reached.wait(10)
    second = poll(other_ctx, cfg)
    blocker.release.set()
    first.join(30)
    assert second.skipped and "another mailroom process" in second.skipped
    assert results["a"].fetched == 6
    assert message_count(ctx) == 6


def test_an_expired_lease_is_taken_over(setup, dovecot):
    ctx, cfg = setup()
    assert leases.acquire_lease(ctx.db, "imap:official", "crashed-host:1", timedelta(seconds=-1))
    dovecot.append("INBOX", make_raw(1))
    assert poll(ctx, cfg).fetched == 1


def test_a_live_lease_makes_the_poll_skip(setup, dovecot):
    ctx, cfg = setup()
    assert leases.acquire_lease(ctx.db, "imap:official", "other-host:1", timedelta(minutes=5))
    assert not leases.acquire_lease(ctx.db, "imap:official", "third:1", timedelta(minutes=5))
    assert "other-host:1" in poll(ctx, cfg).skipped
    leases.release_lease(ctx.db, "imap:official", "other-host:1")
    assert poll(ctx, cfg).skipped is None


def run_cli(config: Path, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "MAILROOM_IMAP_PASSWORD": "secret", "PYTHONPATH": str(ROOT)}
    code = "from workers.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--config", str(config), *args],
        cwd=config.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen,
    )  # fmt: skip


def test_poll_killed_mid_batch_then_rerun_files_every_message_exactly_once(setup, dovecot):
    ctx, cfg = setup(after="flag:$Filed", batch_size=20)
    uids = dovecot.append_many("INBOX", [make_raw(n, body="正文" * 200) for n in range(150)])
    config = ctx.config.path
    proc = run_cli(config, "poll", "--once")
    deadline = time.monotonic() + 60
    while len(records(ctx)) < 25 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    recorded = {r.uid for r in records(ctx)}
    assert 25 <= len(recorded) < 150, "the poll should have been killed mid-way"
    flagged = {uid for uid, flags in dovecot.flags("INBOX").items() if b"$Filed" in flags}
    assert flagged <= recorded  # never acted on a message the index does not have
    again = run_cli(config, "poll", "--once")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    assert message_ids(ctx) == sorted(f"<msg{n}@example.cn>" for n in range(150))
    rows = records(ctx)
    assert sorted(r.uid for r in rows) == uids
    assert all(b"$Filed" in f for f in dovecot.flags("INBOX").values())
    exported = run_cli(config, "export", "messages").communicate(timeout=60)[0]
    assert len(exported.decode().splitlines()) == 150


def test_poll_once_reports_a_wrong_password_in_one_line(setup, dovecot):
    ctx, _ = setup()
    env_proc = subprocess.run(
        [sys.executable, "-c", "from workers.cli import main; main()", "--config",
         str(ctx.config.path), "poll", "--once"],
        cwd=ctx.config.path.parent, capture_output=True, timeout=60,
        env={**os.environ, "MAILROOM_IMAP_PASSWORD": "wrong", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert env_proc.returncode == 1
    last = env_proc.stderr.decode().strip().splitlines()[-1]
    assert last.startswith(
        "mailroom: official: cannot log in to 127.0.0.1 as alice: check MAILROOM_IMAP_PASSWORD"
    )
    assert "Traceback" not in env_proc.stderr.decode()


def test_log_progress_line_has_done_total_rate_and_eta():
    now = [0.0]
    progress = LogProgress(clock=lambda: now[0])
    progress.start("official/INBOX", 1000)
    now[0] = 10.0
    progress.advance(250)
    assert progress.line() == "official/INBOX: 250/1000 messages, 25.0/s, ETA 30 s"


def test_a_lease_left_by_a_dead_process_on_this_host_is_taken_over(setup, dovecot):
    ctx, cfg = setup()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = f"{socket.gethostname()}:{dead.pid}:cafe"
    assert leases.acquire_lease(ctx.db, "imap:official", holder, timedelta(minutes=5))
    dovecot.append("INBOX", make_raw(1))
    assert poll(ctx, cfg).fetched == 1


def test_mailroom_run_schedules_one_poll_job_per_mailbox(setup, dovecot):
    from workers.scheduler import build_scheduler, close_all
    from workers.service import RUN_JOBS

    ctx, _ = setup()
    stop, closers = threading.Event(), []
    scheduler = build_scheduler(ctx, stop, RUN_JOBS, closers)
    try:
        assert scheduler.get_job("imap:official").name == "poll mailbox official"
    finally:
        stop.set()
        close_all(closers)


def test_mailroom_run_keeps_running_after_a_wrong_password(setup, dovecot):
    ctx, _ = setup(poll_interval_seconds=5)
    env = {**os.environ, "MAILROOM_IMAP_PASSWORD": "wrong", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from workers.cli import main; main()", "--config",
         str(ctx.config.path), "run"],
        cwd=ctx.config.path.parent, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while not any("cannot log in" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert proc.poll() is None, "".join(lines)
        error = next(line for line in lines if "cannot log in" in line)
        assert (
            "mailbox official: cannot log in to 127.0.0.1 as alice: check MAILROOM_IMAP_PASSWORD"
            in error
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    assert "Traceback" not in "".join(lines)


def test_idle_files_new_mail_within_seconds(setup, dovecot):
    ctx, _ = setup(idle=True, poll_interval_seconds=3600)
    stop = threading.Event()
    scheduler = BackgroundScheduler(job_defaults={"misfire_grace_time": 60})
    watchers = register_poll_jobs(scheduler, ctx, stop)
    scheduler.start()
    try:
        assert watchers[0].idling.wait(10)
        dovecot.append("INBOX", make_raw(1))
        deadline = time.monotonic() + 10
        while message_count(ctx) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert message_count(ctx) == 1
    finally:
        stop.set()
        scheduler.shutdown(wait=True)
        watchers[0].join(10)
    assert not watchers[0].is_alive()
