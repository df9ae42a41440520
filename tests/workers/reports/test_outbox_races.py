"""The outbox under concurrency and odd failures: a retry racing a sender, a mail SMTP refuses."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from storage.report_models import OutboxMail
from workers.reports.mailer import _claim, compose, flush_outbox, release_backoff, send_one
from workers.reports.mailer import queue as put_in_outbox


def _mail(ctx, to: str, subject: str, due: datetime) -> int:
    smtp = ctx.config.reports.smtp
    return put_in_outbox(ctx.db, "daily", compose(smtp, [to], subject, "正文", now=due), [to], due)


def _row(ctx, outbox_id: int) -> OutboxMail:
    with ctx.db.session() as session:
        row = session.get(OutboxMail, outbox_id)
        session.expunge(row)
        return row


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_retry_asked_for_while_a_sender_claims_the_mail_does_not_cut_its_lease(
    engine, make_app, request, smtp_server
):
    """`report outbox --retry` read the mail as due; a sender claimed it before the retry
    wrote, and the retry made it due again, so the CLI's flush sent it a second time."""
    url = request.getfixturevalue("postgres").create_database() if engine == "postgresql" else None
    ctx = make_app(smtp_server.toml(), database_url=url)
    smtp = ctx.config.reports.smtp
    due = datetime.now(UTC)
    outbox_id = _mail(ctx, "boss@example.cn", "每日报告 2023-05-22", due)
    now = due + timedelta(seconds=5)
    retrier_read, go_on = threading.Event(), threading.Event()

    @event.listens_for(ctx.db.sessions, "before_flush")
    def retrier_pauses_before_writing(session, *_):
        if threading.current_thread() is retrier:
            retrier_read.set()
            go_on.wait(60)

    def retry() -> None:
        try:
            release_backoff(ctx.db, now)
        finally:
            retrier_read.set()  # also when it wrote without reading first

    retrier = threading.Thread(target=retry)
    retrier.start()
    assert retrier_read.wait(60)
    assert _claim(ctx.db, outbox_id, now, smtp)  # a worker is sending it right now
    go_on.set()
    retrier.join(60)

    assert flush_outbox(ctx.db, smtp, now).sent == 0  # what `report outbox --retry` does next
    assert smtp_server.received.envelopes == []
    assert _row(ctx, outbox_id).status == "sending"


def test_a_mail_smtp_cannot_carry_is_retried_and_given_up_not_left_sending(make_app, smtp_server):
    """A non-ASCII address makes smtplib raise UnicodeEncodeError, not an SMTP error: the row
    stayed `sending` with no attempt counted, retried after every lease for ever, and the
    mail queued after it waited for the next tick."""
    ctx = make_app(smtp_server.toml())
    smtp = ctx.config.reports.smtp
    now = datetime.now(UTC)
    odd = _mail(ctx, "张老师@学校.中国", "回执", now)
    plain = _mail(ctx, "boss@example.cn", "每日报告 2023-05-22", now)

    result = flush_outbox(ctx.db, smtp, now)

    assert (result.sent, result.retrying) == (1, 1)
    assert [m["Subject"] for m in smtp_server.received.messages()] == ["每日报告 2023-05-22"]
    row = _row(ctx, odd)
    assert (row.status, row.attempts) == ("pending", 1) and "UnicodeEncodeError" in row.last_error
    assert _row(ctx, plain).status == "sent"
    for _ in range(smtp.max_attempts - 1):
        send_one(ctx.db, smtp, odd, _row(ctx, odd).next_attempt_at.replace(tzinfo=UTC))
    assert _row(ctx, odd).status == "failed"
