"""`mailroom run` stopped by SIGTERM (systemd's stop): in time, with nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from sqlalchemy import select

from storage.media_models import MediaJob
from tests.support import media_files as files
from tests.workers.media.conftest import MAILROOM, make_site, site_with_a_long_video


def test_sigterm_while_a_write_hangs_stops_within_stop_timeout_and_leaves_no_temp_file(tmp_path):
    site = make_site(tmp_path / "site", "[service]\nstop_timeout = 2\n")
    (site.folder / "inbox").mkdir()
    raw = files.message("大连市活动周照片", [("合影.jpg", files.jpeg(), "image/jpeg")])
    (site.folder / "inbox" / "photo.eml").write_bytes(raw)
    site.run("migrate")  # makes the index first
    env = {**os.environ, "MAILROOM_STALL_AT": "mid-write"}  # the raw copy's write hangs
    service = subprocess.Popen(
        [MAILROOM, "--config", str(site.config), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(site.archive.rglob(".tmp~*")):
            assert time.monotonic() < deadline and service.poll() is None, "never wrote"
            time.sleep(0.05)
        started = time.monotonic()
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    assert service.returncode == 0, err[-2000:]
    assert 2 <= took < 6, took  # the stop_timeout, and not much more
    assert "not stopped within [service] stop_timeout (2 s)" in err
    assert list(site.archive.rglob(".tmp~*")) == []  # the half-written raw copy is gone
    assert "Traceback" not in err

    site.run("ingest", str(site.folder / "inbox"))  # nothing lost: it files on the next run
    assert site.items()["合影.jpg"]["status"] == "ok"


def video_state(ctx) -> str | None:
    with ctx.db.session() as session:
        return session.scalar(select(MediaJob.state).where(MediaJob.kind == "video"))


def test_sigterm_mid_transcode_hands_the_job_back_and_leaves_no_temp_file(tmp_path):
    site = site_with_a_long_video(tmp_path)
    service = subprocess.Popen(
        [MAILROOM, "--config", str(site.config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with site.context() as ctx:
            deadline = time.monotonic() + 120
            while not (video_state(ctx) == "running" and list(site.archive.rglob(".tmp~*.mp4"))):
                assert time.monotonic() < deadline and service.poll() is None, "no transcode"
                time.sleep(0.05)
            started = time.monotonic()
            service.send_signal(signal.SIGTERM)
            _, err = service.communicate(timeout=90)
            took = time.monotonic() - started
            with ctx.db.session() as session:
                state, attempts = session.execute(
                    select(MediaJob.state, MediaJob.attempts).where(MediaJob.kind == "video")
                ).one()
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
    assert service.returncode == 0, err[-2000:]
    assert took < 60  # well within the default stop_timeout: handed back, not finished
    assert (state, attempts) == ("pending", 0)  # back in the queue, the attempt not counted
    assert list(site.archive.rglob(".tmp~*")) == [], err[-3000:]
