"""Staff triage: assign a unit, learn the sender, re-file the same sender's mail, undo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.errors import MailroomError
from storage.layout import OTHER_FOLDER, TRIAGE_FOLDER, UNKNOWN_UNIT
from storage.material import mark_material
from storage.models import AuditEntry, DecisionRecord, Item, Message, SenderAddress
from storage.triage import assign_unit, set_item_kind, undo
from storage.triage_queue import triage_queue
from tests.conftest import LABELLED
from workers.ingest import Ingestor, SourceRef

NO_CLUE = LABELLED / "049-no-clue-at-all.eml"
CONFLICT = LABELLED / "047-conflict-subject-dalian-address-shenyang.eml"
SENDER = "1355826610@qq.com"


def ingest(app, raw: bytes, name: str) -> int:
    ingestor = Ingestor(app, "test")
    outcome = ingestor.ingest(raw, SourceRef("file", name))
    ingestor.finish()
    return outcome.message_pk


@pytest.fixture
def triaged(app):
    """Two clue-less messages from the same QQ address and one conflict, all in triage."""
    first = ingest(app, NO_CLUE.read_bytes(), "first")
    again = NO_CLUE.read_bytes().replace(b"Message-ID: <", b"Message-ID: <again.")
    second = ingest(app, again, "second")
    conflict = ingest(app, CONFLICT.read_bytes(), "conflict")
    return first, second, conflict


def views(app, pk: int) -> list[str]:
    with app.db.session() as session:
        return [i.path for i in session.get(Message, pk).items if i.path]


def on_disk(app, rel: str) -> bool:
    return (app.archive.root / rel).is_file()


def test_triage_queue_lists_candidates_and_clues(app, triaged):
    rows = {row.message_pk: row for row in triage_queue(app)}
    assert set(rows) == set(triaged)
    conflict = rows[triaged[2]]
    assert set(conflict.candidates) == {"shenyang", "dalian"}
    assert conflict.clues[0]["source"] == "address"
    assert conflict.items and conflict.items[0][1] == "活动周稿件.docx"


def test_assign_files_the_message_learns_the_sender_and_refiles_its_other_mail(app, triaged):
    """Photos with no word of any campaign wait for a person for both unit and campaign;
    the clerk's assignment confirms the campaign shown, the learned address only the unit."""
    first, second, _ = triaged
    before = views(app, first) + views(app, second)
    assert all(p.startswith(f"{TRIAGE_FOLDER}/单位待定/") and on_disk(app, p) for p in before)

    result = assign_unit(app, first, "panjin", "韩健")

    assert result.learned_address == SENDER and result.refiled == [second]
    paths = views(app, first)
    assert paths and all("/盘锦市教育局/照片/" in p and on_disk(app, p) for p in paths)
    assert not any(on_disk(app, p) for p in before)
    with app.db.session() as session:
        message = session.get(Message, first)
        assert (message.unit_code, message.status) == ("panjin", "filed")
        assert (message.campaign_code, message.campaign_status) == (
            "2023-vocational-week",
            "assigned",
        )
        assert message.folder.endswith("/盘锦市教育局")
        other = session.get(Message, second)
        assert (other.unit_code, other.status, other.campaign_status) == (
            "panjin",
            "triage",
            "triage",
        )
        decision = session.scalars(
            select(DecisionRecord).where(
                DecisionRecord.message_pk == first,
                DecisionRecord.decided_by == "韩健",
                DecisionRecord.subject == "unit",
            )
        ).one()
        assert decision.value == "panjin"
        learned = session.get(SenderAddress, SENDER)
        assert (learned.unit_code, learned.source, learned.learned_by) == (
            "panjin",
            "learned",
            "韩健",
        )
        assert session.get(Message, second).unit_code == "panjin"
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions == ["assign_unit", "refile_learned"]


def test_refiled_paths_are_the_paths_ingestion_would_choose(app, make_app):
    # The subject names the campaign, so only the unit waits for a person.
    raw = NO_CLUE.read_bytes().replace(b"Subject: ", b"Subject: =?UTF-8?B?5rS75Yqo5ZGo?= ", 1)
    pk = ingest(app, raw, "week photos")
    assign_unit(app, pk, "panjin", "韩健")
    fresh = make_app()
    with fresh.db.session() as session:
        session.add(SenderAddress(address=SENDER, unit_code="panjin", source="learned"))
    fresh_pk = ingest(fresh, raw, "fresh")
    assert views(fresh, fresh_pk) == views(app, pk)
    assert "/盘锦市教育局/照片/" in views(app, pk)[0]


def test_undo_moves_files_back_and_forgets_the_learned_address(app, triaged):
    first, second, _ = triaged
    before = {pk: views(app, pk) for pk in (first, second)}
    result = assign_unit(app, first, "panjin", "韩健")

    undone = undo(app, result.audit_id, "韩健")

    assert len(undone) == 2 and undone[-1] == result.audit_id  # the re-filing, then itself
    for pk in (first, second):
        assert views(app, pk) == before[pk]
        assert all(on_disk(app, p) for p in before[pk])
    for top in ("2023年辽宁省职业教育活动周", TRIAGE_FOLDER):
        assert not (app.archive.root / top / "盘锦市教育局").exists()
    with app.db.session() as session:
        assert session.get(SenderAddress, SENDER) is None
        assert {session.get(Message, pk).status for pk in (first, second)} == {"triage"}
        assert session.get(Message, first).unit_code is None
    with pytest.raises(MailroomError, match="already undone"):
        undo(app, result.audit_id, "韩健")


def test_assigning_a_conflict_keeps_the_configured_address_and_moves_the_item(app, triaged):
    conflict = triaged[2]
    with app.db.session() as session:
        item_id = session.get(Message, conflict).items[0].id
    result = assign_unit(app, conflict, "dalian", "韩健", kinds={item_id: "case"})
    assert result.learned_address is None  # syjyj_zcc@163.com is configured for shenyang
    [path] = views(app, conflict)
    assert "/大连市教育局/典型案例/" in path and on_disk(app, path)
    with app.db.session() as session:
        assert session.get(Item, item_id).kind == "case"
        assert session.get(SenderAddress, "syjyj_zcc@163.com") is None


def test_set_item_kind_moves_the_file_and_undo_moves_it_back(app, triaged):
    conflict = triaged[2]  # its campaign is decided, its unit is not
    with app.db.session() as session:
        item_id = session.get(Message, conflict).items[0].id
    [old] = views(app, conflict)
    audit_id = set_item_kind(app, item_id, "summary", "韩健")
    with app.db.session() as session:
        new = session.get(Item, item_id).path
    assert f"/{TRIAGE_FOLDER}/活动周总结/" in new and on_disk(app, new) and not on_disk(app, old)
    undo(app, audit_id, "韩健")
    assert on_disk(app, old) and not on_disk(app, new)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda app, pk: assign_unit(app, pk, "atlantis", "x"), "unknown unit 'atlantis'"),
        (lambda app, pk: assign_unit(app, 99999, "panjin", "x"), "no message 99999"),
        (lambda app, pk: set_item_kind(app, 1, "poem", "x"), "unknown kind 'poem'"),
        (lambda app, pk: undo(app, 99999, "x"), "no audit entry 99999"),
    ],
)
def test_bad_requests_say_what_to_do(app, triaged, call, message):
    with pytest.raises(MailroomError, match=message):
        call(app, triaged[0])


# -- the commands ---------------------------------------------------------------------


def mailroom(app, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("mailroom")
    return subprocess.run(
        [str(exe), "--config", str(app.config.path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_triage_commands_list_assign_and_undo(app, triaged):
    first = triaged[0]
    listed = mailroom(app, "triage", "list")
    assert listed.returncode == 0, listed.stderr
    assert SENDER in listed.stdout and "candidates: shenyang" in listed.stdout
    assert "3 message(s) in triage" in listed.stdout

    assigned = mailroom(
        app,
        "triage",
        "assign",
        str(first),
        "panjin",
        "--kind",
        "IMG_0346.JPG=photo",
        "--by",
        "韩健",
    )
    assert assigned.returncode == 0, assigned.stderr
    assert f"learned {SENDER} as panjin" in assigned.stdout
    assert f"also filed from the same sender: {triaged[1]}" in assigned.stdout
    audit_id = assigned.stdout.rsplit("mailroom triage undo ", 1)[1].strip()

    undone = mailroom(app, "triage", "undo", audit_id, "--by", "韩健")
    assert undone.returncode == 0 and f"audit {audit_id}" in undone.stdout
    assert "3 message(s) in triage" in mailroom(app, "triage", "list").stdout


def test_triage_assign_to_an_unknown_unit_fails_with_one_line(app, triaged):
    result = mailroom(app, "triage", "assign", str(triaged[0]), "atlantis")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("mailroom: unknown unit 'atlantis'; known codes:")
    assert "Traceback" not in result.stderr


def test_eval_command_prints_the_accuracy_table(app):
    result = mailroom(app, "eval", str(LABELLED / "labels.json"), str(LABELLED))
    assert result.returncode == 0, result.stderr
    assert "confident wrong units                      0" in result.stdout
    assert "unit correct (identifiable messages)       64/64" in result.stdout
    assert "items filed that are not material          0" in result.stdout


def test_eval_command_rejects_a_malformed_labels_file(app, tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text('{"messages": {"a.eml": {"unit": null}}}', encoding="utf-8")
    result = mailroom(app, "eval", str(bad), str(LABELLED))
    assert result.returncode == 1
    assert "a.eml lacks is_material" in result.stderr


def _spam_with_a_picture() -> bytes:
    from email.message import EmailMessage

    from tests.support.media_files import jpeg

    mail = EmailMessage()
    mail["From"] = "李经理 <hx8823571@163.com>"
    mail["To"] = "zcc1.sjyt@ln.gov.cn"
    mail["Subject"] = "代开各类增值税发票（诚信合作）"
    mail["Date"] = "Tue, 16 May 2023 03:12:40 +0800"
    mail["Message-ID"] = "<spam-1@163.com>"
    mail.set_content("本公司长期代开增值税专用发票，税点优惠。加微信 hx8823 咨询。")
    mail.add_attachment(jpeg(640, 480), maintype="image", subtype="jpeg", filename="活动照片.jpg")
    return mail.as_bytes()


def test_spam_marked_material_waits_in_triage_with_its_files_and_undo_puts_it_back(app):
    pk = ingest(app, _spam_with_a_picture(), "spam")
    with app.db.session() as session:
        message = session.get(Message, pk)
        assert (message.status, message.flags, views(app, pk)) == ("not_material", ["spam"], [])
    result = mark_material(app, pk, "韩健")
    assert (result.status, result.unit_code) == ("triage", None)
    [path] = views(app, pk)
    # its subject names another matter (增值税发票): not any campaign's, so 其他来件
    assert path.startswith(f"{OTHER_FOLDER}/{UNKNOWN_UNIT}/") and on_disk(app, path)
    with app.db.session() as session:
        message = session.get(Message, pk)
        assert message.is_material and "spam" not in message.flags
        last = session.scalars(select(DecisionRecord).where(DecisionRecord.message_pk == pk)).all()
        assert last[-1].decided_by == "韩健" and last[-1].evidence["material_after"] == "spam"
    assert pk in {row.message_pk for row in triage_queue(app)}
    with pytest.raises(MailroomError, match="already material"):
        mark_material(app, pk, "韩健")

    undo(app, result.audit_id, "韩健")
    with app.db.session() as session:
        message = session.get(Message, pk)
        assert (message.status, message.is_material, message.flags) == (
            "not_material",
            False,
            ["spam"],
        )
    assert views(app, pk) == [] and not on_disk(app, path)


def test_triage_material_command_moves_spam_back_and_says_how_to_undo(app):
    pk = ingest(app, _spam_with_a_picture(), "spam")
    result = mailroom(app, "triage", "material", str(pk), "--by", "韩健")
    assert result.returncode == 0, result.stderr
    assert f"message {pk} is material, in triage" in result.stdout
    audit_id = result.stdout.rsplit("mailroom triage undo ", 1)[1].strip()
    again = mailroom(app, "triage", "material", str(pk))
    assert again.returncode == 1 and "already material" in again.stderr
    assert mailroom(app, "triage", "undo", audit_id).returncode == 0
    with app.db.session() as session:
        assert session.get(Message, pk).status == "not_material"


def test_assigning_a_unit_moves_an_archives_members_with_it_and_they_stay_findable(app):
    from storage.search import search
    from tests.support import archive_files as af
    from tests.support import media_files as files

    zipped = af.zip_bytes({"开幕式合影.jpg": files.jpeg(), "内层/闭幕式.jpg": files.jpeg(200, 150)})
    raw = files.message(
        "活动照片", [("照片.zip", zipped, "application/zip")], sender="zhang.wei@example.com"
    )
    pk = ingest(app, raw, "archive")
    with app.db.session() as session:
        before = {i.name: i.path for i in session.get(Message, pk).items}
    assert before["开幕式合影.jpg"].startswith("2023年辽宁省职业教育活动周/待分拣/")
    assign_unit(app, pk, "dalian", "editor")
    with app.db.session() as session:
        after = {i.name: i.path for i in session.get(Message, pk).items}
        hits, _ = search(session, "开幕")
        found = {session.get(Item, h.item_id).name for h in hits if h.item_id}
    archive_folder = after["照片.zip"].removesuffix(".zip")
    assert "/大连市教育局/" in archive_folder
    assert after["开幕式合影.jpg"] == f"{archive_folder}/开幕式合影.jpg"
    assert after["内层/闭幕式.jpg"] == f"{archive_folder}/内层/闭幕式.jpg"
    assert all(on_disk(app, p) for p in after.values())
    assert not any(on_disk(app, p) for p in before.values() if p not in after.values())
    assert found == {"开幕式合影.jpg"}
