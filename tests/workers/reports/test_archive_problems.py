"""What the daily report and the receipt say about archives: refusals counted by the limit that
refused them, one request for the password per locked archive, never one per member."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import date, datetime
from zoneinfo import ZoneInfo

from tests.support import archive_files as af
from tests.support import media_files as files
from workers.ingest import Ingestor, SourceRef
from workers.reports.daily import gather_daily
from workers.reports.receipts import send_receipts
from workers.reports.render import render_daily

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2023, 5, 16)  # files.message() sends on this day
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
