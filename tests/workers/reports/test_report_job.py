"""The `report` job: one outbox mail sent by id, through the in-process dispatcher."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from storage.report_models import OutboxMail
from workers.jobs.runners import run_report
from workers.reports.jobs import tick
from workers.reports.mailer import compose, flush_outbox, send_one
from workers.reports.mailer import queue as put_in_outbox


def outbox_mail(ctx, subject: str, due: datetime) -> int:
    """Puts one mail to boss@example.cn in the outbox, due at `due`; returns its id."""
    smtp = ctx.config.reports.smtp
    msg = compose(smtp, ["boss@example.cn"], subject, "正文", now=due)
    return put_in_outbox(ctx.db, "daily", msg, ["boss@example.cn"], due)


def row_of(ctx, outbox_id: int) -> OutboxMail:
    with ctx.db.session() as session:
        row = session.get(OutboxMail, outbox_id)
        session.expunge(row)
        return row


def test_submitted_report_job_sends_the_mail_once(make_app, smtp_server):
    ctx = make_app(smtp_server.toml())
    outbox_id = outbox_mail(ctx, "每日报告 2023-05-20", datetime.now(UTC))

    ctx.jobs.submit_report(outbox_id, 0)
    (received,) = smtp_server.received.messages()
    assert received["Subject"] == "每日报告 2023-05-20"
    assert smtp_server.received.envelopes[0][1] == ["boss@example.cn"]
    row = row_of(ctx, outbox_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)

    ctx.jobs.submit_report(outbox_id, 0)  # delivered twice: sent once
    assert len(smtp_server.received.envelopes) == 1
    assert run_report(ctx, outbox_id) == "gone"
    assert row_of(ctx, outbox_id).attempts == 1


def test_report_job_for_mail_not_due_yet_sends_nothing(make_app, smtp_server):
    ctx = make_app(smtp_server.toml())
    later = datetime.now(UTC) + timedelta(minutes=30)
    outbox_id = outbox_mail(ctx, "稍后发送", later)

    ctx.jobs.submit_report(outbox_id, 0)
    assert run_report(ctx, outbox_id) == "waiting"
    assert smtp_server.received.envelopes == []
    row = row_of(ctx, outbox_id)
    assert (row.status, row.attempts) == ("pending", 0)
    assert abs(row.next_attempt_at - later) < timedelta(seconds=1)  # not moved by the job


def test_report_job_with_smtp_down_records_the_failure_for_a_retry(make_app, smtp_down):
    ctx = make_app(smtp_down.toml())
    outbox_id = outbox_mail(ctx, "发送失败", datetime.now(UTC))

    assert run_report(ctx, outbox_id) == "waiting"
    row = row_of(ctx, outbox_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "cannot send mail via 127.0.0.1" in row.last_error
    assert row.next_attempt_at > datetime.now(UTC) + timedelta(minutes=4)  # retry_minutes = 5

    smtp_down.start()
    assert run_report(ctx, outbox_id) == "waiting"  # backing off: nothing sent yet
    assert smtp_down.received.envelopes == []


def test_unknown_outbox_id_is_gone(make_app, smtp_server):
    ctx = make_app(smtp_server.toml())
    assert run_report(ctx, 4242) == "gone"
    assert smtp_server.received.envelopes == []


def test_two_senders_of_the_same_mail_send_it_once(make_app, smtp_server):
    ctx = make_app(smtp_server.toml())
    smtp = ctx.config.reports.smtp
    now = datetime.now(UTC)
    outbox_id = outbox_mail(ctx, "只发一次", now)
    start = threading.Barrier(4)
    results = []

    def sender() -> None:
        start.wait()
        results.append(send_one(ctx.db, smtp, outbox_id, now))

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.sent for r in results) == 1
    assert len(smtp_server.received.envelopes) == 1


def test_without_a_broker_the_tick_sends_the_outbox_in_this_process(make_app, smtp_server):
    ctx = make_app(smtp_server.toml())
    rc = ctx.config.reports
    now = datetime.now(UTC)
    first, second = outbox_mail(ctx, "一", now), outbox_mail(ctx, "二", now)
    tick(ctx, rc, now)
    assert {m["Subject"] for m in smtp_server.received.messages()} == {"一", "二"}
    assert row_of(ctx, first).status == row_of(ctx, second).status == "sent"
    result = flush_outbox(ctx.db, rc.smtp, now + timedelta(minutes=1))
    assert (result.sent, result.handed_over) == (0, 0)


def test_a_retry_asked_for_while_a_mail_is_being_sent_does_not_send_it_twice(make_app, smtp_server):
    from workers.reports.mailer import _claim, release_backoff

    ctx = make_app(smtp_server.toml())
    smtp = ctx.config.reports.smtp
    now = datetime.now(UTC)
    outbox_id = outbox_mail(ctx, "每日报告 2023-05-21", now)
    assert _claim(ctx.db, outbox_id, now, smtp)  # a worker is sending it right now
    assert row_of(ctx, outbox_id).status == "sending"

    assert release_backoff(ctx.db, now) == 0  # `report outbox --retry` leaves it alone
    assert send_one(ctx.db, smtp, outbox_id, now).sent == 0  # so does a second job
    assert smtp_server.received.envelopes == []

    later = now + timedelta(seconds=61 + 4 * smtp.timeout_seconds)  # that sender died
    assert send_one(ctx.db, smtp, outbox_id, later).sent == 1
    assert send_one(ctx.db, smtp, outbox_id, later).sent == 0
    assert len(smtp_server.received.envelopes) == 1
    assert row_of(ctx, outbox_id).status == "sent"
