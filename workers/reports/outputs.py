"""Making the daily report's files, saving them under <archive>/reports/, and queueing the email.

Files are written (atomically) before anything is sent, so an SMTP failure
loses nothing: the report is on disk and its email waits in the outbox.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from pipeline import tracker_sheets
from pipeline.campaign import Campaign
from pipeline.tracker import TrackerRow
from storage import layout
from storage.report_models import OutboxMail, SavedReport
from storage.tracker import load_tracker
from workers.config.reports import ReportConfig
from workers.reports.daily import gather_daily
from workers.reports.mailer import Attachment, compose, flush_outbox, hand_over, queue
from workers.reports.render import daily_subject, render_daily
from workers.reports.xlsx import daily_workbook

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class DailyResult:
    """What `make_daily_report` did: the files saved and the email's fate."""

    day: date
    html_path: str
    text_path: str
    xlsx_path: str
    text: str
    outbox_id: int | None
    sent: bool
    send_error: str | None


def report_paths(day: date, only: str | None = None) -> tuple[str, str, str]:
    """Returns the archive-relative html, text and xlsx paths of a day's report
    (`only`: the code of the one campaign a partial report covers)."""
    folder = f"{layout.REPORTS}/daily/{day.isoformat()}"
    stem = f"每日报告-{day.isoformat()}" + (f"-{only}" if only else "")
    return f"{folder}/{stem}.html", f"{folder}/{stem}.txt", f"{folder}/{stem}.xlsx"


def make_daily_report(
    ctx: AppContext,
    rc: ReportConfig,
    day: date,
    now: datetime,
    *,
    send: bool,
    campaigns: list[Campaign] | None = None,
) -> DailyResult:
    """Saves the report for one local day, queues it to the recipients if send, and sends.

    `campaigns`: a section each (default: every open campaign, as the scheduled report).
    A report of fewer campaigns than are open is saved beside the full one, not in its
    place. Returns what was done; a send failure is recorded for retry, never raised.
    """
    tz = ctx.campaign.tz
    opened = list(ctx.open_campaigns())
    campaigns = opened if campaigns is None else campaigns
    partial = {c.code for c in campaigns} != {c.code for c in opened}
    data = gather_daily(ctx, day, now, campaigns)
    html, text = render_daily(data, tz)
    workbook = daily_workbook(data, tz)
    paths = report_paths(day, "-".join(c.code for c in campaigns) if partial else None)
    for rel, content in zip(paths, (html.encode(), text.encode(), workbook), strict=True):
        ctx.archive.put_bytes(rel, content)
    outbox_id = None
    if send and rc.report.recipients and rc.smtp.configured:
        msg = compose(
            rc.smtp,
            rc.report.recipients,
            daily_subject(data),
            text,
            html=html,
            attachments=[Attachment(paths[2].rsplit("/", 1)[1], workbook, XLSX)],
            now=now,
        )
        outbox_id = queue(ctx.db, "daily", msg, rc.report.recipients, now)
    if not partial:  # the scheduled report's record: made for this day
        _record(ctx, day, now, paths, outbox_id, data)
    log.info(
        "daily report for %s saved under %s (%d messages, %d problems)",
        day,
        paths[0].rsplit("/", 1)[0],
        data.total_messages,
        len(data.problems),
    )
    sent, error = False, None
    if outbox_id is not None:
        flush_outbox(ctx.db, rc.smtp, now, hand_over(ctx))
        with ctx.db.session() as session:
            row = session.get(OutboxMail, outbox_id)
            sent, error = row.status == "sent", row.last_error
    return DailyResult(day, *paths, text=text, outbox_id=outbox_id, sent=sent, send_error=error)


def _record(
    ctx: AppContext,
    day: date,
    now: datetime,
    paths: tuple[str, str, str],
    outbox_id: int | None,
    data,
) -> None:
    summary = {
        "messages": data.total_messages,
        "problems": len(data.problems),
        "triage": data.triage_count,
        "links": len(data.links),
        "missing": sum(1 for r in data.tracker if r.state == "missing"),
        "inquiries": len(data.inquiries),
        "campaigns": [s.code for s in data.sections],
    }
    with ctx.db.session() as session:
        row = session.scalar(
            select(SavedReport).where(SavedReport.kind == "daily", SavedReport.day == day)
        )
        if row is None:
            row = SavedReport(kind="daily", day=day)
            session.add(row)
        row.made_at, row.summary = now, summary
        row.html_path, row.text_path, row.xlsx_path = paths
        row.outbox_id = outbox_id if outbox_id is not None else row.outbox_id


def has_daily_report(ctx: AppContext, day: date) -> bool:
    with ctx.db.session() as session:
        return (
            session.scalar(
                select(SavedReport.id).where(SavedReport.kind == "daily", SavedReport.day == day)
            )
            is not None
        )


def list_saved_reports(ctx: AppContext, limit: int = 100) -> list[dict]:
    """Returns the saved daily reports, newest first, with paths and send status (for the web UI)."""
    with ctx.db.session() as session:
        rows = session.execute(
            select(SavedReport, OutboxMail)
            .outerjoin(OutboxMail, SavedReport.outbox_id == OutboxMail.id)
            .order_by(SavedReport.day.desc())
            .limit(limit)
        ).all()
    return [
        {
            "day": r.day.isoformat(),
            "made_at": r.made_at.isoformat(),
            "html_path": r.html_path,
            "text_path": r.text_path,
            "xlsx_path": r.xlsx_path,
            "summary": r.summary,
            "send_status": o.status if o else "not_sent",
            "send_error": o.last_error if o else None,
        }
        for r, o in rows
    ]


def tracker(ctx: AppContext, as_of: date, campaign: Campaign) -> list[TrackerRow]:
    """Returns the campaign's tracker rows as of the end of a local day (CLI and web UI)."""
    with ctx.db.session() as session:
        return load_tracker(session, campaign, ctx.config.units, as_of)


def tracker_json(campaign: Campaign, rows: list[TrackerRow]) -> str:
    return json.dumps([r.to_json(campaign) for r in rows], ensure_ascii=False, indent=2)


def tracker_csv(campaign: Campaign, rows: list[TrackerRow]) -> str:
    """Returns the tracker as CSV (BOM, Chinese headers; see pipeline.tracker_sheets)."""
    return tracker_sheets.tracker_csv(rows, campaign)


def tracker_xlsx(campaign: Campaign, rows: list[TrackerRow]) -> bytes:
    return tracker_sheets.tracker_workbook(rows, campaign.tz)
