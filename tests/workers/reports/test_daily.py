"""The daily report: sent through a real SMTP receiver, parsed back, numbers checked against the index."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from pipeline.reasons import short_label
from storage.models import Message
from storage.report_models import OutboxMail
from workers.cli import cli
from workers.export import export_items, export_messages
from workers.reports.jobs import daily_if_due, tick
from workers.reports.mailer import flush_outbox
from workers.reports.outputs import list_saved_reports, make_daily_report

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2023, 5, 20)
MORNING_AFTER = datetime(2023, 5, 21, 8, 0, tzinfo=TZ)
RECIPIENTS = '[report]\nrecipients = ["boss@example.cn", "clerk@example.cn"]\n'


def parts(msg):
    """Returns (text, html, {filename: bytes}) of a parsed message."""
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    files = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
    return text, html, files


def test_report_is_sent_with_html_text_and_a_workbook_matching_the_index(corpus_app, smtp_server):
    ctx = corpus_app(smtp_server.toml() + RECIPIENTS)
    result = make_daily_report(ctx, ctx.config.reports, DAY, MORNING_AFTER, send=True)
    assert result.sent
    ((mail_from, rcpts, _),) = smtp_server.received.envelopes
    assert mail_from == "zcc1.sjyt@ln.gov.cn" and rcpts == ["boss@example.cn", "clerk@example.cn"]
    (msg,) = smtp_server.received.messages()
    text, html, files = parts(msg)

    day_messages = list(export_messages(ctx, since=DAY, until=DAY))
    day_items = list(export_items(ctx, since=DAY, until=DAY))
    assert f"收到邮件 {len(day_messages)} 封" in text
    assert f"来件 {len(day_messages)} 封" in msg["Subject"]
    photos = sum(1 for i in day_items if i["media"] == "image" and not i["duplicate_of"])
    assert f"照片/图片 {photos}" in text
    assert "2023年辽宁省职业教育活动周" in html and "<style" not in html
    assert 'style="' in html and "bgcolor=" in html  # inline styles, for Outlook and QQ Mail

    book = load_workbook(io.BytesIO(files["每日报告-2023-05-20.xlsx"]))
    assert book.sheetnames == ["报送进度", "进度明细", "当日来件明细"]
    grid, tracker, detail = book["报送进度"], book["进度明细"], book["当日来件明细"]
    assert grid.freeze_panes == "B2" and detail.freeze_panes == "A2"
    assert grid.max_row - 1 == len(ctx.config.units) and grid.max_column == 1 + 6
    # the grid's cells are coloured by state, as in the HTML report
    assert {grid.cell(r, 2).fill.fgColor.rgb[-6:] for r in range(2, grid.max_row + 1)} >= {
        "E6F4EA",
        "FCE8E6",
    }
    assert tracker.cell(1, 1).value == "单位" and detail.cell(1, 4).value == "邮件主题"
    assert tracker.max_row - 1 == len(ctx.config.units) * 6
    bare = sum(1 for m in day_messages if m["items"] == 0)
    assert detail.max_row - 1 == len(day_items) + bare
    assert tracker.column_dimensions["A"].width >= 20


def test_tracker_in_text_lists_silent_units_and_days_left(corpus_app):
    ctx = corpus_app()
    result = make_daily_report(ctx, ctx.config.reports, DAY, MORNING_AFTER, send=False)
    assert "活动周方案 5月8日（已过 12 天）" in result.text
    assert "活动周总结 6月1日（还剩 12 天）" in result.text
    silent = re.search(r"尚无任何来件的单位（(\d+)）：(.+)", result.text)
    assert silent and "辽阳市教育局" in silent[2]  # its first mail came on 05-22
    late = re.search(r"逾期报送：(.+)", result.text)
    assert late and "抚顺市教育局（5月10日）" in late[1]  # its plan came after 05-08


def test_files_are_saved_under_reports_and_listed(corpus_app):
    ctx = corpus_app()
    make_daily_report(ctx, ctx.config.reports, DAY, MORNING_AFTER, send=False)
    folder = ctx.config.storage.archive_dir / "reports" / "daily" / "2023-05-20"
    assert sorted(p.suffix for p in folder.iterdir()) == [".html", ".txt", ".xlsx"]
    (saved,) = list_saved_reports(ctx)
    assert saved["day"] == "2023-05-20" and saved["send_status"] == "not_sent"
    assert ctx.archive.exists(saved["xlsx_path"])


def test_smtp_down_keeps_the_files_and_the_next_tick_sends(corpus_app, smtp_down, caplog):
    ctx = corpus_app(smtp_down.toml() + RECIPIENTS)
    rc = ctx.config.reports
    result = make_daily_report(ctx, rc, DAY, MORNING_AFTER, send=True)
    assert not result.sent and "cannot send mail via 127.0.0.1" in result.send_error
    assert ctx.archive.exists(result.xlsx_path) and ctx.archive.exists(result.html_path)
    assert "sending daily" in caplog.text

    smtp_down.start()
    early = flush_outbox(ctx.db, rc.smtp, MORNING_AFTER + timedelta(minutes=1))
    assert early.sent == 0 and smtp_down.received.envelopes == []  # still backing off
    tick(ctx, rc, MORNING_AFTER + timedelta(minutes=6))
    assert len(smtp_down.received.envelopes) == 1
    with ctx.db.session() as session:
        row = session.scalar(select(OutboxMail))
        assert (row.status, row.attempts) == ("sent", 2)
    assert list_saved_reports(ctx)[0]["send_status"] == "sent"


def test_failures_back_off_and_are_given_up_after_max_attempts(corpus_app, smtp_down):
    ctx = corpus_app(smtp_down.toml() + "retry_minutes = 1\nmax_attempts = 3\n" + RECIPIENTS)
    rc = ctx.config.reports
    make_daily_report(ctx, rc, DAY, MORNING_AFTER, send=True)
    now = MORNING_AFTER
    for minutes in (1, 2):  # waits 1 then 2 minutes
        now += timedelta(minutes=minutes)
        flush_outbox(ctx.db, rc.smtp, now)
    with ctx.db.session() as session:
        assert session.scalar(select(OutboxMail.status)) == "failed"


def test_scheduled_job_reports_yesterday_once_after_the_configured_time(corpus_app, smtp_server):
    ctx = corpus_app(
        smtp_server.toml() + RECIPIENTS.replace("[report]", '[report]\ntime = "07:30"')
    )
    rc = ctx.config.reports
    assert daily_if_due(ctx, rc, datetime(2023, 5, 21, 7, 29, tzinfo=TZ)) is None
    made = daily_if_due(ctx, rc, datetime(2023, 5, 21, 7, 30, tzinfo=TZ))
    assert made is not None and made.day == DAY and made.sent
    assert daily_if_due(ctx, rc, datetime(2023, 5, 21, 9, 0, tzinfo=TZ)) is None
    assert len(smtp_server.received.envelopes) == 1


def test_cli_daily_prints_the_text_and_saves_files(corpus_app):
    ctx = corpus_app()
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(ctx.config.path),
            "report",
            "daily",
            "--date",
            "2023-05-20",
            "--no-send",
            "--show",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "每日材料报告 2023-05-20" in result.output
    assert sum(line.startswith("saved ") for line in result.output.splitlines()) == 3


def test_cli_send_without_smtp_names_the_key(corpus_app):
    ctx = corpus_app()
    result = CliRunner().invoke(
        cli, ["--config", str(ctx.config.path), "report", "daily", "--date", "2023-05-20", "--send"]
    )
    assert result.exit_code != 0 and "smtp.host" in str(result.exception)


def test_every_report_command_has_help_with_an_example():
    group = cli.get_command(click.Context(cli), "report")  # commands load lazily
    assert "Example:" in group.help
    for name, command in group.commands.items():
        assert "Example:" in (command.help or ""), name


def test_service_registers_the_daily_job_at_the_configured_time(app):
    import threading

    from apscheduler.schedulers.background import BackgroundScheduler

    from workers.reports.jobs import register_report_jobs

    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    register_report_jobs(scheduler, app, threading.Event())
    daily = scheduler.get_job("report-daily")
    assert "hour='8'" in str(daily.trigger) and "minute='0'" in str(daily.trigger)
    assert scheduler.get_job("report-tick") is not None


def test_a_damaged_file_is_a_problem_with_what_to_do(make_app):
    from tests.conftest import MAIL
    from tests.workers.reports.conftest import ingest_files

    ctx = make_app()
    ingest_files(ctx, [MAIL / "damaged-attachment.eml"])
    result = make_daily_report(
        ctx,
        ctx.config.reports,
        date(2023, 5, 16),
        datetime(2023, 5, 17, 8, tzinfo=TZ),
        send=False,
    )
    assert "三、需要处理的问题（1）" in result.text
    assert "【文件损坏】" in result.text and "请联系该单位重新发送原文件" in result.text


def test_refusals_by_a_limit_are_problems_counted_by_the_limit(make_app, tmp_path):
    from tests.support import hostile_media, media_files
    from workers.ingest import Ingestor, SourceRef
    from workers.media import jobs as media_jobs

    ctx = make_app("[limits]\nmessage_seconds = 0.5\n")
    ingestor = Ingestor(ctx, "test")
    png = hostile_media.huge_png(tmp_path / "poster.png", 13000).read_bytes()
    photos = media_files.message("大连市活动周照片", [("海报.png", png, "image/png")])
    assert ingestor.ingest(photos, SourceRef()).status == "filed"
    imap = SourceRef("imap", "zcc/INBOX", 1, 7, datetime(2023, 5, 16, 12, tzinfo=TZ))
    assert ingestor.ingest(hostile_media.many_parts_message(50_000), imap).status == "error"
    with ctx.db.session() as session:
        pending = media_jobs.pending(session)
    for job in pending:
        assert media_jobs.run_job(media_jobs.JobEnv.of(ctx), job.id) == "done"
    result = make_daily_report(
        ctx, ctx.config.reports, date(2023, 5, 16), datetime(2023, 5, 17, 8, tzinfo=TZ), send=False
    )
    assert "三、需要处理的问题（2）" in result.text
    assert "其中超出处理上限：图片像素上限 1 项；单封邮件处理时限 1 项。" in result.text
    assert "【超出处理上限】" in result.text and "图片过大（13000×13000 像素）" in result.text
    assert "【邮件超出处理上限】" in result.text and "请在邮箱中查看该邮件并手工登记" in result.text
    html = ctx.archive.abspath(result.html_path).read_text(encoding="utf-8")
    assert "其中超出处理上限：图片像素上限 1 项；单封邮件处理时限 1 项。" in html


def test_not_material_mail_is_broken_down_by_reason(corpus_app):
    ctx = corpus_app()
    with ctx.db.session() as session:
        rows = session.execute(
            select(Message.received_at, Message.not_material_reason).where(
                Message.status == "not_material"
            )
        ).all()
    by_day: dict[date, Counter] = {}
    for received, reason in rows:
        by_day.setdefault(ctx.campaign.local_day(received), Counter())[reason] += 1
    day, reasons = max(by_day.items(), key=lambda kv: (len(kv[1]), sum(kv[1].values())))
    assert len(reasons) >= 2  # the corpus has several kinds on one day

    result = make_daily_report(ctx, ctx.config.reports, day, MORNING_AFTER, send=False)
    line = next(line for line in result.text.splitlines() if line.startswith("收到邮件"))
    assert f"非报送材料 {sum(reasons.values())}（" in line
    for code, count in reasons.items():
        assert f"{short_label(code)} {count}" in line
    assert "auto_reply" not in line and "bounce" not in line
