"""Composing mail and sending it by SMTP through the outbox, which retries with backoff.

Everything to send is first written to the outbox table; flush_outbox() sends
what is due, send_one() one mail by id (the `report` job of workers/jobs). A
failure is recorded on the row (attempts, error, next attempt time), so the next
tick of the scheduler tries again, even after a restart.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from typing import TYPE_CHECKING

from sqlalchemy import case, select, update

from pipeline.errors import MailroomError
from storage.db import Database
from storage.report_models import FAILED, PENDING, SENDING, SENT, OutboxMail
from workers.config.reports import SmtpSettings

if TYPE_CHECKING:
    from workers.app import AppContext

log = logging.getLogger(__name__)


class SendError(MailroomError):
    """The SMTP server could not be reached or refused the message."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    mime: str = "application/octet-stream"


@dataclass
class FlushResult:
    """What a flush did: sent, failed but retrying later, given up, handed to a worker."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    handed_over: int = 0

    def add(self, other: FlushResult) -> None:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.handed_over += other.handed_over


def hand_over(ctx: AppContext) -> Callable[[int, int], int] | None:
    """Returns how due mail leaves this process: None (sent here), or as `report` jobs.

    With a broker the dispatcher takes (outbox id, attempts so far) and submits a job
    unless that attempt was submitted recently; it returns 0 or 1.
    """
    return ctx.jobs.submit_report if ctx.jobs.distributed else None


def compose(
    smtp: SmtpSettings,
    to: Sequence[str],
    subject: str,
    text: str,
    *,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
    headers: dict[str, str] | None = None,
    now: datetime,
) -> EmailMessage:
    """Returns a message from the configured sender: text, optional HTML, attachments."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((smtp.from_name, smtp.from_addr)) if smtp.from_name else smtp.from_addr
    if to:
        msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("mailroom", domain=smtp.from_addr.rpartition("@")[2] or None)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text, charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    for att in attachments:
        maintype, _, subtype = att.mime.partition("/")
        msg.add_attachment(att.data, maintype=maintype, subtype=subtype, filename=att.filename)
    return msg


def queue(
    db: Database, purpose: str, msg: EmailMessage, recipients: Sequence[str], now: datetime
) -> int:
    """Puts a message in the outbox, due now; returns its outbox id."""
    with db.session() as session:
        row = OutboxMail(
            purpose=purpose,
            recipients=list(recipients),
            subject=str(msg["Subject"]),
            raw=msg.as_bytes().decode("utf-8"),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        session.flush()
        return row.id


def send_raw(smtp: SmtpSettings, recipients: Sequence[str], raw: bytes) -> None:
    """Sends raw message bytes to recipients; raises SendError saying what to check."""
    where = f"{smtp.host}:{smtp.port}"
    try:
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(
                smtp.host,
                smtp.port,
                timeout=smtp.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, _password(smtp))
            client.sendmail(smtp.from_addr, list(recipients), raw)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(
            f"cannot log in to {where} as {smtp.username}: check "
            f"{smtp.password_env} or smtp.password_file ({exc.smtp_code})"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(
            f"cannot send mail via {where}: {type(exc).__name__}: {exc}; "
            f"check [smtp] host, port and security in config"
        ) from None


def _password(smtp: SmtpSettings) -> str:
    password = smtp.password()
    if password is None:
        raise SendError(
            f"smtp.username is set but no password: set {smtp.password_env} or smtp.password_file"
        )
    return password


def backoff(attempts: int, smtp: SmtpSettings) -> timedelta:
    """Returns the wait after the n-th failed attempt: retry_minutes doubled, capped."""
    minutes = smtp.retry_minutes * 2 ** max(attempts - 1, 0)
    return timedelta(minutes=min(minutes, smtp.retry_max_minutes))


def flush_outbox(
    db: Database,
    smtp: SmtpSettings,
    now: datetime,
    hand_over: Callable[[int, int], int] | None = None,
) -> FlushResult:
    """Sends every outbox message that is due, or hands each to a worker; returns the counts.

    With `hand_over` (a broker is configured, see `hand_over(ctx)`), each due mail
    becomes a `report` job for `mailroom worker`; otherwise it is sent here.
    """
    result = FlushResult()
    if not smtp.configured:
        return result
    with db.session() as session:
        due = session.execute(
            select(OutboxMail.id, OutboxMail.attempts)
            .where(OutboxMail.status.in_((PENDING, SENDING)), OutboxMail.next_attempt_at <= now)
            .order_by(OutboxMail.id)
        ).all()
    for outbox_id, attempts in due:
        if hand_over is not None:
            result.handed_over += hand_over(outbox_id, attempts)
        else:
            result.add(send_one(db, smtp, outbox_id, now))
    return result


def send_one(db: Database, smtp: SmtpSettings, outbox_id: int, now: datetime) -> FlushResult:
    """Sends one outbox mail if it is pending and due; returns the counts (all 0: not sent).

    The row is claimed first (status `sending` until its lease runs out, in one
    conditional UPDATE), so two workers given the same id send it once, and a person's
    retry (release_backoff) leaves a mail being sent alone.
    """
    result = FlushResult()
    if not smtp.configured:
        log.warning("cannot send outbox mail #%d: [smtp] host is not set here", outbox_id)
        return result
    if not _claim(db, outbox_id, now, smtp):
        return result
    with db.session() as session:
        row = session.get(OutboxMail, outbox_id)
        try:
            send_raw(smtp, row.recipients, row.raw.encode("utf-8"))
        except SendError as exc:
            _record_failure(row, exc, smtp, now, result)
            return result
        except Exception as exc:  # not the server's answer (a non-ASCII address, a bug): a
            # row left `sending` would be claimed after every lease, for ever, never counted
            log.exception("could not send %s #%d", row.purpose, row.id)
            _record_failure(row, SendError(f"{type(exc).__name__}: {exc}"), smtp, now, result)
            return result
        row.status, row.sent_at, row.last_error = SENT, now, None
        row.attempts += 1
        result.sent += 1
        log.info(
            "sent %s #%d to %s: %s",
            row.purpose,
            row.id,
            ", ".join(row.recipients),
            row.subject[:60],
        )
    return result


def _claim(db: Database, outbox_id: int, now: datetime, smtp: SmtpSettings) -> bool:
    # A sender that dies mid-send leaves the row `sending`; after the lease it is claimed again.
    lease = timedelta(seconds=60 + 4 * smtp.timeout_seconds)
    with db.session() as session:
        claimed = session.execute(
            update(OutboxMail)
            .where(
                OutboxMail.id == outbox_id,
                OutboxMail.status.in_((PENDING, SENDING)),  # sending: its lease ran out
                OutboxMail.next_attempt_at <= now,
            )
            .values(status=SENDING, next_attempt_at=now + lease)
        )
        return claimed.rowcount == 1


def _record_failure(
    row: OutboxMail, exc: SendError, smtp: SmtpSettings, now: datetime, result: FlushResult
) -> None:
    row.attempts += 1
    row.last_error = str(exc)[:2000]
    if row.attempts >= smtp.max_attempts:
        row.status = FAILED
        result.failed += 1
        log.error(
            "gave up sending %s #%d (%s) after %d attempts: %s",
            row.purpose,
            row.id,
            row.subject[:60],
            row.attempts,
            exc,
        )
        return
    row.status, row.next_attempt_at = PENDING, now + backoff(row.attempts, smtp)
    result.retrying += 1
    log.warning(
        "sending %s #%d failed (attempt %d), next try at %s: %s",
        row.purpose,
        row.id,
        row.attempts,
        row.next_attempt_at,
        exc,
    )


def pending_mail(db: Database) -> list[dict]:
    """Returns outbox mail not sent yet (pending or given up), oldest first."""
    with db.session() as session:
        rows = session.scalars(
            select(OutboxMail).where(OutboxMail.status != SENT).order_by(OutboxMail.id)
        )
        return [
            {
                "id": r.id,
                "purpose": r.purpose,
                "status": r.status,
                "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at.isoformat(),
                "subject": r.subject,
                "recipients": r.recipients,
                "last_error": r.last_error,
            }
            for r in rows
        ]


def release_backoff(db: Database, now: datetime) -> int:
    """Makes waiting and given-up mail due now (a person asked to retry); returns how many."""
    with db.session() as session:
        # One conditional UPDATE, not a read and a later write: a mail a sender claimed in
        # between would lose its lease (become due again) and go out twice.
        released = session.execute(
            update(OutboxMail)
            .where(OutboxMail.status.not_in((SENT, SENDING)))
            .values(
                status=PENDING,
                next_attempt_at=now,
                # a mail given up on gets a fresh set of attempts
                attempts=case((OutboxMail.status == FAILED, 0), else_=OutboxMail.attempts),
            )
        )
        return released.rowcount
