"""Reminders before deadlines, and the validation of the reports' config sections."""

from __future__ import annotations

from datetime import datetime, time
from email import message_from_bytes
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

import pytest

from pipeline.errors import ConfigError
from tests.conftest import write_config
from workers.config import load_config
from workers.reports.reminders import kinds_due_in, make_reminders

TZ = ZoneInfo("Asia/Shanghai")
THREE_DAYS_BEFORE_SUMMARY = datetime(2023, 5, 29, 9, 0, tzinfo=TZ)  # summary due 06-01


def test_reminder_drafts_go_to_units_still_missing_the_kind(corpus_app):
    ctx = corpus_app("[reminders]\nenabled = true\ndays_before = [3]\n")
    done = make_reminders(ctx, ctx.config.reports, THREE_DAYS_BEFORE_SUMMARY)
    units = {d.unit for d in done}
    assert {d.kind for d in done} == {"summary"}
    assert "liaoyang" not in units and "dalian" in units  # liaoyang sent its summary 05-22
    assert units == _summary_pending_on(ctx, "2023-05-29")
    draft = message_from_bytes(
        open(next(d.path for d in done if d.unit == "dalian"), "rb").read(), policy=default_policy
    )
    assert draft["X-Unsent"] == "1" and "大连市教育局" in draft["Subject"]
    assert "活动周总结" in draft.get_body(("plain",)).get_content()
    assert make_reminders(ctx, ctx.config.reports, THREE_DAYS_BEFORE_SUMMARY) == []


def _summary_pending_on(ctx, day: str) -> set[str]:
    from workers.reports.outputs import tracker

    rows = tracker(ctx, datetime.fromisoformat(day).date(), ctx.campaign)
    return {r.unit for r in rows if r.kind == "summary" and r.state == "pending"}


def test_reminders_are_sent_when_configured(corpus_app, smtp_server):
    ctx = corpus_app(
        smtp_server.toml() + "[reminders]\nenabled = true\nsend = true\ndays_before = [3]\n"
    )
    done = make_reminders(ctx, ctx.config.reports, THREE_DAYS_BEFORE_SUMMARY)
    sent = [d for d in done if d.outbox_id]
    assert sent and len(smtp_server.received.envelopes) == len(sent)
    drafted = [d for d in done if d.path]  # units with no known address: drafts
    assert all(not d.recipients for d in drafted)


def test_kinds_due_in_picks_exact_days():
    from workers.config import load_config

    campaign = load_config(None).campaign
    due = kinds_due_in(campaign, datetime(2023, 5, 22).date(), [3, 1])
    assert {k.code for k, n in due} == {"case", "manuscript", "photo", "video"}


def test_defaults_need_no_config(app):
    rc = app.config.reports
    assert rc.report.time == time(8, 0) and rc.report.recipients == ()
    assert not rc.smtp.configured and not rc.receipts.enabled and not rc.reminders.enabled
    assert rc.reminders.drafts_dir == app.config.base_dir / "reminders"
    assert "zcc1.sjyt@ln.gov.cn" in rc.own_addresses


@pytest.mark.parametrize(
    "extra, key",
    [
        ('[smtp]\nhost = "smtp.example.cn"\nsecurity = "none"\n', "smtp.security"),
        ('[smtp]\nsecurity = "tls"\n', "smtp.security"),
        ('[report]\ntime = "8am"\n', "report.time"),
        ('[report]\nrecipients = ["not an address"]\n', "report.recipients"),
        ("[receipts]\nenabled = true\n", "receipts.enabled"),
        ("[reminders]\ndays_before = [-1]\n", "reminders.days_before"),
        ('[receipts]\ntemplate = "missing.txt"\n', "receipts.template"),
    ],
)
def test_bad_values_name_the_file_and_key(tmp_path, extra, key):
    path = write_config(tmp_path, extra)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == key and str(path) in str(err.value)


def test_plain_smtp_is_allowed_on_loopback_only(make_app):
    ctx = make_app('[smtp]\nhost = "127.0.0.1"\nport = 25\nsecurity = "none"\n')
    assert ctx.config.reports.smtp.security == "none"


def test_edited_receipt_template_is_used(make_app, smtp_server, tmp_path):
    from tests.conftest import LABELLED
    from tests.workers.reports.conftest import ingest_files
    from workers.reports.receipts import send_receipts

    template = tmp_path / "回执.txt"
    template.write_text(
        "您好 {{ sender_name }}，收到 {{ messages|length }} 封。\n", encoding="utf-8"
    )
    ctx = make_app(
        smtp_server.toml() + f"[receipts]\nenabled = true\nmax_age_hours = 100000\n"
        f'template = "{template}"\n'
    )
    ingest_files(ctx, [LABELLED / "006-panjin-case-signature.eml"])
    send_receipts(ctx, ctx.config.reports, THREE_DAYS_BEFORE_SUMMARY)
    (msg,) = smtp_server.received.messages()
    assert msg.get_body(("plain",)).get_content().startswith("您好 张伟，收到 1 封。")
