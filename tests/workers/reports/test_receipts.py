"""Receipts: who gets one (RFC 3834), what it says, batching, the rate limit and dry-run mode."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from storage.report_models import Receipt
from tests.conftest import LABELLED, MAIL
from tests.workers.reports.conftest import ingest_files
from workers.reports.receipts import Candidate, send_receipts, suppression_reason

TZ = ZoneInfo("Asia/Shanghai")
PANJIN = "zhangwei_0427@126.com"
CASE = LABELLED / "006-panjin-case-signature.eml"  # 2023-05-17, from PANJIN
SUMMARY = LABELLED / "041-panjin-summary-late.eml"  # 2023-06-05, from PANJIN
MACHINE = [
    LABELLED / "053-auto-reply.eml",
    LABELLED / "054-bounce.eml",
    LABELLED / "055-bulk-newsletter.eml",
    LABELLED / "056-department-own-reminder.eml",
    MAIL / "auto-reply.eml",
]
RECEIPTS = "[receipts]\nenabled = true\nmax_age_hours = 100000\n"
T0 = datetime(2023, 6, 5, 17, 0, tzinfo=TZ)


def test_receipt_acknowledges_files_with_rfc3834_headers(make_app, smtp_server):
    ctx = make_app(smtp_server.toml() + RECEIPTS)
    ingest_files(ctx, [CASE])
    plan = send_receipts(ctx, ctx.config.reports, T0)
    assert list(plan.batches) == [PANJIN]
    ((_, rcpts, _),) = smtp_server.received.envelopes
    (msg,) = smtp_server.received.messages()
    assert rcpts == [PANJIN] and msg["To"] == PANJIN
    assert msg["Auto-Submitted"] == "auto-replied"
    original = "<590d2127.4ca3.85bce3149cb.Coremail.zhangwei_0427@126.com>"
    assert msg["In-Reply-To"] == original and original in msg["References"]
    body = msg.get_body(("plain",)).get_content()
    assert "典型案例：产教融合助力乡村振兴.docx → 典型案例" in body
    assert "报送单位：盘锦市教育局" in body


def test_no_receipt_to_auto_replies_bounces_bulk_or_our_own_mail(make_app, smtp_server):
    ctx = make_app(smtp_server.toml() + RECEIPTS)
    ingest_files(ctx, MACHINE)
    plan = send_receipts(ctx, ctx.config.reports, T0)
    assert plan.batches == {} and smtp_server.received.envelopes == []
    reasons = {reason for _, _, reason in plan.suppressed}
    assert {"an automatic reply", "a bounce", "bulk mail", "our own address"} <= reasons
    with ctx.db.session() as session:  # recorded, so never looked at again
        assert session.scalar(select(Receipt.id).where(Receipt.status != "suppressed")) is None
    assert send_receipts(ctx, ctx.config.reports, T0).suppressed == []


def test_one_receipt_per_sender_per_interval_batches_the_rest(make_app, smtp_server):
    ctx = make_app(smtp_server.toml() + RECEIPTS)
    rc = ctx.config.reports
    ingest_files(ctx, [CASE])
    send_receipts(ctx, rc, T0)
    ingest_files(ctx, [SUMMARY])
    waiting = send_receipts(ctx, rc, T0 + timedelta(minutes=10))
    assert waiting.batches == {} and len(waiting.waiting) == 1
    assert len(smtp_server.received.envelopes) == 1
    later = send_receipts(ctx, rc, T0 + timedelta(minutes=61))
    assert list(later.batches) == [PANJIN]
    second = smtp_server.received.messages()[1]
    assert "活动周工作总结" in second["Subject"]


def test_messages_waiting_together_get_one_receipt(make_app, smtp_server):
    ctx = make_app(smtp_server.toml() + RECEIPTS)
    ingest_files(ctx, [CASE, SUMMARY])
    send_receipts(ctx, ctx.config.reports, T0)
    (msg,) = smtp_server.received.messages()
    assert msg["Subject"] == "回执：已收到您的 2 封邮件"
    assert len(msg["References"].split()) == 2
    body = msg.get_body(("plain",)).get_content()
    assert "1.《" in body and "2.《" in body


def test_old_messages_are_not_acknowledged(make_app, smtp_server):
    ctx = make_app(smtp_server.toml() + "[receipts]\nenabled = true\nmax_age_hours = 72\n")
    ingest_files(ctx, [CASE])  # received 2023-05-17, weeks before T0
    plan = send_receipts(ctx, ctx.config.reports, T0)
    assert plan.batches == {} and len(plan.skipped) == 1
    assert smtp_server.received.envelopes == []


def test_dry_run_writes_receipts_to_a_folder_and_sends_nothing(make_app, smtp_server, tmp_path):
    ctx = make_app(smtp_server.toml() + RECEIPTS + 'dry_run_dir = "receipts-dry-run"\n')
    ingest_files(ctx, [CASE])
    send_receipts(ctx, ctx.config.reports, T0)
    assert smtp_server.received.envelopes == []
    files = list((ctx.config.base_dir / "receipts-dry-run").rglob("*.eml"))
    assert len(files) == 1
    assert b"Auto-Submitted: auto-replied" in files[0].read_bytes()


def test_damaged_file_asks_the_sender_to_send_it_again(make_app, smtp_server):
    ctx = make_app(smtp_server.toml() + RECEIPTS)
    ingest_files(ctx, [MAIL / "damaged-attachment.eml"])
    send_receipts(ctx, ctx.config.reports, datetime(2023, 5, 17, 12, 0, tzinfo=TZ))
    messages = smtp_server.received.messages()
    assert len(messages) == 1
    assert "重新发送" in messages[0].get_body(("plain",)).get_content()


def candidate(address="a@b.example.cn", **headers) -> Candidate:
    return Candidate(1, address, T0, (), True, headers)


def test_suppression_rules_beyond_the_ingest_flags():
    own = ["zcc1.sjyt@ln.gov.cn"]
    assert suppression_reason(candidate(), own, []) is None
    assert suppression_reason(candidate(**{"Precedence": "list"}), own, []) == "Precedence: list"
    assert suppression_reason(candidate(**{"List-Id": "<x.list>"}), own, []) == "mailing-list mail"
    assert suppression_reason(candidate(**{"Auto-Submitted": "auto-generated"}), own, [])
    assert suppression_reason(candidate(**{"Auto-Submitted": "no"}), own, []) is None
    assert suppression_reason(candidate("MAILER-DAEMON@x.cn"), own, []) == "a machine address"
    assert suppression_reason(candidate("noreply@x.cn"), own, []) == "a machine address"
    assert suppression_reason(candidate("ZCC1.SJYT@ln.gov.cn"), own, []) == "our own address"
    assert suppression_reason(candidate("x@ln.gov.cn"), own, ["ln.gov.cn"]) == "our own address"
