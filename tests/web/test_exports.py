"""The web UI's CSV and XLSX downloads: every cell from mail (or any) text is data, not a formula."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

from openpyxl import load_workbook

from storage.web_models import User
from tests.conftest import write_config
from tests.web.conftest import password_hash
from tests.workers.reports.test_formula_safe import (
    FILE_NAME,
    HOSTILE_UNITS,
    SUBJECT,
    TZ,
    formulas,
    hostile_mail,
)
from workers.app import open_context
from workers.config import load_config
from workers.reports.outputs import make_daily_report
from workers.sources.inbox import ingest_paths


def test_tracker_csv_and_saved_report_workbook_hold_no_formula(tmp_path, client_for):
    ctx = open_context(load_config(write_config(tmp_path / "site", HOSTILE_UNITS, units_file=None)))
    try:
        ingest_paths(ctx, [hostile_mail(tmp_path)], label="test")
        make_daily_report(
            ctx,
            ctx.config.reports,
            date(2023, 5, 16),
            datetime(2023, 5, 17, 8, tzinfo=TZ),
            send=False,
        )
        with ctx.db.session() as session:
            session.add(User(name="viewer", role="viewer", password_hash=password_hash()))
        client = client_for(ctx)

        response = client.get("/reports/tracker.csv")
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
        names = {row[1] for row in rows[1:]}
        assert {"'=1+2 教育局", "'@SUM(A1:A9)", "'-2+3+cmd", "'\t=1+1"} <= names
        assert not any(  # a negative number (days left) is a number, not a formula
            cell.startswith(("=", "+", "-", "@", "\t", "\r"))
            for row in rows
            for cell in row
            if not re.fullmatch(r"-?\d+", cell)
        )

        listing = client.get("/reports").text
        downloads = [client.get(url) for url in re.findall(r"/reports/file/\d+", listing)]
        (workbook,) = [d for d in downloads if d.headers["content-disposition"].endswith(".xlsx")]
        book = load_workbook(io.BytesIO(workbook.content))
        assert formulas(book) == []
        values = {c.value for row in book["当日来件明细"].iter_rows() for c in row}
        assert SUBJECT in values and FILE_NAME in values
    finally:
        ctx.close()
