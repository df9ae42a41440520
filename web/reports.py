"""The reports page: pick a day, read that day's report in the browser, download the tracker.

The tracker shown (and downloaded as CSV or XLSX) is the one `mailroom report
tracker` prints, as of the end of the chosen day. A saved daily report is shown
in a frame of its own: its HTML has the inline styles mail clients need, so it is
served with a CSP that allows those styles and nothing that runs.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pipeline.tracker import required_kinds
from pipeline.tracker_sheets import tracker_csv, tracker_workbook
from storage import layout
from storage.models import utcnow
from storage.report_models import SavedReport
from storage.tracker import load_tracker
from web import queries
from web.auth import require_editor
from web.common import arg_day, chosen_campaign, db, parse_day, parse_int, render
from web.files import send_file
from web.history import flash
from web.security import checked_form, content_disposition

MAX_REPORTS = 300
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# the saved report's own styles, nothing else: no script, no remote anything, no forms
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups"
)


def report_files(archive_root: Path) -> list[tuple[str, float, int]]:
    """Returns saved report files under <archive>/reports/ as (relative path, mtime, size)."""
    root = archive_root / layout.REPORTS
    found = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            stat = path.stat()
            found.append((str(path.relative_to(archive_root)), stat.st_mtime, stat.st_size))
    found.sort(key=lambda f: (-f[1], f[0]))
    return found[:MAX_REPORTS]


def _today(request: Request) -> date:
    return request.app.state.ctx.campaign.local_day(utcnow())


def reports(request: Request) -> Response:
    """The day picked (default: the latest daily report, else today): report and tracker
    (of the campaign chosen in the switcher)."""
    ctx = request.app.state.ctx
    campaign = chosen_campaign(request) or ctx.campaign
    with db(request) as session:
        saved = session.scalars(
            select(SavedReport)
            .where(SavedReport.kind == "daily")
            .order_by(SavedReport.day.desc())
            .limit(60)
        ).all()
        day = arg_day(request, "day") or (saved[0].day if saved else _today(request))
        report = next((r for r in saved if r.day == day), None)
        if report is None:
            report = session.scalar(
                select(SavedReport).where(SavedReport.kind == "daily", SavedReport.day == day)
            )
        grid = queries.tracker(session, ctx, campaign, as_of=day)
        files = report_files(ctx.archive.root)
        return render(
            request,
            "reports.html",
            nav="reports",
            day=day,
            report=report,
            saved=saved,
            grid=grid,
            kinds=required_kinds(campaign),
            tracked=campaign,
            past=day < _today(request),
            files=[
                (n, rel.rsplit("/", 1)[-1], datetime.fromtimestamp(mtime, UTC), size)
                for n, (rel, mtime, size) in enumerate(files)
            ],
        )


async def make_report(request: Request) -> Response:
    """Makes a past day's daily report that was never made (mailroom was not running that
    morning, or the day is before it started); saved and shown, not mailed."""
    require_editor(request)
    await checked_form(request)
    day = parse_day(request.path_params["day"])
    if day >= _today(request):
        raise HTTPException(400, "今天及以后的报告还不能生成：每天早上自动生成前一天的报告。")
    await run_in_threadpool(request.app.state.ctx.save_daily_report, day)
    flash(request, f"已生成{day.month}月{day.day}日的每日报告（没有发邮件）。")
    return RedirectResponse(f"/reports?day={day.isoformat()}", status_code=303)


def _saved(request: Request) -> SavedReport:
    day = parse_day(request.path_params["day"])
    with db(request) as session:
        row = session.scalar(
            select(SavedReport).where(SavedReport.kind == "daily", SavedReport.day == day)
        )
        if row is None:
            raise HTTPException(404, "这一天没有生成每日报告。")
        session.expunge(row)
        return row


def daily_html(request: Request) -> Response:
    """A saved daily report's HTML, to read in the page's frame (or open on its own)."""
    row = _saved(request)
    try:
        data = request.app.state.ctx.archive.abspath(row.html_path).read_bytes()
    except OSError:
        raise HTTPException(404, "报告文件不在归档里（可能已被移走）。") from None
    return Response(
        data,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "private, no-store"},
    )


def daily_file(request: Request) -> Response:
    """A saved daily report as a download: html, txt or xlsx."""
    row = _saved(request)
    fmt = request.path_params["fmt"]
    rel = {"html": row.html_path, "txt": row.text_path, "xlsx": row.xlsx_path}.get(fmt)
    if rel is None:
        raise HTTPException(404, "没有这种格式的报告。")
    return send_file(request, rel, rel.rsplit("/", 1)[-1], None, False)


def report_file(request: Request) -> Response:
    """A saved report file, by its number in the listing (never a path from the request)."""
    files = report_files(request.app.state.ctx.archive.root)
    number = parse_int(request.path_params["number"], 0, len(files) - 1)
    if number is None:
        raise HTTPException(404, "没有这份报告（列表可能已更新，请刷新）。")
    rel = files[number][0]
    return send_file(request, rel, rel.rsplit("/", 1)[-1], None, False)


def _rows(request: Request):
    """Returns (campaign, day, tracker rows): the chosen campaign as of ?day= (or today)."""
    ctx = request.app.state.ctx
    campaign = chosen_campaign(request) or ctx.campaign
    day = arg_day(request, "day") or _today(request)
    with db(request) as session:
        return campaign, day, load_tracker(session, campaign, ctx.config.units, day)


def tracker_csv_file(request: Request) -> Response:
    """The tracker as of ?day= (default today) as CSV: BOM, Chinese headers, codes kept."""
    campaign, day, rows = _rows(request)
    name = f"报送进度-{campaign.name}-{day.isoformat()}.csv"
    return Response(
        tracker_csv(rows, campaign).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(name)},
    )


def tracker_xlsx_file(request: Request) -> Response:
    """The tracker as of ?day= as XLSX: the units × kinds grid, then one line per cell."""
    campaign, day, rows = _rows(request)
    name = f"报送进度-{campaign.name}-{day.isoformat()}.xlsx"
    return Response(
        tracker_workbook(rows, campaign.tz),
        media_type=XLSX,
        headers={"Content-Disposition": content_disposition(name)},
    )
