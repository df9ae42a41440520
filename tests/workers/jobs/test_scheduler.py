"""One scheduler at a time, and a broker that loses its data loses no work."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import redis

from tests.conftest import broker_jobs
from tests.support import media_files as files
from tests.workers.jobs.conftest import MAILROOM, wait_until_settled
from workers.jobs.runners import resubmit_stale


def _start_scheduler(site, n: int) -> tuple[subprocess.Popen, object]:
    log_path = site.folder / f"scheduler{n}.log"
    proc = subprocess.Popen(
        [MAILROOM, "--config", str(site.config), "scheduler"],
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
    )
    return proc, log_path


def _wait_for(path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in {path}:\n{path.read_text(errors='replace')[-3000:]}")


def test_second_scheduler_stands_by_and_takes_over_when_the_first_stops(make_site):
    site = make_site()
    first, first_log = _start_scheduler(site, 1)
    second = None
    try:
        _wait_for(first_log, "this process is the scheduler")
        second, second_log = _start_scheduler(site, 2)
        _wait_for(second_log, "another mailroom scheduler is running")
        assert "this process is the scheduler" not in second_log.read_text()
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
        _wait_for(second_log, "this process is the scheduler", timeout=40)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)


def test_jobs_lost_with_the_broker_are_sent_again_from_the_index(make_site, redis_server, tmp_path):
    url = redis_server.url()
    site = make_site(broker_url=url)
    mail = tmp_path / "photos.eml"
    mail.write_bytes(
        files.message(
            "大连市活动周照片",
            [(f"照片{k}.jpg", files.jpeg(200 + k, 150), "image/jpeg") for k in range(3)],
        )
    )
    site.run("ingest", "--no-wait", str(mail))  # three thumbs jobs wait in the index
    ctx = site.context()
    try:
        with broker_jobs(ctx):
            settings = ctx.config.queue
            later = datetime.now(UTC) + timedelta(minutes=settings.resubmit_after_minutes + 1)
            broker = redis.Redis.from_url(url)
            assert resubmit_stale(ctx, now=later) == 3
            assert broker.llen("media") == 1  # one task runs the three (media_batches)
            assert resubmit_stale(ctx, now=later) == 0  # sent recently: left alone
            broker.flushdb()  # the broker loses it all
            assert resubmit_stale(ctx, now=later) == 3
    finally:
        ctx.close()
    site.start_worker("media")
    wait_until_settled(site, messages=1, timeout=120)
    assert all(row["thumbnail"] for row in site.export("items"))


def test_mailroom_run_says_it_does_not_use_a_configured_broker(make_site, redis_server, caplog):
    from workers.service import warn_if_broker_unused

    site = make_site(broker_url=redis_server.url())
    plain = make_site()
    for current in (site, plain):
        ctx = current.context()
        try:
            warn_if_broker_unused(ctx)
        finally:
            ctx.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "`mailroom run` does all the work in this process" in warnings[0]
    assert "mailroom scheduler" in warnings[0]
