"""What the daily report and the receipt say about archives: refusals counted by the limit that
refused them, one request for the password per locked archive, never one per member."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pipeline.notice import propose, read_notice
from storage import campaigns as store
from storage.models import Message
from tests.conftest import DATA
from tests.support import archive_files as af
from tests.support import media_files as files
from workers.ingest import Ingestor, SourceRef
from workers.reports.daily import gather_daily
from workers.reports.receipts import send_receipts
from workers.reports.render import render_daily

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2023, 5, 16)  # files.message() sends on this day
WEEK, MONTH = "2023-vocational-week", "2023-skills-month"
RECEIPTS = "[receipts]\nenabled = true\nmax_age_hours = 100000\n"


def _archives(tmp_path) -> list[tuple[str, bytes, str]]:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("封面.jpg", files.jpeg(64, 48))
        af.zeros_member(zf, "空白.bin", 20)
    big = af.zip_bytes({"超大.bin": os.urandom(6000), "小.txt": b"small"})
    locked = af.encrypted_zip(
        tmp_path, "材料.zip", {f"照片{n}.jpg": files.jpeg(64, 48) for n in range(3)}, "x1", aes=True
    )
    return [
        ("照片.zip", bomb.getvalue(), "application/zip"),
        ("大文件.zip", big, "application/zip"),
        ("材料.zip", locked.read_bytes(), "application/zip"),
    ]


def test_the_daily_report_counts_refusals_by_limit_and_asks_once_per_locked_archive(
    make_app, tmp_path
):
    app = make_app("[limits]\nmax_archive_member_bytes = 5000\n")
    raw = files.message("大连市活动周材料", _archives(tmp_path))
    Ingestor(app, "test").ingest(raw, SourceRef("file", "a.eml"))
    data = gather_daily(app, DAY, datetime(2023, 5, 17, 8, 0, tzinfo=TZ))
    assert dict(data.refusals) == {"压缩比过高（疑似压缩炸弹）": 1, "超过单个文件解压上限": 1}
    by_category = {}
    for problem in data.problems:
        by_category.setdefault(problem.category, []).append(problem)
    (locked,) = by_category["encrypted"]  # not three: the archive is the problem
    assert locked.name == "材料.zip" and locked.detail == "压缩包内有 3 个文件设有密码"
    assert "在网页上该压缩包的页面填写" in locked.action
    assert sorted(p.name for p in by_category["too_large"]) == ["空白.bin", "超大.bin"]
    assert "derivative" not in by_category  # an archive with skipped members is not one
    text, html = render_daily(data, TZ)
    line = "因解压上限未存档的文件：压缩比过高（疑似压缩炸弹） 1 个；超过单个文件解压上限 1 个。"
    assert line in text and line in html


def test_the_receipt_asks_for_the_password_once_and_counts_members(make_app, smtp_server, tmp_path):
    app = make_app(smtp_server.toml() + RECEIPTS)
    raw = files.message("大连市活动周材料", _archives(tmp_path)[2:])
    Ingestor(app, "test").ingest(raw, SourceRef("file", "a.eml"))
    send_receipts(app, app.config.reports, datetime(2023, 5, 16, 12, 0, tzinfo=TZ))
    (msg,) = smtp_server.received.messages()
    body = msg.get_body(("plain",)).get_content()
    assert "材料.zip → 其他（内含 3 个文件）" in body
    assert body.count("请回信告知解压密码") == 1 and "照片0.jpg" not in body


def test_each_campaign_section_lists_its_own_archive_problems(make_app, tmp_path):
    app = make_app("[limits]\nmax_archive_member_bytes = 5000\n")
    month = propose(read_notice(DATA / "notices" / "notice-2023-skills-month.md"), MONTH)
    with app.db.session() as session:
        store.save_campaign(session, replace(month.campaign, state="open"), actor="test")
    locked = af.encrypted_zip(tmp_path, "案例.zip", {"案例.docx": b"x" * 100}, "k9", aes=False)
    week_mail = files.message(
        "大连市活动周典型案例", [("案例.zip", locked.read_bytes(), "application/zip")]
    )
    big = af.zip_bytes({"视频素材.bin": os.urandom(6000), "事迹.txt": "优秀学生事迹".encode()})
    month_mail = files.message(
        "大连市宣传月优秀学生事迹材料",
        [("事迹.zip", big, "application/zip")],
        number=2,
        body="大连市宣传月优秀学生事迹材料，请查收。",
    )
    for n, raw in enumerate((week_mail, month_mail)):
        Ingestor(app, "test").ingest(raw, SourceRef("file", f"{n}.eml"))
    with app.db.session() as session:  # the premise: each mail went to its own campaign
        decided = {m.subject: (m.campaign_status, m.campaign_code) for m in session.query(Message)}
    assert decided == {
        "大连市活动周典型案例": ("assigned", WEEK),
        "大连市宣传月优秀学生事迹材料": ("assigned", MONTH),
    }
    data = gather_daily(app, DAY, datetime(2023, 5, 17, 8, 0, tzinfo=TZ))
    sections = {s.code: s for s in data.sections}
    assert [(p.category, p.name) for p in sections[WEEK].archives] == [("encrypted", "案例.zip")]
    assert not sections[WEEK].refusals
    assert [(p.category, p.name) for p in sections[MONTH].archives] == [
        ("too_large", "视频素材.bin")
    ]
    assert dict(sections[MONTH].refusals) == {"超过单个文件解压上限": 1}
    assert len(data.problems) == 2  # and both stay in 三、需要处理的问题
    html, text = render_daily(data, TZ)
    week_part = text.split("六（一）、")[1].split("六（二）、")[0]
    month_part = text.split("六（二）、")[1].split("七、")[0]
    assert "【加密文件】大连市教育局 · 5月16日 · 案例.zip：压缩包内有 1 个文件设有密码" in week_part
    assert "请向该单位索取解压密码，在网页上该压缩包的页面填写" in week_part
    assert "视频素材.bin" not in week_part and "因解压上限" not in week_part
    assert "【文件过大】大连市教育局 · 5月16日 · 视频素材.bin" in month_part
    assert "因解压上限未存档的文件：超过单个文件解压上限 1 个。" in month_part
    assert "案例.zip" not in month_part and "索取解压密码" not in month_part
    assert html.count("本活动的压缩包问题（1）") == 2
