"""The tracker as files: CSV (BOM, Chinese headers) and the XLSX grid and detail sheets.

Pure: rows in, bytes out. `mailroom report tracker`, the daily report's workbook
and the web UI's downloads all write the tracker through these functions, so the
spreadsheet a clerk downloads is the one the report attaches.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from pipeline.campaign import Campaign
from pipeline.cells import csv_row
from pipeline.tracker import LATE, MISSING, PENDING, SUBMITTED, TrackerRow, tracker_grid

# Cell colours of the tracker grid (HTML report, workbook, web page): background, text.
STATE_COLOURS = {
    SUBMITTED: ("#e6f4ea", "#137333"),
    LATE: ("#fef7e0", "#b06000"),
    MISSING: ("#fce8e6", "#c5221f"),
    PENDING: ("#f1f3f4", "#5f6368"),
}
RESEND_COLOURS = ("#fce8e6", "#c5221f")
CSV_HEADERS = (
    "单位代码",
    "单位",
    "材料代码",
    "材料",
    "状态代码",
    "状态",
    "首次收到",
    "件数",
    "截止日期",
    "距截止（天）",
    "无任何来件",
    "需重发",
    "请对方重发",
)
DETAIL_HEADERS = [
    ("单位", 28),
    ("单位代码", 12),
    ("材料", 14),
    ("状态", 18),
    ("首次收到", 18),
    ("件数", 8),
    ("截止日期", 12),
    ("距截止（天）", 12),
    ("无任何来件", 12),
    ("请对方重发", 50),
    ("活动", 28),
]
_BAD_TITLE = str.maketrans({c: "_" for c in "[]:*?/\\"})


def colours(row: TrackerRow) -> tuple[str, str]:
    """Returns the (background, text) colours of a row's grid cell."""
    return RESEND_COLOURS if row.needs_resend else STATE_COLOURS[row.state]


def tracker_csv(rows: Sequence[TrackerRow], campaign: Campaign) -> str:
    """Returns the tracker as CSV text: a BOM (Excel then reads UTF-8), Chinese headers, and
    the codes (unit, kind, state) as columns of their own, as in the JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    for r in rows:
        data = r.to_json(campaign)
        cells = [
            r.unit,
            r.unit_name,
            r.kind,
            r.kind_label,
            r.state,
            r.state_label,
            data["first_received"] or "",
            r.items,
            data["due"] or "",
            "" if r.days_left is None else r.days_left,
            "是" if r.silent else "",
            "是" if r.needs_resend else "",
            r.ask,
        ]
        writer.writerow(csv_row(cells))
    return "\ufeff" + out.getvalue()


def tracker_workbook(rows: Sequence[TrackerRow], tz: ZoneInfo) -> bytes:
    """Returns an .xlsx with the units × kinds grid (报送进度) and one line per cell (进度明细)."""
    book = Workbook()
    add_tracker_sheets(book, rows, tz)
    return save(book)


def add_tracker_sheets(book: Workbook, rows: Sequence[TrackerRow], tz: ZoneInfo) -> None:
    """Fills the workbook's first sheet with the grid (one grid per campaign when the rows
    are of several) and adds the detail sheet after them."""
    campaigns: dict[str, list[TrackerRow]] = {}
    for row in rows:
        campaigns.setdefault(row.campaign, []).append(row)
    for n, (name, own) in enumerate(campaigns.items() or [("", [])]):
        sheet = book.active if n == 0 else book.create_sheet()
        grid_sheet(sheet, own, tz)
        if len(campaigns) > 1:  # a sheet title: at most 31 characters, no []:*?/\
            sheet.title = f"{name[:26]}报送进度".translate(_BAD_TITLE)
    detail_sheet(book.create_sheet(), rows, tz)


def cell_text(row: TrackerRow, tz: ZoneInfo) -> str:
    """Returns a grid cell's text: the state, and when and how many arrived."""
    if row.first_received is None:
        return row.state_label
    first = row.first_received.astimezone(tz)
    return f"{row.state_label} {first.month}月{first.day}日（{row.items}件）"


def grid_sheet(sheet: Worksheet, rows: Sequence[TrackerRow], tz: ZoneInfo) -> None:
    sheet.title = "报送进度"
    grid = tracker_grid(rows)
    kinds: dict[str, str] = {}
    for row in rows:
        kinds.setdefault(row.kind, row.kind_label)
    header(sheet, [("单位", 28)] + [(label, 22) for label in kinds.values()], freeze="B2")
    for line in grid:
        append_row(sheet, [line.unit_name] + [cell_text(line.cells[k], tz) for k in kinds])
        at = sheet.max_row
        if line.silent:
            sheet.cell(at, 1).font = Font(bold=True, color="C5221F")
        for col, code in enumerate(kinds, start=2):
            background, text = colours(line.cells[code])
            cell = sheet.cell(at, col)
            cell.fill = PatternFill("solid", fgColor=background[1:].upper())
            cell.font = Font(color=text[1:].upper())


def detail_sheet(sheet: Worksheet, rows: Sequence[TrackerRow], tz: ZoneInfo) -> None:
    sheet.title = "进度明细"
    header(sheet, DETAIL_HEADERS)
    for row in rows:
        first = (
            row.first_received.astimezone(tz).replace(tzinfo=None) if row.first_received else None
        )
        append_row(
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
                row.ask,
                row.campaign,
            ],
        )
        line = sheet.max_row
        sheet.cell(line, 4).fill = PatternFill("solid", fgColor=colours(row)[0][1:].upper())
        sheet.cell(line, 5).number_format = "yyyy-mm-dd hh:mm"
        sheet.cell(line, 7).number_format = "yyyy-mm-dd"
        if row.silent:
            sheet.cell(line, 1).font = Font(bold=True, color="C5221F")
            sheet.cell(line, 9).font = Font(bold=True, color="C5221F")


def header(sheet: Worksheet, headers: list[tuple[str, int]], freeze: str = "A2") -> None:
    """Writes a bold header row with column widths, frozen above (and left of) `freeze`."""
    append_row(sheet, [name for name, _ in headers])
    for col, (_, width) in enumerate(headers, start=1):
        cell = sheet.cell(1, col)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DADCE0")
        cell.alignment = Alignment(vertical="center")
        sheet.column_dimensions[cell.column_letter].width = width
    sheet.freeze_panes = freeze
    sheet.auto_filter.ref = f"A1:{sheet.cell(1, len(headers)).column_letter}1"


def append_row(sheet: Worksheet, values: Sequence[object]) -> None:
    """Appends a row whose text cells are strings, never formulas, whatever they start with.

    openpyxl writes any str starting with "=" as a formula; file names in 请对方重发 and
    the subjects of the daily detail come from strangers' mail.
    """
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def save(book: Workbook) -> bytes:
    """Returns the workbook's bytes, each sheet's filter covering the rows written."""
    for sheet in book.worksheets:
        if sheet.max_row > 1:
            sheet.auto_filter.ref = (
                f"A1:{sheet.cell(1, sheet.max_column).column_letter}{sheet.max_row}"
            )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
