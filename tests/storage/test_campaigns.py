"""Campaigns in the index: seeded from config, an old index carried over, assigning a campaign
or 其他来件 in triage (kinds re-planned, files moved, undoable)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text

from pipeline.notice import propose, read_notice
from storage import campaigns as store
from storage.campaign_triage import assign_campaign
from storage.db import alembic_config
from storage.models import Item, Message
from storage.triage import undo
from tests.conftest import DATA, LABELLED, write_config
from workers.app import open_context
from workers.config import load_config
from workers.ingest import Ingestor, SourceRef

WEEK = "2023-vocational-week"
BEFORE_CAMPAIGNS = ("0003", "0004", "0005", "0006")  # every branch's head before campaigns


def _url(database: str, request, tmp_path) -> str:
    if database == "postgres":
        return request.getfixturevalue("postgres").create_database()
    return f"sqlite:///{tmp_path / 'old.db'}"


@pytest.mark.both_databases
def test_an_index_from_before_campaigns_files_its_messages_under_the_seeded_one(
    database, request, tmp_path
):
    url = _url(database, request, tmp_path)
    engine = create_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        for head in BEFORE_CAMPAIGNS:
            command.upgrade(cfg, head)
        connection.execute(
            text(
                "INSERT INTO messages (raw_sha256, raw_path, raw_size, message_id, source, "
                "received_at, received_source, from_addr, from_name, to_addrs, subject, "
                "body_text, body_html, confidence, status, is_material, flags, ingested_at) "
                "VALUES ('a', 'raw/a.eml', 1, '<old@x>', '', :now, 'imap', 'a@x', '', '[]', "
                "'活动周方案', '', '', 1.0, 'filed', :yes, '[]', :now)"
            ),
            {"now": datetime(2023, 5, 6, tzinfo=UTC), "yes": True},
        )
    engine.dispose()
    site = tmp_path / "site"
    ctx = open_context(load_config(write_config(site, database_url=url)))
    try:
        with ctx.db.session() as session:
            message = session.scalar(select(Message).where(Message.message_id == "<old@x>"))
            assert (message.campaign_code, message.campaign_status) == (WEEK, "assigned")
            assert [c.code for c in store.load_campaigns(session)] == [WEEK]
    finally:
        ctx.close()


def test_config_seeds_its_campaign_and_closes_the_one_it_replaced(make_app, tmp_path):
    ctx = make_app(folder=tmp_path / "site")
    assert [(c.code, c.state) for c in ctx.campaigns()] == [(WEEK, "open")]
    ctx.close()
    notice = (DATA / "notices" / "notice-2024-vocational-week.txt").read_text(encoding="utf-8")
    campaign = propose(notice, "2024-week").campaign
    kinds = "".join(
        f'[[kinds]]\ncode = "{k.code}"\nlabel = "{k.label}"\n'
        + (f"due = {k.due.isoformat()}\n" if k.due else "")
        + ("required = false\n" if not k.required else "")
        for k in campaign.kinds
    )
    extra = (
        f'[campaign]\ncode = "2024-week"\nname = "{campaign.name}"\nstart = {campaign.start}\n'
        f"end = {campaign.end}\n{kinds}"
    )
    again = make_app(extra, folder=tmp_path / "site")
    states = {c.code: c.state for c in again.campaigns()}
    assert states == {WEEK: "closed", "2024-week": "open"}
    assert "活动周" in again.campaign_by_code("2024-week").words  # words from its name


def _ingest(app, path) -> int:
    ingestor = Ingestor(app, "test")
    pk = ingestor.ingest(path.read_bytes(), SourceRef("file", path.name)).message_pk
    ingestor.finish()
    return pk


@pytest.mark.both_databases
def test_putting_a_message_in_other_business_and_back(app):
    pk = _ingest(app, LABELLED / "030-anshan-summary-known-address.eml")
    with app.db.session() as session:
        before = {i.id: (i.kind, i.path) for i in session.get(Message, pk).items if i.path}
    assert any("/鞍山市教育局/活动周总结/" in p for _, p in before.values() if p.endswith(".docx"))

    result = assign_campaign(app, pk, "_other", "韩健")

    with app.db.session() as session:
        message = session.get(Message, pk)
        assert (message.campaign_code, message.campaign_status, message.status) == (
            None,
            "other",
            "filed",
        )
        assert "early" not in message.flags
        items = [i for i in message.items if i.path]
        assert all(i.kind is None and i.path.startswith("其他来件/鞍山市教育局/") for i in items)
        assert all(app.archive.abspath(i.path).is_file() for i in items)
    undo(app, result.audit_id, "韩健")
    with app.db.session() as session:
        message = session.get(Message, pk)
        assert message.campaign_status == "assigned" and message.campaign_code == WEEK
        assert {i.id: (i.kind, i.path) for i in message.items if i.path} == before


def test_putting_a_message_in_another_campaign_replans_its_kinds(app):
    month = propose(
        read_notice(DATA / "notices" / "notice-2023-skills-month.md"), "2023-skills-month"
    ).campaign
    with app.db.session() as session:
        store.save_campaign(session, replace(month, state="open"), actor="test")
    pk = _ingest(app, LABELLED / "041-panjin-summary-late.eml")  # 活动周工作总结.docx
    assign_campaign(app, pk, "2023-skills-month", "韩健")
    with app.db.session() as session:
        message = session.get(Message, pk)
        [item] = [i for i in message.items if i.role == "material"]
        assert (message.campaign_code, item.kind) == ("2023-skills-month", "summary")
        assert item.path.startswith(f"{month.name}/盘锦市教育局/宣传月工作总结/")
        assert "late" not in message.flags  # due 06-30 in the month; it came 06-02
    with pytest.raises(Exception, match="draft"):
        with app.db.session() as session:
            store.set_state(session, "2023-skills-month", "draft")
        assign_campaign(app, pk, "2023-skills-month", "韩健")


def test_an_archives_members_follow_it_into_other_business_and_another_campaign(app):
    month = propose(
        read_notice(DATA / "notices" / "notice-2023-skills-month.md"), "2023-skills-month"
    ).campaign
    with app.db.session() as session:
        store.save_campaign(session, replace(month, state="open"), actor="test")
    pk = _ingest(app, LABELLED / "073-huludao-windows-zip-junk.eml")

    def members() -> tuple[str, dict[str, tuple[str | None, str]]]:
        with app.db.session() as session:
            items = session.get(Message, pk).items
            [archive] = [i for i in items if i.name == "稿件和照片.zip"]
            inside = {i.name: (i.kind, i.path) for i in items if i.container_id == archive.id}
            assert all(app.archive.abspath(p).is_file() for _, p in inside.values())
            return archive.path, inside

    week_zip, week = members()
    assert week_zip.startswith("2023年辽宁省职业教育活动周/葫芦岛市教育局/")
    assert week["稿件/活动周通讯稿.docx"][0] == "manuscript"
    assign_campaign(app, pk, "_other", "韩健")
    other_zip, other = members()
    folder = other_zip.removesuffix(".zip")
    assert other_zip.startswith("其他来件/葫芦岛市教育局/")
    assert other == {
        "稿件/活动周通讯稿.docx": (None, f"{folder}/稿件/活动周通讯稿.docx"),
        "照片/现场.jpg": (None, f"{folder}/照片/现场.jpg"),
    }
    assign_campaign(app, pk, "2023-skills-month", "韩健")
    month_zip, month_members = members()
    assert month_zip.startswith(f"{month.name}/葫芦岛市教育局/")
    folder = month_zip.removesuffix(".zip")
    assert {name: path for name, (_, path) in month_members.items()} == {
        "稿件/活动周通讯稿.docx": f"{folder}/稿件/活动周通讯稿.docx",
        "照片/现场.jpg": f"{folder}/照片/现场.jpg",
    }
    assert all(kind for kind, _ in month_members.values())  # the month's kinds
    left = [p for _, p in [*week.values(), *other.values()]]
    assert not any(app.archive.abspath(p).exists() for p in left)


def test_the_tracker_never_counts_a_message_whose_campaign_waits(app):
    pk = _ingest(app, LABELLED / "037-chaoyang-photos-heic.eml")  # 照片 with no campaign word
    with app.db.session() as session:
        message = session.get(Message, pk)
        assert (message.unit_code, message.status, message.campaign_status) == (
            "chaoyang",
            "triage",
            "triage",
        )
        paths = [i.path for i in session.scalars(select(Item).where(Item.message_pk == pk))]
        assert all(p.startswith("待分拣/朝阳市教育局/") for p in paths if p)
    from workers.reports.outputs import tracker

    rows = tracker(app, datetime(2023, 6, 1).date(), app.campaign)
    assert next(r for r in rows if (r.unit, r.kind) == ("chaoyang", "photo")).items == 0


OPEN = (
    "import sys; from pathlib import Path; from workers.app import open_context; "
    "from workers.config import load_config; "
    "open_context(load_config(Path(sys.argv[1]))).close()"
)


@pytest.mark.both_databases
def test_several_processes_opening_a_fresh_index_seed_its_campaign_once(
    database, request, tmp_path
):
    import subprocess
    import sys

    url = _url(database, request, tmp_path)
    config = write_config(tmp_path / "site", database_url=url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, str(config)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    ctx = open_context(load_config(config))
    try:
        assert [c.code for c in ctx.campaigns()] == [WEEK]
    finally:
        ctx.close()
