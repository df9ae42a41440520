"""The daily report's workbook: the tracker sheets, then the day's detail; Chinese headers.

Every text cell is written with the string type explicitly (`append_row`): openpyxl
writes any str that starts with "=" as a formula, and subjects and file names come
from strangers' mail (`=HYPERLINK(...)` would be a live link in 当日来件明细).
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.tracker_sheets import add_tracker_sheets, append_row, header, save
from workers.reports.daily import DailyData, DetailRow

DETAIL_HEADERS = [
    ("收到时间", 18),
    ("单位", 26),
    ("发件人", 30),
    ("邮件主题", 40),
    ("处理状态", 12),
    ("文件名", 40),
    ("类别", 12),
    ("类型", 12),
    ("文件状态", 14),
    ("重复", 8),
    ("档案路径", 60),
]
STATUS_LABELS = {
    "filed": "已归档",
    "triage": "待分拣",
    "not_material": "非报送材料",
    "error": "处理失败",
    "quarantined": "已隔离",
    "ok": "正常",
    "corrupt": "损坏",
    "rejected_unsafe": "不安全已拒收",
    "encrypted": "加密",
    "too_large": "过大未存",
    "external_link": "外部链接",
}


def daily_workbook(data: DailyData, tz: ZoneInfo) -> bytes:
    """Returns the daily report's .xlsx: 报送进度 (grid), 进度明细, 当日来件明细 (detail)."""
    book = Workbook()
    add_tracker_sheets(book, data.tracker, tz)
    _detail_sheet(book.create_sheet(), data.details, tz)
    return save(book)


def _detail_sheet(sheet: Worksheet, rows: Sequence[DetailRow], tz: ZoneInfo) -> None:
    sheet.title = "当日来件明细"
    header(sheet, DETAIL_HEADERS)
    for r in rows:
        append_row(
            sheet,
            [
                r.received_at.astimezone(tz).replace(tzinfo=None),
                r.unit_name,
                r.sender,
                r.subject,
                STATUS_LABELS.get(r.status, r.status),
                r.name,
                r.kind_label,
                r.media_label,
                STATUS_LABELS.get(r.item_status, r.item_status),
                "是" if r.duplicate else "",
                r.path,
            ],
        )
        sheet.cell(sheet.max_row, 1).number_format = "yyyy-mm-dd hh:mm"
