"""Receipts, reminders and exports follow each message's campaign; 其他来件 is never chased."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from pipeline.notice import propose, read_notice
from storage import campaigns as store
from tests.conftest import DATA
from tests.workers.reports.conftest import ingest_files
from workers.export import export_items, export_messages
from workers.reports.receipts import send_receipts
from workers.reports.reminders import make_reminders

TZ = ZoneInfo("Asia/Shanghai")
MIXED = DATA / "mixed"
MONTH = "2023-skills-month"


def _open_month(ctx) -> None:
    month = propose(read_notice(DATA / "notices" / "notice-2023-skills-month.md"), MONTH).campaign
    with ctx.db.session() as session:
        store.save_campaign(session, replace(month, state="open"), actor="test")


def test_other_business_gets_no_receipt_and_a_second_campaigns_mail_names_it(make_app, smtp_server):
    ctx = make_app(smtp_server.toml() + "[receipts]\nenabled = true\nmax_age_hours = 100000\n")
    _open_month(ctx)
    ingest_files(
        ctx,
        [
            MIXED / "002-syvtc-enrolment-expansion-summary.eml",
            MIXED / "042-dalian-month-stories.eml",
        ],
    )
    plan = send_receipts(ctx, ctx.config.reports, datetime(2023, 6, 1, 9, 0, tzinfo=TZ))
    assert ("gaojie_syvtc@163.com", "belongs to no campaign") in {
        (address, reason) for _, address, reason in plan.suppressed
    }
    (msg,) = smtp_server.received.messages()
    body = msg.get_body(("plain",)).get_content()
    assert msg["To"] == "zhangli@dl.edu.example.cn" and "主题宣传月活动材料" in body
    assert "优秀学生事迹材料.docx → 优秀学生事迹" in body


def test_each_open_campaign_reminds_for_its_own_kinds(make_app):
    ctx = make_app("[reminders]\nenabled = true\ndays_before = [3]\n")
    _open_month(ctx)
    # 2023-06-27: three days before the month's summary and cases are due (06-30); the
    # week has nothing due then.
    done = make_reminders(ctx, ctx.config.reports, datetime(2023, 6, 27, 9, 0, tzinfo=TZ))
    assert {d.campaign for d in done} == {MONTH}
    assert {d.kind for d in done} == {"summary", "case"}
    assert "shenfu" not in {d.unit for d in done}  # the month does not address the zone
    assert make_reminders(ctx, ctx.config.reports, datetime(2023, 6, 27, 9, 0, tzinfo=TZ)) == []


def test_exports_say_each_messages_campaign(make_app):
    ctx = make_app()
    _open_month(ctx)
    ingest_files(
        ctx,
        [
            MIXED / "002-syvtc-enrolment-expansion-summary.eml",  # 其他来件
            MIXED / "042-dalian-month-stories.eml",  # the month
            MIXED / "047-panjin-week-and-month.eml",  # names both: waits in triage
        ],
    )
    messages = {m["subject"][:7]: m for m in export_messages(ctx)}
    assert messages["沈阳职业技术学"]["campaign"] is None
    assert messages["沈阳职业技术学"]["campaign_confidence"] == 1.0
    assert messages["大连市宣传月优"]["campaign"] == MONTH
    assert messages["活动周及宣传月"]["campaign"] is None
    items = {i["name"]: i for i in export_items(ctx)}
    assert items["优秀学生事迹材料.docx"]["campaign"] == MONTH
    assert items["优秀学生事迹材料.docx"]["kind"] == "story"
    assert items["沈阳职业技术学院2023年高职扩招专项工作总结.docx"]["kind"] is None
    other = list(export_messages(ctx, campaign="_other"))
    assert [m["subject"] for m in other] == ["沈阳职业技术学院2023年高职扩招专项工作总结"]


def test_the_daily_report_lists_inquiries_waiting_for_an_answer(make_app):
    from workers.reports.outputs import make_daily_report

    ctx = make_app()
    ingest_files(ctx, [MIXED / "037-shenyang-asks-about-seals.eml"])
    day = datetime(2023, 5, 26, tzinfo=TZ).date()
    result = make_daily_report(
        ctx, ctx.config.reports, day, datetime(2023, 5, 27, 8, 0, tzinfo=TZ), send=False
    )
    assert "待回复（1）" in result.text and "请问活动周总结是否需要盖章？" in result.text
    assert "mailto:syjyj_zcc@163.com?subject=" in result.text
    assert "沈阳市教育局" in result.text.split("待回复（1）")[1]
