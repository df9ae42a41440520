"""The scheduled jobs of the reports feature: a few lines each, calling testable handlers.

`daily` runs at [report] time; `tick` runs every minute: it catches up a daily
report missed while the service was down, sends receipts and reminders, and
retries whatever is waiting in the outbox.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from workers.config.reports import ReportConfig
from workers.reports.mailer import flush_outbox, hand_over
from workers.reports.outputs import DailyResult, has_daily_report, make_daily_report

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)
_LOCK = threading.Lock()  # the two jobs never work at once (same report, same outbox)
TICK_SECONDS = 60


def daily_if_due(ctx: AppContext, rc: ReportConfig, now: datetime) -> DailyResult | None:
    """Makes yesterday's report once it is past [report] time and not made yet; returns it."""
    local = now.astimezone(ctx.campaign.tz)
    if not rc.report.enabled or local.time() < rc.report.time:
        return None
    day = local.date() - timedelta(days=1)
    if has_daily_report(ctx, day):
        return None
    return make_daily_report(ctx, rc, day, now, send=rc.report.send)


def tick(ctx: AppContext, rc: ReportConfig, now: datetime) -> None:
    """Does every reports chore that is due; one failing chore does not stop the others."""
    from workers.reports.receipts import send_receipts
    from workers.reports.reminders import make_reminders

    local = now.astimezone(ctx.campaign.tz)
    chores = [("daily report", lambda: daily_if_due(ctx, rc, now))]
    if rc.receipts.enabled:
        chores.append(("receipts", lambda: send_receipts(ctx, rc, now)))
    if rc.reminders.enabled and local.time() >= rc.report.time:
        chores.append(("reminders", lambda: make_reminders(ctx, rc, now)))
    chores.append(("outbox", lambda: flush_outbox(ctx.db, rc.smtp, now, hand_over(ctx))))
    for name, chore in chores:
        try:
            chore()
        except Exception:
            log.exception("the %s job failed; it runs again on the next tick", name)


def _run(ctx: AppContext, rc: ReportConfig, handler) -> None:
    with _LOCK:
        try:
            handler(ctx, rc, datetime.now(ctx.campaign.tz))
        except Exception:
            log.exception("a reports job failed; it runs again on the next tick")


def register_report_jobs(scheduler, ctx: AppContext, stop: threading.Event) -> None:
    """Adds the daily report job at [report] time and the one-minute reports tick."""
    rc = ctx.config.reports
    scheduler.add_job(
        _run,
        "cron",
        args=[ctx, rc, daily_if_due],
        id="report-daily",
        hour=rc.report.time.hour,
        minute=rc.report.time.minute,
        name="daily report",
        misfire_grace_time=6 * 3600,
    )
    scheduler.add_job(
        _run,
        "interval",
        args=[ctx, rc, tick],
        id="report-tick",
        seconds=TICK_SECONDS,
        name="receipts, reminders and outbox retries",
    )
