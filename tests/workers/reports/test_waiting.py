"""The daily report says, in Chinese, what waits and why: no English, no paths, no exception names."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from storage import health
from storage import mailbox_state as state
from storage.mailbox_state import FolderKey
from tests.support import media_files as files
from workers.ingest import Ingestor, SourceRef
from workers.reports.daily import gather_daily
from workers.reports.render import render_daily

KEY = FolderKey("official", "INBOX", 7)


def section(text: str) -> str:
    return text.split("七、系统状况", 1)[1].split("完整的单位", 1)[0]


def test_a_calm_day_says_nothing_waits(app):
    now = datetime.now(UTC)
    _, text = render_daily(gather_daily(app, app.campaign.local_day(now), now), app.campaign.tz)
    assert "邮件收取和处理正常，没有等待中的邮件。" in section(text)


def test_mail_waiting_retrying_and_quarantined_is_said_with_why_and_what_to_do(app):
    with app.db.session() as session:
        for uid in (1, 2):
            state.record_waiting(
                session, KEY, uid, raw_sha256="a" * 64, reason=state.ARCHIVE_DOWN,
                error="cannot write to the archive at /srv/archive: the disk is full",
            )  # fmt: skip
        state.record_failure(
            session, KEY, 3, raw_sha256="b" * 64, error="ValueError: boom", max_attempts=1
        )
    health.record_poll(
        app.db, "imap:official", fetched=0, problem="not fetching mail: ...", reason=health.LOW_DISK
    )
    now = datetime.now(UTC)
    data = gather_daily(app, app.campaign.local_day(now), now)
    html, text = render_daily(data, app.campaign.tz)
    lines = section(text)
    assert "邮件等待重试 2 封（归档磁盘已满或暂时无法写入，最早的一封自 " in lines
    assert "系统会自动重试，无需处理" in lines
    assert "【需处理】邮件已隔离 1 封（邮件本身处理出错" in lines
    assert "原始邮件已保存：请在邮箱中查看该邮件并手工登记" in lines
    assert "邮箱 official：磁盘剩余空间低于设定值，已暂停收取（最近一次尝试 " in lines
    assert not re.search(r"[A-Za-z]{2,}", lines.replace("official", ""))  # no English words
    assert "七、系统状况" in html and "需处理：" in html
    quarantined = [p for p in data.problems if p.category == "quarantined"]
    assert quarantined and not re.search(
        r"[A-Za-z]{2,}", quarantined[0].detail.replace("official", "").replace("INBOX", "")
    )


def test_a_message_the_server_kept_cutting_is_a_problem_to_act_on(app):
    raw = files.message("大连市活动周照片", [("合影.jpg", files.jpeg(), "image/jpeg")])
    source = SourceRef("imap", "official/INBOX", 7, 1, datetime(2023, 5, 16, 3, tzinfo=UTC))
    Ingestor(app, "test").ingest(
        raw, SourceRef(**{**source.__dict__, "declared_size": len(raw) + 99})
    )
    data = gather_daily(app, date(2023, 5, 16), datetime(2023, 5, 17, tzinfo=UTC))
    [problem] = [p for p in data.problems if p.category == "truncated"]
    assert problem.label == "邮件内容不完整" and "已按收到的部分归档" in problem.action
    _, text = render_daily(data, app.campaign.tz)
    assert "【邮件内容不完整】" in text
