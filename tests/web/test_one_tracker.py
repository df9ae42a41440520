"""One tracker truth: the dashboard, web CSV/XLSX, `report tracker`, the daily report and the
reminders show the same state for every unit × kind, and a kind whose files are all unusable
is `missing` with needs_resend (需重发, with what to ask for)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import date, datetime
from email import message_from_binary_file
from email.message import EmailMessage
from email.policy import default

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tests.conftest import LABELLED
from tests.web.conftest import open_site
from workers.cli import cli
from workers.reports.outputs import make_daily_report
from workers.reports.reminders import make_reminders

DAY = date(2023, 5, 20)


def corrupt_plan() -> bytes:
    """沈阳's plan, from its configured address, whose only file is damaged in transit."""
    mail = EmailMessage()
    mail["From"] = "沈阳市教育局 <syjyj_zcc@163.com>"
    mail["To"] = "zcc1.sjyt@ln.gov.cn"
    mail["Subject"] = "【沈阳市教育局】活动周方案"
    mail["Date"] = "Sat, 06 May 2023 10:00:00 +0800"
    mail["Message-ID"] = "<corrupt-plan@example.cn>"
    mail.set_content("方案见附件。")
    mail.add_attachment(
        b"PK\x03\x04" + bytes(range(256)) * 4,
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="沈阳市活动周方案.docx",
    )
    raw = bytes(mail)
    at = raw.index(b"UEsDB") + 8
    return raw[:at] + b"!!*&^%" + raw[at:]  # characters base64 does not have


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one-tracker")
    bad = folder / "corrupt-plan.eml"
    bad.write_bytes(corrupt_plan())
    mail = [LABELLED / n for n in ("002-dalian-plan-unit-domain.eml", "031-fushun-plan-late.eml")]
    ctx = open_site(folder / "site", [*mail, bad])
    yield ctx
    ctx.close()


def cli_rows(ctx) -> dict[tuple[str, str], dict]:
    args = ["--config", str(ctx.config.path), "report", "tracker", "--date", DAY.isoformat()]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {(r["unit"], r["kind"]): r for r in json.loads(result.output)}


def test_a_kind_whose_only_file_is_corrupt_is_missing_with_needs_resend(site):
    row = cli_rows(site)[("shenyang", "plan")]
    assert row["state"] == "missing" and row["items"] == 0
    assert row["needs_resend"] is True and row["resend_reason"] == "corrupt"


def test_every_view_shows_the_same_state_for_every_cell(site, client_for):
    truth = cli_rows(site)
    client = client_for(site)
    table = list(csv.reader(io.StringIO(client.get(f"/reports/tracker.csv?day={DAY}").text)))
    header, body = table[0], table[1:]
    assert header[0] == "\ufeff单位代码"
    web_csv = {(r[0], r[2]): (r[4], r[11] == "是") for r in body}
    assert web_csv == {k: (r["state"], r["needs_resend"]) for k, r in truth.items()}

    book = load_workbook(io.BytesIO(client.get(f"/reports/tracker.xlsx?day={DAY}").content))
    assert book.sheetnames == ["报送进度", "进度明细"]
    grid = book["报送进度"]
    labels = [c.value for c in grid[1]][1:]
    shenyang = next(
        r for r in grid.iter_rows(min_row=2, values_only=True) if r[0] == "沈阳市教育局"
    )
    assert shenyang[1 + labels.index("活动周方案")] == "需重发"

    result = make_daily_report(
        site,
        site.config.reports,
        DAY,
        datetime(2023, 5, 21, 8, tzinfo=site.campaign.tz),
        send=False,
    )
    assert "需重发（1" in result.text and "沈阳市活动周方案.docx（文件损坏" in result.text
    daily = load_workbook(site.archive.abspath(result.xlsx_path))["进度明细"]
    states = {(r[1], r[2]): r[3] for r in daily.iter_rows(min_row=2, values_only=True)}
    assert states[("shenyang", "活动周方案")] == "需重发"
    late = {k for k, r in truth.items() if r["state"] == "late"}
    assert late == {("fushun", "plan")}
    assert states[("fushun", "活动周方案")] == "逾期报送"


def test_dashboard_and_unit_page_say_resend_and_what_to_ask_for(site, client_for):
    client = client_for(site)
    for path in ("/", "/units/shenyang"):
        html = client.get(path).text
        assert 'class="st resend"' in html and "需重发" in html
        assert "请联系该单位重新发送活动周方案：沈阳市活动周方案.docx（文件损坏，无法打开）" in html
    dashboard = client.get("/").text
    cells = re.findall(r'<td class="st (\w+)"', dashboard)
    assert cells.count("resend") == 1 and "late" in cells


def test_reminders_ask_for_the_file_again(site, tmp_path):
    rc = site.config.reports
    rc = replace(rc, reminders=replace(rc.reminders, enabled=True, drafts_dir=tmp_path))
    # 05-07, a day before the plan's deadline: 沈阳 sent one, but it cannot be opened
    done = make_reminders(site, rc, datetime(2023, 5, 7, 9, tzinfo=site.campaign.tz))
    (draft,) = [d for d in done if d.unit == "shenyang" and d.kind == "plan"]
    with open(draft.path, "rb") as handle:
        text = message_from_binary_file(handle, policy=default).get_content()
    assert "沈阳市活动周方案.docx（文件损坏，无法打开）" in text and "请重新发送" in text
