"""Reminders: N days before a deadline, a draft per unit still missing a required kind.

Drafts are .eml files with `X-Unsent: 1` (Outlook opens them as a new message
to edit and send); with reminders.send they go out through the outbox. Each
(campaign, unit, kind, deadline, N) is reminded once, as recorded in the reminders
table; every open campaign reminds for its own kinds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from pipeline.campaign import Campaign, Kind
from pipeline.tracker import PENDING, RESEND_LABELS, TrackerRow
from storage import layout
from storage.models import Message
from storage.report_models import Reminder
from workers.config.reports import ReportConfig
from workers.reports.mailer import compose, flush_outbox, hand_over, queue
from workers.reports.outputs import tracker
from workers.reports.render import environment, render_template_text

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReminderDone:
    unit: str
    kind: str
    days_before: int
    campaign: str
    recipients: tuple[str, ...]
    path: str | None
    outbox_id: int | None


def kinds_due_in(
    campaign: Campaign, today: date, days_before: Iterable[int]
) -> list[tuple[Kind, int]]:
    """Returns the required kinds whose deadline is exactly N of `days_before` days after today."""
    wanted = set(days_before)
    return [
        (k, (k.due - today).days)
        for k in campaign.kinds
        if k.required and k.due is not None and (k.due - today).days in wanted
    ]


def make_reminders(ctx: AppContext, rc: ReportConfig, now: datetime) -> list[ReminderDone]:
    """Drafts (or queues) today's reminders for units still missing a kind; returns them."""
    done: list[ReminderDone] = []
    for campaign in ctx.open_campaigns():
        today = campaign.local_day(now)
        due = kinds_due_in(campaign, today, rc.reminders.days_before)
        if not due:
            continue
        rows = tracker(ctx, today, campaign)
        for kind, days in due:
            for row in rows:
                if (
                    row.kind == kind.code
                    and row.state == PENDING
                    and not _already(ctx, campaign, row.unit, kind, days)
                ):
                    done.append(_remind(ctx, rc, campaign, row, kind, days, now))
    if any(d.outbox_id for d in done):
        flush_outbox(ctx.db, rc.smtp, now, hand_over(ctx))
    return done


def _already(ctx: AppContext, campaign: Campaign, unit: str, kind: Kind, days: int) -> bool:
    with ctx.db.session() as session:
        return (
            session.scalar(
                select(Reminder.id).where(
                    Reminder.campaign_code == campaign.code,
                    Reminder.unit_code == unit,
                    Reminder.kind == kind.code,
                    Reminder.due == kind.due,
                    Reminder.days_before == days,
                )
            )
            is not None
        )


def unit_addresses(ctx: AppContext, unit_code: str) -> tuple[str, ...]:
    """Returns the unit's configured addresses, then those it has sent filed mail from."""
    unit = next(u for u in ctx.config.units if u.code == unit_code)
    with ctx.db.session() as session:
        used = session.scalars(
            select(Message.from_addr)
            .where(Message.unit_code == unit_code, Message.status == "filed")
            .distinct()
        )
        seen = [a.lower() for a in used if a]
    return tuple(dict.fromkeys([*unit.addresses, *seen]))


def _remind(
    ctx: AppContext,
    rc: ReportConfig,
    campaign: Campaign,
    row: TrackerRow,
    kind: Kind,
    days: int,
    now: datetime,
) -> ReminderDone:
    unit_code = row.unit
    unit = next(u for u in ctx.config.units if u.code == unit_code)
    to = unit_addresses(ctx, unit_code)
    text = render_template_text(
        environment(campaign.tz),
        "reminder.txt",
        rc.reminders.template,
        {
            "unit_name": unit.name,
            "kind_label": kind.label,
            "due": kind.due,
            "days": days,
            "campaign": campaign.name,
            "department": ctx.config.department.name,
            # files of this kind it sent that cannot be used: (name, what is wrong)
            "resend": [(name, RESEND_LABELS[status]) for name, status in row.resend],
        },
    )
    subject = (
        f"提醒：请于{kind.due.month}月{kind.due.day}日前报送{campaign.name}{kind.label}"
        f"（{unit.name}）"
    )
    send = rc.reminders.send and bool(to)
    msg = compose(rc.smtp, to, subject, text, now=now, headers={} if send else {"X-Unsent": "1"})
    path = outbox_id = None
    if send:
        outbox_id = queue(ctx.db, "reminder", msg, to, now)
    else:
        folder = rc.reminders.drafts_dir / campaign.local_day(now).isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / layout.safe_component(f"{unit.name}-{campaign.name}-{kind.label}.eml")
        tmp = folder / f".tmp-{target.name}"
        tmp.write_bytes(msg.as_bytes())
        tmp.replace(target)
        path = str(target)
    with ctx.db.session() as session:
        session.add(
            Reminder(
                campaign_code=campaign.code,
                unit_code=unit_code,
                kind=kind.code,
                due=kind.due,
                days_before=days,
                status="queued" if send else "draft",
                recipients=list(to),
                path=path,
                outbox_id=outbox_id,
                created_at=now,
            )
        )
    log.info(
        "reminder for %s (%s, due %s) %s",
        unit.name,
        kind.label,
        kind.due,
        f"queued as #{outbox_id}" if send else f"drafted at {path}",
    )
    return ReminderDone(unit_code, kind.code, days, campaign.code, to, path, outbox_id)
