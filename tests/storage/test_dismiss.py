"""不是材料: a dismissed message leaves triage and the folders, stays searchable, comes back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.errors import MailroomError
from storage.dismiss import assign_many, dismiss, dismiss_many
from storage.models import AuditEntry, DecisionRecord, Message
from storage.search import search
from storage.triage import undo
from storage.triage_queue import triage_queue
from tests.conftest import LABELLED
from workers.ingest import Ingestor, SourceRef

NO_CLUE = LABELLED / "049-no-clue-at-all.eml"
CONFLICT = LABELLED / "047-conflict-subject-dalian-address-shenyang.eml"


@pytest.fixture
def queued(app) -> list[int]:
    """Three messages in triage: two clue-less copies from one QQ address and a conflict."""
    ingestor = Ingestor(app, "test")
    raws = [
        NO_CLUE.read_bytes(),
        NO_CLUE.read_bytes().replace(b"Message-ID: <", b"Message-ID: <again."),
        CONFLICT.read_bytes(),
    ]
    pks = [
        ingestor.ingest(raw, SourceRef("file", f"m{n}")).message_pk for n, raw in enumerate(raws)
    ]
    ingestor.finish()
    return pks


def views(app, pk: int) -> list[str]:
    with app.db.session() as session:
        return [i.path for i in session.get(Message, pk).items if i.path]


@pytest.mark.both_databases
def test_dismissed_mail_leaves_triage_and_the_folders_and_undo_brings_it_back(app, queued):
    pk = queued[2]
    before = views(app, pk)
    assert before and all((app.archive.root / p).is_file() for p in before)

    audit_id = dismiss(app, pk, "spam", "韩健")

    assert pk not in {row.message_pk for row in triage_queue(app)}
    assert views(app, pk) == [] and not any((app.archive.root / p).exists() for p in before)
    with app.db.session() as session:
        message = session.get(Message, pk)
        assert (message.status, message.is_material, message.unit_code) == (
            "not_material",
            False,
            None,
        )
        decision = session.scalars(
            select(DecisionRecord)
            .where(DecisionRecord.message_pk == pk)
            .order_by(DecisionRecord.id.desc())
        ).first()
        assert decision.evidence["not_material"] == "spam" and decision.decided_by == "韩健"
        hits, _ = search(session, "活动周稿件")
        assert pk in {h.message_pk for h in hits}  # still in the index and in search

    undo(app, audit_id, "韩健")

    assert views(app, pk) == before and all((app.archive.root / p).is_file() for p in before)
    assert pk in {row.message_pk for row in triage_queue(app)}


def test_bulk_dismiss_is_one_undo_and_each_message_keeps_its_own_entry(app, queued):
    result = dismiss_many(app, queued, "newsletter", "韩健")
    assert result.done == queued and not result.refused
    assert triage_queue(app) == []
    with app.db.session() as session:
        per_message = session.scalars(
            select(AuditEntry.target).where(AuditEntry.action == "dismiss")
        ).all()
        assert sorted(per_message) == sorted(f"message:{pk}" for pk in queued)

    undone = undo(app, result.audit_id, "韩健")

    assert len(undone) == len(queued) + 1
    assert {row.message_pk for row in triage_queue(app)} == set(queued)


def test_bulk_undo_skips_a_message_changed_since_and_restores_the_rest(app, queued):
    result = dismiss_many(app, queued[:2], "spam", "韩健")
    with app.db.session() as session:
        first_entry = session.scalars(
            select(AuditEntry.id).where(AuditEntry.target == f"message:{queued[0]}")
        ).one()
    undo(app, first_entry, "韩健")  # moved back on its own
    assign_many(app, [queued[0]], "panjin", "韩健")  # then filed

    undo(app, result.audit_id, "韩健")

    with app.db.session() as session:
        assert session.get(Message, queued[0]).unit_code == "panjin"
        assert session.get(Message, queued[1]).status == "triage"


def test_a_dismissal_needs_a_known_reason_and_a_message_in_triage_or_filed(app, queued):
    with pytest.raises(MailroomError, match="unknown reason 'junk'"):
        dismiss(app, queued[0], "junk", "x")
    dismiss(app, queued[0], "inquiry", "x")
    with pytest.raises(MailroomError, match="is not_material, not in triage or filed"):
        dismiss(app, queued[0], "spam", "x")
    partly = dismiss_many(app, queued[:2], "spam", "x")
    assert partly.done == [queued[1]] and list(partly.refused) == [queued[0]]


def mailroom(app, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("mailroom")
    return subprocess.run(
        [str(exe), "--config", str(app.config.path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_triage_commands_list_json_dismiss_history_and_undo(app, queued):
    listed = mailroom(app, "triage", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(queued)  # every one, oldest first
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    assert {"id", "message_id", "date", "from", "subject", "candidates"} <= set(rows[0])

    dismissed = mailroom(
        app, "triage", "dismiss", str(queued[2]), "--reason", "spam", "--by", "韩健"
    )
    assert dismissed.returncode == 0, dismissed.stderr
    audit_id = dismissed.stdout.rsplit("mailroom triage undo ", 1)[1].strip()
    assert len(mailroom(app, "triage", "list", "--format", "json").stdout.splitlines()) == 2

    history = mailroom(app, "triage", "history", str(queued[2]))
    assert f"{audit_id}" in history.stdout and "dismiss" in history.stdout

    both = mailroom(
        app, "triage", "dismiss", str(queued[0]), str(queued[1]), "--reason", "newsletter"
    )
    assert both.returncode == 0 and "2 message(s) are not material" in both.stdout
    assert mailroom(app, "triage", "list").stdout.strip() == "triage is empty"

    assert mailroom(app, "triage", "undo", audit_id).returncode == 0
    assert mailroom(app, "triage", "list", "--format", "json").stdout.count("\n") == 1

    bad = mailroom(app, "triage", "dismiss", str(queued[0]), "--reason", "junk")
    assert bad.returncode == 2 and "junk" in bad.stderr
