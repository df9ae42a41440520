"""Ingestion end to end: raw store first, decisions, archive tree, index, idempotence."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.models import IngestError, Item, Message
from tests.conftest import DATA, MAIL
from workers.app import quiet_third_parties
from workers.sources.inbox import ingest_paths

pytestmark = pytest.mark.both_databases  # ingestion and search behave the same on both

CAMPAIGN = "2023年辽宁省职业教育活动周"


def ingest(ctx, *paths: Path):
    return ingest_paths(ctx, list(paths), label="test").outcomes


def one(ctx, query):
    with ctx.db.session() as session:
        return session.scalars(query).one()


def count(ctx, model) -> int:
    with ctx.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_message_is_filed_under_campaign_unit_kind_and_day(app, mail_copy):
    [outcome] = ingest(app, mail_copy("gbk-rfc2047-filename.eml"))
    assert outcome.status == "filed"
    item = one(app, select(Item).where(Item.role == "material"))
    assert item.path == (
        f"{CAMPAIGN}/大连市教育局/活动周方案/2023-05-16 【大连市教育局】活动周方案/"
        "大连市职业教育活动周方案.docx"
    )
    on_disk = app.archive.abspath(item.path)
    assert on_disk.read_bytes() == app.archive.abspath(item.blob_path).read_bytes()
    assert os.path.samefile(on_disk, app.archive.abspath(item.blob_path))  # a hard link
    message = one(app, select(Message))
    assert message.unit_code == "dalian" and message.status == "filed"
    assert (
        app.archive.abspath(message.raw_path).read_bytes()
        == (MAIL / "gbk-rfc2047-filename.eml").read_bytes()
    )


def test_reingesting_the_same_input_adds_nothing(app, mail_copy):
    folder = mail_copy("qq-quoted-2047-and-2231.eml").parent
    mail_copy("raw-8bit-gb18030-headers.eml")
    first = ingest(app, folder)
    files_before = sorted(p for p in app.archive.root.rglob("*") if p.is_file())
    second = ingest(app, folder)
    assert [o.status for o in second] == ["duplicate"] * len(first)
    assert count(app, Message) == len(first)
    assert sorted(p for p in app.archive.root.rglob("*") if p.is_file()) == files_before


def test_same_message_id_from_another_source_is_not_ingested_twice(app, tmp_path):
    raw = (MAIL / "gbk-rfc2047-filename.eml").read_bytes()
    a, b = tmp_path / "a.eml", tmp_path / "b.eml"
    a.write_bytes(raw)
    b.write_bytes(b"Received: from relay by other.host; Tue, 16 May 2023 09:13:00 +0800\r\n" + raw)
    outcomes = ingest(app, a, b)
    assert [o.status for o in outcomes] == ["filed", "duplicate"]


def test_a_damaged_attachment_is_recorded_corrupt_and_the_rest_is_filed(app, mail_copy, caplog):
    with caplog.at_level("INFO"):
        [outcome] = ingest(app, mail_copy("damaged-attachment.eml"))
    assert outcome.status == "filed"
    [warning] = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    line = warning.getMessage()  # one line: the file, the attachment and the reason
    assert warning.levelname == "WARNING" and warning.exc_info is None
    assert "damaged-attachment.eml" in line and "broken.jpg" in line and "base64" in line
    with app.db.session() as session:
        items = {i.name: i for i in session.scalars(select(Item))}
        errors = session.scalars(select(IngestError)).all()
    assert items["good.jpg"].status == "ok"
    broken = items["broken.jpg"]
    assert broken.status == "corrupt" and "base64" in broken.error.lower()
    assert app.archive.abspath(broken.blob_path).exists()  # the original is kept
    assert [e.stage for e in errors] == ["decode"]


def test_unreadable_input_is_recorded_with_its_reason_and_the_next_message_goes_on(
    app, tmp_path, caplog
):
    msg = (DATA / "corpus" / "demisto-outlook-utf-subject.msg").read_bytes()
    (tmp_path / "1-damaged.msg").write_bytes(msg[:4000])
    (tmp_path / "2-empty.eml").write_bytes(b"")
    (tmp_path / "3-no-headers.eml").write_bytes("这不是邮件，只是一段文字。\n".encode() * 20)
    shutil.copy(MAIL / "gbk-rfc2047-filename.eml", tmp_path / "4.eml")
    quiet_third_parties()  # as every process's logging set-up does
    with caplog.at_level("INFO"):
        outcomes = ingest(app, tmp_path)
    assert [o.status for o in outcomes] == ["error", "error", "error", "filed"]
    assert "Outlook .msg" in outcomes[0].error and "empty" in outcomes[1].error
    # Expected bad input: one WARNING line each, naming the file and the reason, no traceback.
    warnings = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert [(r.levelname, r.exc_info) for r in warnings] == [("WARNING", None)] * 3
    for record, name, reason in zip(
        warnings, ["1-damaged.msg", "2-empty.eml", "3-no-headers.eml"],
        ["Outlook .msg", "empty", "no email header lines"], strict=True,
    ):  # fmt: skip
        line = record.getMessage()
        assert name in line and reason in line and "\n" not in line
    with app.db.session() as session:
        failed = session.scalars(select(Message).where(Message.status == "error")).all()
        assert len(failed) == 3
        for message in failed:
            assert app.archive.abspath(message.raw_path).exists()
        errors = session.scalars(select(IngestError)).all()
        assert len(errors) == 3 and all(e.detail == "" for e in errors)


def test_an_outlook_msg_dropped_in_the_inbox_is_read_and_kept_raw(app, tmp_path):
    original = (DATA / "corpus" / "demisto-outlook-utf-subject.msg").read_bytes()
    (tmp_path / "saved-from-outlook.msg").write_bytes(original)
    [outcome] = ingest(app, tmp_path)
    assert outcome.status == "triage"  # read, an unknown sender: a person decides
    message = one(app, select(Message))
    assert message.from_addr == "mobi777@gmail.com" and message.message_id.startswith("<5c530c1b")
    assert app.archive.abspath(message.raw_path).read_bytes() == original  # the .msg itself


def test_a_crash_inside_a_stage_loses_nothing(app, mail_copy, monkeypatch):
    import pipeline.decide

    def explode(*args, **kwargs):
        raise RuntimeError("stage blew up")

    monkeypatch.setattr(pipeline.decide, "plan_items", explode)
    [outcome] = ingest(app, mail_copy("gbk-rfc2047-filename.eml"))
    assert outcome.status == "error" and "stage blew up" in outcome.error
    message = one(app, select(Message))
    assert message.status == "error"
    assert app.archive.abspath(message.raw_path).exists()
    assert (
        not any(p.is_file() for p in (app.archive.root / CAMPAIGN).rglob("*"))
        if (app.archive.root / CAMPAIGN).exists()
        else True
    )
    # Fixed and run again, the same message is filed (the error row is not a duplicate).
    monkeypatch.undo()


def test_identical_bytes_are_stored_once_and_indexed_as_a_duplicate(app, tmp_path):
    raw = (MAIL / "qq-quoted-2047-and-2231.eml").read_bytes()
    (tmp_path / "first.eml").write_bytes(raw)
    resent = raw.replace(b"<qq-2231@test.mailroom>", b"<qq-2231-resent@test.mailroom>")
    resent = resent.replace(b"09:12:30 +0800", b"15:00:00 +0800")
    (tmp_path / "second.eml").write_bytes(resent)
    ingest(app, tmp_path)
    with app.db.session() as session:
        first, second = session.scalars(select(Message).order_by(Message.received_at)).all()
        assert first.message_id == "<qq-2231@test.mailroom>"
        dupes = [i for i in second.items if i.duplicate_of_id]
        assert len(dupes) == 2 and "duplicate" in second.flags
        originals = {i.sha256: i for i in first.items}
        for item in dupes:
            assert originals[item.sha256].id == item.duplicate_of_id
    objects = [p for p in (app.archive.root / ".objects").rglob("*") if p.is_file()]
    assert len(objects) == len({p.name for p in objects}) == 2


def test_message_without_a_confident_unit_goes_to_triage(app, tmp_path):
    raw = (MAIL / "gbk-rfc2047-filename.eml").read_bytes()
    import base64

    vague = base64.b64encode("活动周方案".encode("gbk")).decode()
    raw = raw.replace(
        b"=?gbk?B?" + base64.b64encode("【大连市教育局】活动周方案".encode("gbk")) + b"?=",
        f"=?gbk?B?{vague}?=".encode(),
    )
    raw = raw.replace(
        b"=?gbk?B?" + base64.b64encode("大连市教育局 王芳".encode("gbk")) + b"?=", b"wang"
    )
    raw = raw.replace(
        b"=?gbk?B?" + base64.b64encode("大连市职业教育活动周方案.docx".encode("gbk")) + b"?=",
        b"plan.docx",
    )
    (tmp_path / "vague.eml").write_bytes(raw)
    [outcome] = ingest(app, tmp_path / "vague.eml")
    assert outcome.status == "triage"
    item = one(app, select(Item).where(Item.role == "material"))
    assert item.path.startswith(f"{CAMPAIGN}/待分拣/活动周方案/")
    assert one(app, select(Message)).unit_code is None


def test_auto_replies_are_recorded_but_not_filed(app, mail_copy):
    [outcome] = ingest(app, mail_copy("auto-reply.eml"))
    assert outcome.status == "not_material"
    message = one(app, select(Message))
    assert message.flags == ["auto_reply"] and not message.is_material
    assert not (app.archive.root / CAMPAIGN).exists()


def test_inline_logo_is_decorative_and_inline_photo_is_material(app, mail_copy):
    ingest(app, mail_copy("inline-images-and-forwarded.eml"))
    with app.db.session() as session:
        roles = {i.name: i.role for i in session.scalars(select(Item))}
    assert roles["image001.png"] == "decorative"
    assert roles["附件1.jpg"] == "material"


def test_mbox_and_maildir_are_read_message_by_message(app, tmp_path):
    box = tmp_path / "maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    (box / "new" / "1684000000.M1P1.host").write_bytes((MAIL / "auto-reply.eml").read_bytes())
    shutil.copy(MAIL / "two-messages.mbox", tmp_path / "two.mbox")
    outcomes = ingest(app, box, tmp_path / "two.mbox")
    assert len(outcomes) == 3
    with app.db.session() as session:
        sources = sorted(m.source.split(":")[0] for m in session.scalars(select(Message)))
    assert sources == ["maildir", "mbox", "mbox"]


def test_body_only_article_becomes_a_manuscript_text_item(app, tmp_path):
    shutil.copy(MAIL / "two-messages.mbox", tmp_path / "two.mbox")
    ingest(app, tmp_path / "two.mbox")
    with app.db.session() as session:
        items = session.scalars(select(Item)).all()
    assert {(i.name, i.media) for i in items} == {("正文.txt", "text")}
    assert all(i.kind == "plan" for i in items)  # the subject says 活动周方案


def test_received_header_not_the_date_header_decides_the_day(app, tmp_path):
    raw = (MAIL / "gbk-rfc2047-filename.eml").read_bytes()
    raw = raw.replace(
        b"Date: Tue, 16 May 2023 09:12:00 +0800", b"Date: Fri, 12 May 2023 23:00:00 -0000"
    )
    (tmp_path / "m.eml").write_bytes(raw)
    ingest(app, tmp_path / "m.eml")
    message = one(app, select(Message))
    assert message.received_source == "received"
    assert message.received_at.isoformat() == "2023-05-16T01:12:30+00:00"
    assert message.header_date.isoformat() == "2023-05-12T23:00:00+00:00"


def test_every_copied_corpus_message_ingests_without_an_uncaught_exception(app):
    outcomes = ingest(app, DATA / "corpus")
    assert len(outcomes) == 11
    assert not [o for o in outcomes if o.status == "error"]  # the Outlook .msg is read too


def test_the_same_message_filed_by_two_processes_at_once_is_filed_once(app, make_app, mail_copy):
    """B has checked that the bytes are new; A files them before B inserts: B's copy loses
    cleanly (a duplicate) and leaves A's files alone."""
    from workers.ingest import Ingestor, SourceRef

    other = make_app(folder=app.config.base_dir, database_url=app.config.storage.database_url)
    raw = mail_copy("gbk-rfc2047-filename.eml").read_bytes()
    first, second = Ingestor(app, "process A"), Ingestor(other, "process B")
    real_file, outcomes = Ingestor._file, {}

    def file_after_a(self, *args, **kwargs):
        if self is second and "A" not in outcomes:
            outcomes["A"] = first.ingest(raw, SourceRef("imap", "a/INBOX", 1, 1))
        return real_file(self, *args, **kwargs)

    Ingestor._file = file_after_a
    try:
        outcomes["B"] = second.ingest(raw, SourceRef("imap", "b/INBOX", 1, 1))
    finally:
        Ingestor._file = real_file
    assert outcomes["A"].status == "filed"
    assert (outcomes["B"].status, outcomes["B"].message_pk) == (
        "duplicate",
        outcomes["A"].message_pk,
    )
    assert count(app, Message) == 1 and count(app, IngestError) == 0
    with app.db.session() as session:
        paths = [p for p in session.scalars(select(Item.path)) if p]
    assert paths and all(app.archive.abspath(p).exists() for p in paths)


def test_two_messages_with_the_same_file_filed_at_once_keep_one_original(app, make_app):
    """A holds its transaction open after adding its items; B files another message with
    the same photo meanwhile. B must wait and find A's copy, not file a second original."""
    import threading
    import time

    from storage import filing
    from tests.support import media_files as files
    from workers.ingest import Ingestor, SourceRef

    other = make_app(folder=app.config.base_dir, database_url=app.config.storage.database_url)
    photo = files.jpeg(400, 300)
    raws = [
        files.message(f"大连市活动周照片 第{n}批", [("开幕式.jpg", photo, "image/jpeg")], number=n)
        for n in (1, 2)
    ]
    first, second = Ingestor(app, "process A"), Ingestor(other, "process B")
    real_file, a_inside = filing.file_items, threading.Event()

    def file_then_linger(*args, **kwargs):
        kinds = real_file(*args, **kwargs)
        if threading.current_thread().name == "A":
            a_inside.set()
            time.sleep(1.5)  # B reaches its items now, before A commits
        return kinds

    filing.file_items = file_then_linger
    outcomes = {}
    try:
        a = threading.Thread(
            target=lambda: outcomes.setdefault("A", first.ingest(raws[0], SourceRef())), name="A"
        )
        a.start()
        assert a_inside.wait(30)
        outcomes["B"] = second.ingest(raws[1], SourceRef())
        a.join(30)
    finally:
        filing.file_items = real_file
    assert outcomes["A"].status == outcomes["B"].status == "filed"
    with app.db.session() as session:
        photos = session.execute(
            select(Item.message_pk, Item.duplicate_of_id, Item.id, Item.path)
            .where(Item.name == "开幕式.jpg")
            .order_by(Item.id)
        ).all()
    assert [p.message_pk for p in photos] == [outcomes["A"].message_pk, outcomes["B"].message_pk]
    assert photos[0].duplicate_of_id is None and photos[1].duplicate_of_id == photos[0].id
    assert photos[1].path == photos[0].path  # one file in the tree, shown for both messages


def _b64word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def test_nul_characters_in_headers_body_and_file_name_do_not_stop_filing(app, tmp_path):
    """PostgreSQL refuses NUL in text: a subject with one used to fail the whole message."""
    body = base64.b64encode("大连市教育局\x00 活动周方案请查收".encode()).decode()
    name = _b64word("大连市活动周\x00方案.txt")
    sender, subject = _b64word("大连\x00市教育局"), _b64word("【大连市教育局】活动周\x00方案")
    raw = (
        f"From: {sender} <xuanchuan@dl.edu.example.cn>\r\n"
        "To: zcc@example.cn\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <nul-in-headers@dl.edu.example.cn>\r\n"
        "Date: Tue, 16 May 2023 10:00:00 +0800\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n"
        f'--b\r\nContent-Type: text/plain; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--b--\r\n"
    )
    mail = tmp_path / "nul.eml"
    mail.write_bytes(raw.encode())
    [outcome] = ingest(app, mail)
    assert outcome.status == "filed", outcome.error
    message = one(app, select(Message))
    assert message.subject == "【大连市教育局】活动周方案"
    assert message.from_name == "大连市教育局" and "\x00" not in message.body_text
    assert one(app, select(Item).where(Item.role == "material")).name == "大连市活动周方案.txt"


def test_over_long_sender_fields_and_file_names_are_clipped_not_refused(app, tmp_path):
    """PostgreSQL refuses a value longer than its column; the index keeps the first part."""
    long_name = "大连市职业教育活动周方案" * 100 + ".docx"  # 1,205 characters
    raw = (
        f"From: {_b64word('大连市教育局' * 100)} <{'x' * 400}@dl.edu.example.cn>\r\n"
        "To: zcc@example.cn\r\n"
        f"Subject: {_b64word('【大连市教育局】活动周方案')}\r\n"
        f"Message-ID: <{'m' * 1200}@dl.edu.example.cn>\r\n"
        "Date: Tue, 16 May 2023 10:00:00 +0800\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n请查收\r\n"
        f'--b\r\nContent-Type: application/x-{"v" * 300}; name="{_b64word(long_name)}"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{base64.b64encode(b'plan').decode()}\r\n--b--\r\n"
    )
    mail = tmp_path / "long.eml"
    mail.write_bytes(raw.encode())
    [outcome] = ingest(app, mail)
    assert outcome.status in ("filed", "triage"), outcome.error
    message = one(app, select(Message))
    assert message.from_name == ("大连市教育局" * 100)[:500]
    assert len(message.from_addr) == 320 and len(message.message_id) == 998
    item = one(app, select(Item).where(Item.role == "material"))
    assert item.name == long_name[:1000] and item.declared_type.startswith("application/x-vvv")
    assert len(item.declared_type) == 200
    assert app.archive.abspath(item.blob_path).read_bytes() == b"plan"
