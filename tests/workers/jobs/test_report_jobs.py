"""Report mail through Redis: a real `mailroom worker --queues ingest` sends it to a real SMTP receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from storage.report_models import OutboxMail
from tests.conftest import broker_jobs, send_task_twice
from tests.workers.reports.conftest import Received, SmtpServer, free_port
from workers.reports.jobs import tick
from workers.reports.mailer import compose, flush_outbox, hand_over
from workers.reports.mailer import queue as put_in_outbox


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port(), Received())
    server.start()
    yield server
    server.stop()


def outbox_mail(ctx, subject: str) -> int:
    smtp = ctx.config.reports.smtp
    now = datetime.now(UTC)
    msg = compose(smtp, ["boss@example.cn"], subject, "正文", now=now)
    return put_in_outbox(ctx.db, "daily", msg, ["boss@example.cn"], now)


def wait_for(condition, what: str, site, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout}s\n{site.worker_logs()}")


def status_of(ctx, outbox_id: int) -> str:
    with ctx.db.session() as session:
        return session.get(OutboxMail, outbox_id).status


def broker_idle(url: str) -> bool:
    """True when no task waits in the ingest queue and none is taken but unacknowledged."""
    client = redis.Redis.from_url(url)
    try:
        return client.llen("ingest") == 0 and client.hlen("unacked") == 0
    finally:
        client.close()


def test_report_job_submitted_to_the_broker_is_sent_by_the_worker(make_site, redis_server, smtp):
    url = redis_server.url()
    site = make_site(broker_url=url, extra=smtp.toml())
    ctx = site.context()
    try:
        with broker_jobs(ctx):
            site.start_worker("ingest")
            site.wait_ready()
            outbox_id = outbox_mail(ctx, "经由队列发送的报告")

            send_task_twice(ctx, "report", outbox_id=outbox_id)  # delivered twice
            wait_for(lambda: status_of(ctx, outbox_id) == "sent", "mail sent", site)
            wait_for(lambda: broker_idle(url), "both report tasks done", site)

        (received,) = smtp.received.messages()
        assert received["Subject"] == "经由队列发送的报告"
        assert status_of(ctx, outbox_id) == "sent"
        assert "sent daily #" in site.worker_logs()  # the worker sent it, not this process
    finally:
        ctx.close()


def test_scheduler_tick_with_a_broker_hands_the_outbox_to_the_worker(make_site, redis_server, smtp):
    site = make_site(broker_url=redis_server.url(), extra=smtp.toml())
    ctx = site.context()
    try:
        with broker_jobs(ctx):  # as `mailroom scheduler` does
            rc = ctx.config.reports
            first, second = outbox_mail(ctx, "一号"), outbox_mail(ctx, "二号")

            tick(ctx, rc, datetime.now(UTC))  # no worker yet: handed over, nothing sent here
            assert smtp.received.envelopes == []
            assert status_of(ctx, first) == status_of(ctx, second) == "pending"
            again = flush_outbox(ctx.db, rc.smtp, datetime.now(UTC), hand_over(ctx))
            assert (again.sent, again.handed_over) == (0, 0)  # already on the broker

            site.start_worker("ingest")
            site.wait_ready()
            wait_for(
                lambda: status_of(ctx, first) == status_of(ctx, second) == "sent",
                "both mails sent",
                site,
            )
        assert sorted(m["Subject"] for m in smtp.received.messages()) == ["一号", "二号"]
    finally:
        ctx.close()
