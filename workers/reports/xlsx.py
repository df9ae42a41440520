"""The report workbook: a tracker sheet and a detail sheet, Chinese headers, frozen header.

Every text cell is written with the string type explicitly (`_append`): openpyxl
writes any str that starts with "=" as a formula, and subjects and file names come
from strangers' mail (`=HYPERLINK(...)` would be a live link in 当日来件明细).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from workers.reports.daily import DailyData, DetailRow
from workers.reports.tracker import TrackerRow

TRACKER_HEADERS = [
    ("单位", 28),
    ("单位代码", 12),
    ("材料", 14),
    ("状态", 18),
    ("首次收到", 18),
    ("件数", 8),
    ("截止日期", 12),
    ("距截止（天）", 12),
    ("无任何来件", 12),
    ("活动", 28),
]
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
FILLS = {"submitted": "E6F4EA", "late": "FEF7E0", "missing": "FCE8E6", "pending": "F1F3F4"}


def tracker_workbook(rows: Sequence[TrackerRow], tz: ZoneInfo) -> bytes:
    """Returns an .xlsx holding only the tracker sheet."""
    book = Workbook()
    _tracker_sheet(book.active, rows, tz)
    return _save(book)


def daily_workbook(data: DailyData, tz: ZoneInfo) -> bytes:
    """Returns the daily report's .xlsx: 报送进度 (tracker) and 当日来件明细 (detail)."""
    book = Workbook()
    _tracker_sheet(book.active, data.tracker, tz)
    _detail_sheet(book.create_sheet(), data.details, tz)
    return _save(book)


def _tracker_sheet(sheet: Worksheet, rows: Sequence[TrackerRow], tz: ZoneInfo) -> None:
    sheet.title = "报送进度"
    _header(sheet, TRACKER_HEADERS)
    for row in rows:
        first = (
            row.first_received.astimezone(tz).replace(tzinfo=None) if row.first_received else None
        )
        _append(
            sheet,
            [
                row.unit_name,
                row.unit,
                row.kind_label,
                row.state_label,
                first,
                row.items,
                row.due,
                row.days_left,
                "是" if row.silent else "",
                row.campaign,
            ],
        )
        line = sheet.max_row
        sheet.cell(line, 4).fill = PatternFill("solid", fgColor=FILLS[row.state])
        sheet.cell(line, 5).number_format = "yyyy-mm-dd hh:mm"
        sheet.cell(line, 7).number_format = "yyyy-mm-dd"
        if row.silent:
            sheet.cell(line, 1).font = Font(bold=True, color="C5221F")
            sheet.cell(line, 9).font = Font(bold=True, color="C5221F")


def _detail_sheet(sheet: Worksheet, rows: Sequence[DetailRow], tz: ZoneInfo) -> None:
    sheet.title = "当日来件明细"
    _header(sheet, DETAIL_HEADERS)
    for r in rows:
        _append(
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


def _append(sheet: Worksheet, values: Sequence[object]) -> None:
    """Appends a row whose text cells are strings, never formulas, whatever they start with."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def _header(sheet: Worksheet, headers: list[tuple[str, int]]) -> None:
    _append(sheet, [name for name, _ in headers])
    for col, (_, width) in enumerate(headers, start=1):
        cell = sheet.cell(1, col)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DADCE0")
        cell.alignment = Alignment(vertical="center")
        sheet.column_dimensions[cell.column_letter].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{sheet.cell(1, len(headers)).column_letter}1"


def _save(book: Workbook) -> bytes:
    for sheet in book.worksheets:  # the filter covers the data written after the header
        if sheet.max_row > 1:
            sheet.auto_filter.ref = (
                f"A1:{sheet.cell(1, sheet.max_column).column_letter}{sheet.max_row}"
            )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
