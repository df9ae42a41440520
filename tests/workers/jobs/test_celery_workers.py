"""Two real `mailroom worker` processes on a real Redis and PostgreSQL."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

from sqlalchemy import func, select

from storage.media_models import MediaJob
from storage.models import Item, Message
from tests.support import hostile_media
from tests.support import media_files as files
from tests.workers.jobs.conftest import (
    descendants,
    kill_tree,
    submit_backlog,
    wait_until_settled,
)


def _by_key(rows: list[dict], *keys: str) -> list[dict]:
    return sorted(rows, key=lambda row: tuple(str(row[k]) for k in keys))


def _workers_of_jobs(site) -> set[int]:
    """Returns which worker processes (by top pid) ran the media jobs."""
    ctx = site.context()
    try:
        with ctx.db.session() as session:
            ran = {
                int(w.rpartition(":")[2])
                for w in session.scalars(
                    select(MediaJob.worker).where(MediaJob.worker.is_not(None))
                )
            }
    finally:
        ctx.close()
    return {proc.pid for proc in site.workers if ran & {proc.pid, *descendants(proc.pid)}}


def test_two_workers_file_a_backlog_exactly_as_one_process_does(make_site, redis_server, backlog):
    single = make_site()
    single.run("ingest", *map(str, backlog))

    spread = make_site(broker_url=redis_server.url())
    spread.start_worker("ingest,media")
    spread.start_worker("ingest,media")
    spread.wait_ready()
    submit_backlog(spread, backlog)
    wait_until_settled(spread, messages=len(backlog))

    for what, keys in (("messages", ("message_id",)), ("items", ("message_id", "name"))):
        expected = _by_key(single.export(what), *keys)
        got = _by_key(spread.export(what), *keys)
        assert json.dumps(got, ensure_ascii=False, indent=1) == json.dumps(
            expected, ensure_ascii=False, indent=1
        )
    items = spread.export("items")
    assert all(i["thumbnail"] for i in items if i["media"] in ("image", "video"))
    assert all(i["web_video"] for i in items if i["media"] == "video")
    for row in items:
        for rel in (row["path"], row["thumbnail"], row["preview"], row["web_video"]):
            assert rel is None or (spread.folder / "archive" / rel).exists(), rel
    assert len(_workers_of_jobs(spread)) == 2, "both workers should have taken media jobs"


def test_worker_killed_mid_transcode_the_job_completes_on_the_other(
    make_site, redis_server, tmp_path
):
    # A short visibility timeout, so Redis hands the dead worker's task on within seconds.
    site = make_site(
        broker_url=redis_server.url(),
        queue_extra=("visibility_timeout = 20\ntime_limit = 15\nsoft_time_limit = 12\n"),
    )
    clip = files.clip(tmp_path, "long.mp4", "hevc", seconds=4, size="320x240")
    mail = tmp_path / "video.eml"
    mail.write_bytes(
        files.message(
            "大连市活动周视频",
            [
                ("开幕式.jpg", files.jpeg(), "image/jpeg"),
                ("开幕式.mp4", clip.read_bytes(), "video/mp4"),
            ],
        )
    )
    first = site.start_worker("ingest,media")
    site.wait_ready()
    submit_backlog(site, [mail])  # one message with an HEVC clip: a transcode
    job_id, holder = _wait_for_running_video(site)
    victim = next(p for p in site.workers if holder in (p.pid, *descendants(p.pid)))
    assert victim is first
    site.start_worker("media")  # the survivor, started after the claim
    kill_tree(victim.pid, signal.SIGKILL)  # the whole machine's share of the work dies
    victim.wait(10)

    wait_until_settled(site, messages=1, timeout=90)
    ctx = site.context()
    try:
        with ctx.db.session() as session:
            job = session.get(MediaJob, job_id)
            assert (job.state, job.error) == ("done", None)
            assert job.attempts == 2  # the killed attempt, then ours
            assert int(job.worker.rpartition(":")[2]) != holder
            assert session.scalar(select(func.count()).select_from(Message)) == 1
            items = session.scalars(select(Item)).all()
            assert len(items) == len({(i.message_pk, i.name) for i in items}) == 2
            jobs = session.scalars(select(MediaJob)).all()
            assert {j.state for j in jobs} == {"done"}
            video = next(i for i in items if i.media == "video")
            web_video = ctx.archive.abspath(video.web_video)
    finally:
        ctx.close()
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
            str(web_video),
        ],
        capture_output=True,
        text=True,
    )
    assert "h264" in probe.stdout


def _wait_for_running_video(site, timeout: float = 120) -> tuple[int, int]:
    """Returns (job id, pid) of the video job as soon as a worker process claims it."""
    ctx = site.context()
    host = socket.gethostname()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with ctx.db.session() as session:
                row = session.execute(
                    select(MediaJob.id, MediaJob.worker).where(
                        MediaJob.kind == "video", MediaJob.state == "running"
                    )
                ).first()
            if row and row.worker and row.worker.startswith(host + ":"):
                return row.id, int(row.worker.rpartition(":")[2])
            time.sleep(0.05)
    finally:
        ctx.close()
    raise AssertionError("no worker started the transcode\n" + site.worker_logs())


def test_a_zip_of_photos_is_unpacked_and_its_thumbnails_made_in_batches(
    make_site, redis_server, tmp_path
):
    from tests.support import archive_files as af

    site = make_site(broker_url=redis_server.url())
    photos = {f"活动照片{n:02d}.jpg": files.jpeg(80 + n, 60) for n in range(60)}
    mail = tmp_path / "zip.eml"
    mail.write_bytes(
        files.message("大连市活动周照片", [("照片.zip", af.zip_bytes(photos), "application/zip")])
    )
    site.start_worker("ingest,media")
    site.wait_ready()
    submit_backlog(site, [mail])
    wait_until_settled(site, messages=1)
    items = {row["name"]: row for row in site.export("items")}
    assert all(items[name]["thumbnail"] for name in photos)
    ctx = site.context()
    try:
        with ctx.db.session() as session:
            starts = session.scalars(
                select(MediaJob.started_at).where(MediaJob.kind == "thumbs")
            ).all()
    finally:
        ctx.close()
    assert len(starts) == 60 and len(set(starts)) <= 3  # claimed 25 at a time: 3 tasks


def test_a_media_job_on_a_celery_worker_runs_under_the_memory_budget(
    make_site, redis_server, tmp_path
):
    """The same budget as in the local pool: a 13000² PNG (pixel budget raised) meets the
    job's memory cap inside the worker's task process, which survives and says why."""
    site = make_site(
        broker_url=redis_server.url(),
        extra="[limits]\nimage_max_pixels = 200000000\njob_memory_bytes = 268435456\n",
    )
    big = hostile_media.huge_png(tmp_path / "big.png", 13000).read_bytes()
    mail = tmp_path / "big.eml"
    mail.write_bytes(
        files.message(
            "大连市活动周照片",
            [("海报.png", big, "image/png"), ("现场.jpg", files.jpeg(), "image/jpeg")],
        )
    )
    worker = site.start_worker("ingest,media")
    site.wait_ready()
    submit_backlog(site, [mail])
    wait_until_settled(site, messages=1, timeout=180)
    peaks = [_high_water_mib(pid) for pid in descendants(worker.pid)]
    ctx = site.context()
    try:
        with ctx.db.session() as session:
            items = {i.name: i for i in session.scalars(select(Item))}
            assert set(session.scalars(select(MediaJob.state))) == {"done"}
    finally:
        ctx.close()
    assert items["海报.png"].meta["limit"] == "job_memory_bytes"
    assert items["海报.png"].error.startswith("处理这个文件需要的内存超过256 MB的上限")
    assert items["现场.jpg"].thumbnail is not None
    assert peaks and 20 < max(peaks) < 256 + 400, peaks  # the task process is alive and small


def _high_water_mib(pid: int) -> float:
    """Returns the peak resident size of a live process (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
