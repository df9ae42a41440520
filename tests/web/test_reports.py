"""Reports in the browser: pick a day, read its daily report, download the tracker."""

from __future__ import annotations

import io
from datetime import date, datetime

from openpyxl import load_workbook
from sqlalchemy import select

from storage.models import utcnow
from storage.report_models import OutboxMail
from tests.web.conftest import csrf_of
from workers.reports.outputs import make_daily_report

DAY = date(2023, 5, 16)


def _report(ctx) -> None:
    now = datetime(2023, 5, 17, 8, tzinfo=ctx.campaign.tz)
    make_daily_report(ctx, ctx.config.reports, DAY, now, send=False)


def test_a_days_report_is_read_in_the_page(small_site, client_for):
    _report(small_site)
    client = client_for(small_site)
    html = client.get("/reports").text  # the latest report by default
    assert 'value="2023-05-16"' in html and 'src="/reports/daily/2023-05-16"' in html
    framed = client.get("/reports/daily/2023-05-16")
    assert framed.status_code == 200 and framed.headers["content-type"].startswith("text/html")
    csp = framed.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in csp and "sandbox" in csp and "script" not in csp
    assert "每日材料报告" in framed.text and "attachment" not in framed.headers.get(
        "content-disposition", ""
    )
    xlsx = client.get("/reports/daily/2023-05-16/xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "报送进度"


def test_a_day_without_a_report_shows_the_tracker_as_of_that_day(small_site, client_for):
    client = client_for(small_site)
    html = client.get("/reports?day=2023-05-07").text
    assert "这一天没有每日报告" in html and "截至5月7日的报送情况" in html
    assert 'href="/reports/tracker.xlsx?day=2023-05-07"' in html
    assert client.get("/reports/daily/2023-05-07").status_code == 404
    assert client.get("/reports?day=2023-02-30").status_code == 400
    assert client.get("/reports/daily/2023-05-16/exe").status_code == 404


def test_tracker_downloads_for_a_day_have_a_bom_and_the_grid(small_site, client_for):
    client = client_for(small_site)
    text = client.get("/reports/tracker.csv?day=2023-05-07").content.decode("utf-8")
    assert text.startswith("\ufeff单位代码,单位,材料代码,材料,状态代码,状态")
    assert "pending" in text and "missing" not in text  # the plan was not due yet on 05-07
    book = load_workbook(io.BytesIO(client.get("/reports/tracker.xlsx?day=2023-05-20").content))
    grid = book["报送进度"]
    assert grid["A1"].value == "单位" and grid.freeze_panes == "B2"
    assert grid.max_row == 1 + len(small_site.config.units)


def test_a_past_day_never_reported_can_be_made_from_the_page_without_mailing_it(
    small_site, client_for
):
    viewer = client_for(small_site)
    assert "生成这一天的报告" not in viewer.get("/reports?day=2023-05-16").text  # editors only
    editor = client_for(small_site, "editor")
    page = editor.get("/reports?day=2023-05-16").text
    assert 'action="/reports/daily/2023-05-16/make"' in page
    done = editor.post(
        "/reports/daily/2023-05-16/make", data={"csrf_token": csrf_of(page)}, follow_redirects=True
    )
    assert done.status_code == 200
    assert "已生成5月16日的每日报告（没有发邮件）" in done.text
    assert 'src="/reports/daily/2023-05-16"' in done.text and "生成这一天的报告" not in done.text
    assert "每日材料报告" in editor.get("/reports/daily/2023-05-16").text
    with small_site.db.session() as session:
        assert session.scalars(select(OutboxMail)).all() == []

    today = small_site.campaign.local_day(utcnow()).isoformat()
    page = editor.get(f"/reports?day={today}").text
    assert "生成这一天的报告" not in page  # the morning job makes it tomorrow
    refused = editor.post(f"/reports/daily/{today}/make", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 400 and "每天早上自动生成前一天的报告" in refused.text
    forged = editor.post("/reports/daily/2023-05-15/make", data={"csrf_token": "x"})
    assert forged.status_code == 403
