"""`mailroom campaign …` and the reports' --campaign: a notice proposed, checked, opened,
corrected and closed; several open campaigns make the commands ask which one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from pipeline.campaign import Campaign
from storage.models import Message
from tests.conftest import DATA, write_config
from workers.app import open_context
from workers.cli import cli
from workers.config import load_config
from workers.ingest import Ingestor, SourceRef

NOTICES = DATA / "notices"
MONTH = "2023-skills-month"


def mailroom(site: Path, *args: str, ok: bool = True):
    result = CliRunner().invoke(cli, ["--config", str(site / "config.toml"), *args])
    if ok:
        assert result.exit_code == 0, result.output + str(result.exception)
    return result


def test_dry_run_prints_the_seed_notices_proposal_as_json_and_saves_nothing(tmp_path):
    write_config(tmp_path)
    mailroom(tmp_path, "migrate")  # the index the listing reads (list makes none)
    seed = NOTICES / "seed-2023-vocational-week.md"
    out = mailroom(tmp_path, "campaign", "add", "--from-notice", str(seed), "--dry-run",
                   "--format", "json").stdout  # fmt: skip
    proposal = json.loads(out)
    shipped = load_config(tmp_path / "config.toml").campaign
    proposed = Campaign.from_dict(proposal["campaign"])
    assert replace(proposed, code=shipped.code, state="open") == shipped
    assert proposal["sources"]["kinds.summary"].startswith("活动周结束后一周内")
    listed = mailroom(tmp_path, "campaign", "list", "--format", "json").stdout
    assert [c["code"] for c in json.loads(listed)] == ["2023-vocational-week"]


def test_a_notice_becomes_a_draft_then_opens_and_the_reports_ask_which_campaign(tmp_path):
    write_config(tmp_path)
    notice = NOTICES / "notice-2023-skills-month.md"
    added = mailroom(tmp_path, "campaign", "add", "--from-notice", str(notice), "--code", MONTH)
    assert (
        "「宣传月结束后15日内" in added.output and f"mailroom campaign open {MONTH}" in added.output
    )
    assert "draft" in mailroom(tmp_path, "campaign", "list").output
    # one campaign open: the commands work as before
    mailroom(tmp_path, "report", "tracker", "--date", "2023-05-20")

    mailroom(tmp_path, "campaign", "open", MONTH)
    asked = mailroom(tmp_path, "report", "tracker", "--date", "2023-05-20", ok=False)
    assert asked.exit_code == 1
    assert "2023-vocational-week" in str(asked.exception) and MONTH in str(asked.exception)
    rows = json.loads(
        mailroom(tmp_path, "report", "tracker", "--campaign", MONTH, "--date", "2023-06-01").stdout
    )
    assert {r["kind"] for r in rows} == {"roster", "story", "video", "summary", "case"}
    assert {r["unit"] for r in rows} >= {"shenyang", "dlvtc"} and "shenfu" not in {
        r["unit"] for r in rows
    }
    daily = mailroom(tmp_path, "report", "daily", "--date", "2023-05-20", "--campaign", "all",
                     "--show").output  # fmt: skip
    assert "2023年辽宁省职业教育活动周 报送进度" in daily and "主题宣传月活动 报送进度" in daily
    one = mailroom(tmp_path, "report", "daily", "--date", "2023-05-20", "--campaign", MONTH).output
    assert f"每日报告-2023-05-20-{MONTH}.html" in one


def test_config_campaigns_are_edited_in_config_and_notice_campaigns_here(tmp_path):
    write_config(tmp_path)
    refused = mailroom(tmp_path, "campaign", "edit", "2023-vocational-week", "--end",
                       "2023-05-26", ok=False)  # fmt: skip
    assert refused.exit_code == 1 and "config.toml" in str(refused.exception)
    notice = NOTICES / "notice-2023-skills-month.md"
    mailroom(tmp_path, "campaign", "add", "--from-notice", str(notice), "--code", MONTH, "--open")
    ctx = open_context(load_config(tmp_path / "config.toml"))
    try:
        ingestor = Ingestor(ctx, "test")
        mail = DATA / "mixed" / "045-anshan-month-summary.eml"
        pk = ingestor.ingest(mail.read_bytes(), SourceRef("file", mail.name)).message_pk
        ingestor.finish()
    finally:
        ctx.close()

    edited = mailroom(tmp_path, "campaign", "edit", MONTH, "--label", "summary=宣传月总结",
                      "--end", "2023-06-20", "--due", "story=2023-06-10")  # fmt: skip
    assert "1 file(s) moved" in edited.output
    shown = json.loads(mailroom(tmp_path, "campaign", "list", "--format", "json").stdout)
    month = next(c for c in shown if c["code"] == MONTH)
    kinds = {k["code"]: k for k in month["kinds"]}
    assert kinds["summary"]["label"] == "宣传月总结" and kinds["summary"]["due"] == "2023-07-05"
    assert kinds["story"]["due"] == "2023-06-10" and month["messages"] == 1
    ctx = open_context(load_config(tmp_path / "config.toml"))
    try:
        with ctx.db.session() as session:
            [item] = [i for i in session.get(Message, pk).items if i.role == "material"]
            assert "/宣传月总结/" in item.path and ctx.archive.abspath(item.path).is_file()
    finally:
        ctx.close()

    wrong = mailroom(tmp_path, "campaign", "edit", MONTH, "--timezone", "Asia/Shenyang", ok=False)
    assert wrong.exit_code == 1 and "timezone: 'Asia/Shenyang' is not a time zone name" in str(
        wrong.exception
    )
    moved = mailroom(tmp_path, "campaign", "edit", MONTH, "--timezone", "Pacific/Honolulu")
    assert "1 file(s) moved" in moved.output  # the day folders are local days
    ctx = open_context(load_config(tmp_path / "config.toml"))
    try:
        with ctx.db.session() as session:
            message = session.get(Message, pk)
            [item] = [i for i in message.items if i.role == "material"]
            day = message.received_at.astimezone(ZoneInfo("Pacific/Honolulu")).date()
            assert day != message.received_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
            assert f"/{day.isoformat()} " in item.path and ctx.archive.abspath(item.path).is_file()
            assert ctx.campaign_by_code(MONTH, session).timezone == "Pacific/Honolulu"
    finally:
        ctx.close()

    mailroom(tmp_path, "campaign", "close", MONTH)
    assert "closed" in mailroom(tmp_path, "campaign", "list").output


def test_a_notice_that_is_not_text_is_one_line(tmp_path):
    write_config(tmp_path)
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n%%EOF\n")
    result = mailroom(tmp_path, "campaign", "add", "--from-notice", str(scan), ok=False)
    assert result.exit_code == 1 and "scan.pdf" in str(result.exception)


def test_triage_puts_a_message_in_other_business_and_back_from_the_command_line(tmp_path):
    write_config(tmp_path)
    ctx = open_context(load_config(tmp_path / "config.toml"))
    try:
        ingestor = Ingestor(ctx, "test")
        photos = DATA / "labelled" / "037-chaoyang-photos-heic.eml"  # its campaign waits
        waiting = ingestor.ingest(photos.read_bytes(), SourceRef("file", photos.name)).message_pk
        plan = DATA / "labelled" / "001-shenyang-plan-known-address.eml"
        filed = ingestor.ingest(plan.read_bytes(), SourceRef("file", plan.name)).message_pk
        ingestor.finish()
    finally:
        ctx.close()
    listed = mailroom(tmp_path, "triage", "list").stdout
    assert (
        "unit: chaoyang (decided)" in listed
        and "campaign undecided: 2023-vocational-week" in listed
    )
    assigned = mailroom(tmp_path, "triage", "assign", str(waiting), "chaoyang", "--campaign",
                        "_other", "--by", "韩健")  # fmt: skip
    assert "message" in assigned.stdout
    moved = mailroom(tmp_path, "triage", "campaign", str(filed), "_other", "--by", "韩健").stdout
    assert f"message {filed} -> 其他来件" in moved and "1 kind(s) changed" in moved
    audit = moved.rsplit("mailroom triage undo ", 1)[1].strip()
    mailroom(tmp_path, "triage", "undo", audit)
    ctx = open_context(load_config(tmp_path / "config.toml"))
    try:
        with ctx.db.session() as session:
            assert session.get(Message, waiting).campaign_status == "other"
            assert session.get(Message, waiting).status == "filed"
            back = session.get(Message, filed)
            assert (back.campaign_status, back.campaign_code) == (
                "assigned",
                "2023-vocational-week",
            )
    finally:
        ctx.close()
