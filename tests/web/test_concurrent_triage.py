"""Re-filing a sender's other mail, and undo, while a media job or another clerk changes it."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlalchemy import event, select, text

from storage import triage
from storage.media_models import MediaJob
from storage.models import Item, Message
from storage.search import index_message, search
from tests.support import media_files as files
from tests.web.test_concurrent_edits import _in_thread, _site
from workers.ingest import Ingestor, SourceRef
from workers.media import derive
from workers.media import jobs as media_jobs

SENDER = "2718281828@qq.com"  # no unit knows it: its mail waits in triage until a clerk decides


def _photo_mail(number: int) -> bytes:
    """A mail with nothing but a photo of the week from an unknown personal address."""
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = "zcc1.sjyt@ln.gov.cn"
    msg["Subject"] = "活动周照片"  # the campaign is clear: only the unit waits for a clerk
    msg["Date"] = format_datetime(datetime(2023, 5, 20 + number, 12, 0, tzinfo=files.CST))
    msg["Message-ID"] = f"<photo-{number}@qq.com>"
    msg.set_content("")
    photo = files.jpeg(640 + number, 480)  # different bytes: not a copy of the other photo
    msg.add_attachment(photo, maintype="image", subtype="jpeg", filename=f"IMG_{number}.JPG")
    return msg.as_bytes()


def _two_from_one_sender(engine: str, make_app, request):
    """Returns the app, the message a clerk will assign, the other one and its photo's job."""
    url = request.getfixturevalue("postgres").create_database() if engine == "postgresql" else None
    app = make_app(database_url=url)
    ingestor = Ingestor(app, "test")
    other = ingestor.ingest(_photo_mail(1), SourceRef("file", "1.eml")).message_pk
    mine = ingestor.ingest(_photo_mail(2), SourceRef("file", "2.eml")).message_pk
    ingestor.finish()
    with app.db.session() as session:
        assert {session.get(Message, pk).status for pk in (mine, other)} == {"triage"}
        item_id = session.scalar(select(Item.id).where(Item.message_pk == other))
        job_id = session.scalar(select(MediaJob.id).where(MediaJob.item_id == item_id))
    return app, mine, other, item_id, job_id


def _waiting_for_a_lock(app, thread: threading.Thread, in_execute: set[int]) -> bool:
    """True once thread waits for a row (PostgreSQL) or the write lock (SQLite) others hold."""
    if app.db.engine.dialect.name == "sqlite":  # its busy handler waits inside the statement
        return thread.ident in in_execute
    with app.db.engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
        )
    return waiting > 0


def _watch_statements(app) -> set[int]:
    """Returns the idents of the threads inside a database statement, kept up to date."""
    inside: set[int] = set()

    def before(*args) -> None:
        inside.add(threading.get_ident())

    def after(*args) -> None:
        inside.discard(threading.get_ident())

    event.listen(app.db.engine, "before_cursor_execute", before)
    event.listen(app.db.engine, "after_cursor_execute", after)
    event.listen(app.db.engine, "handle_error", after)
    return inside


def _until_blocked_or_done(app, thread: threading.Thread, inside: set[int]) -> None:
    """Polls (not a timing assertion: the deadline only stops a hung test) until thread
    finished or waits for a lock the test holds."""
    deadline = time.monotonic() + 60
    while thread.is_alive() and not _waiting_for_a_lock(app, thread, inside):
        assert time.monotonic() < deadline, "the thread neither finished nor waited for a lock"
        time.sleep(0.01)


def _pause_before(monkeypatch, name: str) -> tuple[threading.Event, threading.Event]:
    """Makes storage.triage.<name> wait: returns (reached, go on)."""
    reached, go_on = threading.Event(), threading.Event()
    original = getattr(triage, name)

    def waits_first(*args):
        reached.set()
        assert go_on.wait(60)
        return original(*args)

    monkeypatch.setattr(triage, name, waits_first)
    return reached, go_on


def _while_a_media_job_saves(app, job_id, message_pk, clerk_action):
    """Runs clerk_action in a thread while a media job has settled its row and merged its
    item's text, then lets the job re-index message_pk and commit; returns (the clerk's
    errors, the job's errors), a deadlock victim among them."""
    inside = _watch_statements(app)
    job = app.db.sessions()
    item = media_jobs.settle_job(job, job_id, None, with_item=True)
    derive.apply_derived(item, derive.Derived(text="实训基地开放日"))
    job.flush()
    clerk, errors = _in_thread(clerk_action)
    job_errors: list[BaseException] = []
    try:
        _until_blocked_or_done(app, clerk, inside)
        index_message(job, message_pk)
        job.commit()
    except Exception as exc:  # reported to the test, after the clerk is done
        job_errors.append(exc)
        job.rollback()
    finally:
        job.close()
        clerk.join(timeout=60)
    assert not clerk.is_alive()
    return errors, job_errors


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_refiling_the_senders_other_mail_while_its_media_result_is_saved_both_succeed(
    engine, make_app, request
):
    """The media job locks the other message's photo, then the message to re-index it; the
    re-filing that follows a clerk's assignment must not lock them the other way round, or
    PostgreSQL kills one of the two as a deadlock (and the other message stays in triage)."""
    app, mine, other, item_id, job_id = _two_from_one_sender(engine, make_app, request)
    results: list[triage.AssignResult] = []
    # A clerk files the sender's first message (which learns the address) while the job
    # for the other message's photo is about to re-index it.
    errors, job_errors = _while_a_media_job_saves(
        app,
        job_id,
        other,
        lambda: results.append(triage.assign_unit(app, mine, "panjin", "editor")),
    )
    assert errors == [] and job_errors == []

    [result] = results
    assert result.refiled == [other] and result.still_triage == []
    with app.db.session() as session:
        message = session.get(Message, other)
        assert (message.unit_code, message.status) == ("panjin", "filed")
        item = session.get(Item, item_id)
        assert "盘锦" in item.path and app.archive.abspath(item.path).is_file()
        assert item.text == "实训基地开放日"
        hits, total = search(session, "实训基地")
        assert [hit.item_id for hit in hits] == [item_id] and total == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_message_another_clerk_filed_meanwhile_is_not_refiled_over(
    engine, make_app, request, monkeypatch
):
    """A clerk's assignment found the sender's other message in triage; another clerk filed
    it before the re-filing reached it: that decision (and where its files are) stands."""
    app, mine, other, item_id, _ = _two_from_one_sender(engine, make_app, request)
    reached, go_on = _pause_before(monkeypatch, "_refile_learned")
    results: list[triage.AssignResult] = []
    # One clerk files the first message; it is about to re-file the other ...
    first, first_errors = _in_thread(
        lambda: results.append(triage.assign_unit(app, mine, "panjin", "editor"))
    )
    assert reached.wait(60)
    # ... when another clerk files that one under 锦州 (and is done).
    try:
        triage.assign_unit(app, other, "jinzhou", "admin")
    finally:
        go_on.set()
        first.join(timeout=60)
    assert first_errors == []

    [result] = results
    assert result.refiled == [] and result.still_triage == []
    with app.db.session() as session:
        message = session.get(Message, other)
        assert (message.unit_code, message.status) == ("jinzhou", "filed")
        assert [d.decided_by for d in message.decisions if d.subject == "unit"][-1] == "admin"
        item = session.get(Item, item_id)
        assert "锦州" in item.path and app.archive.abspath(item.path).is_file()
    on_disk = {
        str(p.relative_to(app.archive.root))
        for p in (app.archive.root / app.campaign.name).rglob("*")
        if p.is_file() or p.is_symlink()
    }
    assert sum("IMG_1.JPG" in path for path in on_disk) == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_undoing_an_assignment_while_its_media_result_is_saved_both_succeed(
    engine, make_app, request, tmp_path
):
    """`mailroom triage undo` moves the files back while a media job re-indexes the message:
    it must lock the items before the message, as the job does, or PostgreSQL deadlocks."""
    app, message_pk, item_id, job_id = _site(engine, make_app, request, tmp_path)
    with app.db.session() as session:
        before = {i.id: i.path for i in session.get(Message, message_pk).items if i.path}
        unit = session.get(Message, message_pk).unit_code
    audit_id = triage.assign_unit(app, message_pk, "yingkou", "editor").audit_id
    # A clerk undoes the assignment from the command line while the picture's job re-indexes.
    errors, job_errors = _while_a_media_job_saves(
        app, job_id, message_pk, lambda: triage.undo(app, audit_id, "admin")
    )
    assert errors == [] and job_errors == []

    with app.db.session() as session:
        message = session.get(Message, message_pk)
        assert message.unit_code == unit
        assert {i.id: i.path for i in message.items if i.path} == before
        assert all(app.archive.abspath(path).is_file() for path in before.values())
        hits, total = search(session, "实训基地")
        assert [hit.item_id for hit in hits] == [item_id] and total == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_undo_does_not_overwrite_an_assignment_made_while_it_ran(
    engine, make_app, request, tmp_path, monkeypatch
):
    """Undo checks the message is still as the assignment left it, then restores it: a clerk
    filing it between the check and the write must wait for the undo, not be overwritten."""
    app, message_pk, _, _ = _site(engine, make_app, request, tmp_path)
    audit_id = triage.assign_unit(app, message_pk, "yingkou", "editor").audit_id
    inside = _watch_statements(app)
    checked, go_on = _pause_before(monkeypatch, "_restore_message")
    # The undo has checked the message is still filed under 营口 ...
    undoing, undo_errors = _in_thread(triage.undo, app, audit_id, "admin")
    assert checked.wait(60)
    # ... when another clerk files it under 锦州.
    clerk, errors = _in_thread(triage.assign_unit, app, message_pk, "jinzhou", "admin")
    try:
        _until_blocked_or_done(app, clerk, inside)
    finally:
        go_on.set()
        undoing.join(timeout=60)
        clerk.join(timeout=60)
    assert undo_errors == errors == []

    with app.db.session() as session:
        message = session.get(Message, message_pk)
        paths = {i.id: i.path for i in message.items if i.path}
    assert message.unit_code == "jinzhou" and all("锦州" in path for path in paths.values())
    on_disk = {
        str(p.relative_to(app.archive.root))
        for p in (app.archive.root / app.campaign.name).rglob("*")
        if p.is_file() or p.is_symlink()
    }
    assert on_disk == set(paths.values())
