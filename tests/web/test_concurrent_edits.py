"""A clerk's triage edit and a media job (or another clerk) changing the same message at once."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from storage import triage
from storage.media_models import MediaJob
from storage.models import Item, Message
from storage.search import index_message, search
from tests.support import media_files as files
from workers.ingest import Ingestor, SourceRef
from workers.media import derive
from workers.media import jobs as media_jobs


def _site(engine: str, make_app, request, tmp_path):
    url = request.getfixturevalue("postgres").create_database() if engine == "postgresql" else None
    app = make_app(database_url=url)
    mail = files.message(
        "大连市职业教育活动周材料",
        [
            ("现场.jpg", files.jpeg(), "image/jpeg"),
            ("方案.pdf", files.pdf_file(["plan"]), "application/pdf"),
        ],
    )
    Ingestor(app, "test").ingest(mail, SourceRef("file", "material.eml"))
    with app.db.session() as session:
        picture = session.scalar(select(Item).where(Item.name == "现场.jpg"))
        job_id = session.scalar(select(MediaJob.id).where(MediaJob.item_id == picture.id))
    return app, picture.message_pk, picture.id, job_id


def _in_thread(target, *args) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target(*args)
        except BaseException as exc:  # the test reports it
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
@pytest.mark.parametrize("edit", ["assign", "set_kind"])
def test_a_clerk_editing_a_message_while_its_media_result_is_saved_both_succeed(
    engine, edit, make_app, request, tmp_path
):
    """A media job locks the item, then the message (to re-index); the clerk's edit must not
    lock them the other way round, or PostgreSQL kills one of the two as a deadlock."""
    app, message_pk, item_id, job_id = _site(engine, make_app, request, tmp_path)

    # The media job has settled its row and merged the picture's text, about to re-index ...
    job = app.db.sessions()
    picture = media_jobs.settle_job(job, job_id, None, with_item=True)
    derive.apply_derived(picture, derive.Derived(text="实训基地开放日"))
    job.flush()
    # ... when a clerk files the message under another unit, or changes the picture's kind.
    if edit == "assign":
        args = (triage.assign_unit, app, message_pk, "yingkou", "editor", {item_id: "case"})
    else:
        args = (triage.set_item_kind, app, item_id, "case", "editor")
    clerk, errors = _in_thread(*args)
    time.sleep(0.5)  # long enough for the clerk to lock what it would lock first
    try:
        index_message(job, message_pk)
        job.commit()
    finally:
        job.close()
        clerk.join(timeout=60)
    assert errors == []

    with app.db.session() as session:
        item = session.get(Item, item_id)
        assert item.kind == "case" and app.archive.abspath(item.path).is_file()
        if edit == "assign":
            assert session.get(Message, message_pk).unit_code == "yingkou"
        hits, total = search(session, "实训基地")
        assert [hit.item_id for hit in hits] == [item_id] and total == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_two_clerks_filing_one_message_at_once_leave_its_files_in_one_unit(
    engine, make_app, request, tmp_path, monkeypatch
):
    """The second clerk's edit waits for the first, then moves the files from where they are now,
    instead of leaving the first unit's copy behind in that unit's folder."""
    app, message_pk, item_id, _ = _site(engine, make_app, request, tmp_path)
    moving, go_on = threading.Event(), threading.Event()
    move_view = app.archive.move_view

    def first_move_waits(*args):
        if not moving.is_set():
            moving.set()
            go_on.wait(60)
        return move_view(*args)

    monkeypatch.setattr(app.archive, "move_view", first_move_waits)
    # One clerk files the message under 营口 and is moving its files ...
    first, first_errors = _in_thread(triage.assign_unit, app, message_pk, "yingkou", "editor")
    assert moving.wait(60)
    # ... when another files it under 锦州.
    second, second_errors = _in_thread(triage.assign_unit, app, message_pk, "jinzhou", "admin")
    time.sleep(0.5)  # long enough for the second to finish if it would not wait
    go_on.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert first_errors == second_errors == []

    with app.db.session() as session:
        message = session.get(Message, message_pk)
        paths = {i.id: i.path for i in message.items if i.path}
    on_disk = {
        str(p.relative_to(app.archive.root))
        for p in (app.archive.root / app.campaign.name).rglob("*")
        if p.is_file() or p.is_symlink()
    }
    assert on_disk == set(paths.values())
    assert message.unit_code == "jinzhou" and all("锦州" in path for path in paths.values())
