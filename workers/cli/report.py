"""`mailroom report ...`: the daily report, the tracker, receipts, reminders and the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from pipeline.errors import ConfigError, MailroomError
from workers.cli.state import State

DAY = click.DateTime(["%Y-%m-%d"])
ALL = "all"


def campaign_option(help_text: str):
    return click.option("--campaign", "campaign_code", metavar="CODE", help=help_text)


def _now(ctx) -> datetime:
    return datetime.now(ctx.campaign.tz)


@click.group()
def report() -> None:
    """Daily reports, the submission tracker, receipts and reminders.

    Example: mailroom report daily --date 2023-05-20 --no-send
    """


@report.command("daily")
@click.option("--date", "day", type=DAY, help="The local day to report on (default: yesterday).")
@click.option(
    "--send/--no-send",
    default=None,
    help="Email it to [report] recipients (default: when [smtp] and recipients are set).",
)
@click.option("--show", is_flag=True, help="Also print the plain-text report.")
@campaign_option(
    "The campaign to report on, or 'all' for a section per open campaign "
    "(default: the only open one)."
)
@click.pass_obj
def daily(
    state: State, day: datetime | None, send: bool | None, show: bool, campaign_code: str | None
) -> None:
    """Make the daily report: save HTML, text and XLSX under <archive>/reports/, and send it.

    The scheduled report (mailroom run) has a section for every open campaign.

    Example: mailroom report daily --date 2023-05-20 --show
    """
    from workers.reports.mailer import SendError
    from workers.reports.outputs import make_daily_report

    ctx = state.app()
    if campaign_code == ALL:
        campaigns = list(ctx.open_campaigns())
    else:
        campaigns = [_choose(ctx, campaign_code, also="all")]
    rc = ctx.config.reports
    if send:
        _require_sending(ctx, rc)
    if send is None:
        send = rc.report.send and bool(rc.report.recipients) and rc.smtp.configured
    now = _now(ctx)
    target = day.date() if day else now.date() - timedelta(days=1)
    result = make_daily_report(ctx, rc, target, now, send=send, campaigns=campaigns)
    if show:
        click.echo(result.text)
    for rel in (result.html_path, result.text_path, result.xlsx_path):
        click.echo(f"saved {ctx.archive.abspath(rel)}")
    if result.sent:
        click.echo(f"sent to {', '.join(rc.report.recipients)}")
    elif result.outbox_id is not None:
        raise SendError(
            f"the report is saved but sending failed ({result.send_error}); "
            f"`mailroom run` retries it, or run `mailroom report outbox --retry`"
        )


def _choose(ctx, code: str | None, also: str = ""):
    """Returns the campaign --campaign names, or the only open one (an error lists the codes)."""
    try:
        return ctx.choose_campaign(code)
    except MailroomError as exc:
        raise MailroomError(f"{exc}" + (f" (or --campaign {also})" if also else "")) from None


def _require_sending(ctx, rc) -> None:
    if not rc.smtp.configured:
        raise ConfigError(ctx.config.label, "smtp.host", "is not set, so nothing can be sent")
    if not rc.report.recipients:
        raise ConfigError(ctx.config.label, "report.recipients", "is empty; add addresses")


@report.command("tracker")
@click.option(
    "--date", "day", type=DAY, help="State as of the end of this local day (default: today)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "xlsx"]),
    default="json",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (default: stdout; xlsx goes under <archive>/reports/tracker/).",
)
@campaign_option("The campaign's tracker (default: the only open campaign).")
@click.pass_obj
def tracker_cmd(
    state: State, day: datetime | None, fmt: str, output: Path | None, campaign_code: str | None
) -> None:
    """Print or save the submission tracker: every unit × required kind and its state.

    States: submitted (on time), late, missing (deadline passed), pending.

    Example: mailroom report tracker --date 2023-05-20 --format xlsx --output 进度.xlsx
    """
    from storage import layout
    from workers.reports.outputs import tracker, tracker_csv, tracker_json, tracker_xlsx

    ctx = state.app()
    campaign = _choose(ctx, campaign_code)
    as_of = day.date() if day else _now(ctx).date()
    rows = tracker(ctx, as_of, campaign)
    if fmt == "xlsx":
        data = tracker_xlsx(campaign, rows)
        if output is None:
            rel = f"{layout.REPORTS}/tracker/报送进度-{campaign.code}-{as_of.isoformat()}.xlsx"
            ctx.archive.put_bytes(rel, data)
            click.echo(f"saved {ctx.archive.abspath(rel)}")
            return
        output.write_bytes(data)
        click.echo(f"saved {output}")
        return
    text = tracker_json(campaign, rows) if fmt == "json" else tracker_csv(campaign, rows)
    if output is None:  # the CSV keeps its BOM: `> 进度.csv` then opens right in Excel
        click.echo(text, nl=fmt == "json")
    else:
        output.write_text(text, encoding="utf-8", newline="")
        click.echo(f"saved {output}")


@report.command("receipts")
@click.option("--since", type=DAY, help="Only messages received on or after this local day.")
@click.pass_obj
def receipts_cmd(state: State, since: datetime | None) -> None:
    """Send receipts now for filed messages not acknowledged yet ([receipts] in config).

    Example: mailroom report receipts --since 2023-05-14
    """
    from workers.reports.receipts import send_receipts

    ctx = state.app()
    rc = ctx.config.reports
    if not rc.receipts.enabled:
        raise ConfigError(ctx.config.label, "receipts.enabled", "is false; set it to true first")
    start = datetime.combine(since.date(), datetime.min.time(), ctx.campaign.tz) if since else None
    plan = send_receipts(ctx, rc, _now(ctx), since=start)
    click.echo(
        f"receipts: {len(plan.batches)} written, {len(plan.suppressed)} suppressed, "
        f"{len(plan.skipped)} too old, {len(plan.waiting)} waiting for the interval"
    )


@report.command("reminders")
@click.option("--date", "day", type=DAY, help="Pretend today is this local day (for a preview).")
@click.pass_obj
def reminders_cmd(state: State, day: datetime | None) -> None:
    """Draft (or send) today's deadline reminders to units still missing a kind.

    Example: mailroom report reminders --date 2023-05-22
    """
    from workers.reports.reminders import make_reminders

    ctx = state.app()
    rc = ctx.config.reports
    now = _now(ctx)
    if day:
        now = datetime.combine(day.date(), now.timetz())
    done = make_reminders(ctx, rc, now)
    for d in done:
        where = d.path or f"outbox #{d.outbox_id}"
        click.echo(f"{d.unit} {d.kind} ({d.days_before} days before): {where}")
    if not done:
        click.echo("no reminders due today")


@report.command("outbox")
@click.option("--retry", is_flag=True, help="Send what is waiting now, ignoring the backoff.")
@click.pass_obj
def outbox_cmd(state: State, retry: bool) -> None:
    """List mail waiting to be sent (and failures); --retry sends it now.

    Example: mailroom report outbox --retry
    """
    from workers.reports.mailer import flush_outbox, hand_over, pending_mail, release_backoff

    ctx = state.app()
    rc = ctx.config.reports
    now = _now(ctx)
    if retry:
        release_backoff(ctx.db, now)
        result = flush_outbox(ctx.db, rc.smtp, now, hand_over(ctx))
        click.echo(f"sent {result.sent}, still failing {result.retrying}, gave up {result.failed}")
    for row in pending_mail(ctx.db):
        click.echo(
            f"#{row['id']} {row['status']} {row['purpose']} attempts={row['attempts']} "
            f"next={row['next_attempt_at']} {row['subject']} — {row['last_error'] or ''}"
        )
