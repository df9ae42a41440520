"""The media pool's processes end with `mailroom run`, however it ends (kill -9 included)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import select

from storage.media_models import MediaJob
from tests.workers.media.conftest import MAILROOM, site_with_a_long_video


def children(pid: int) -> dict[int, str]:
    """Returns {pid: command line} of every descendant of pid, read from /proc."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            names[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(b")", 1)[1].split()[1])
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = names.get(child, "")
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")


def test_kill_9_of_mailroom_run_mid_transcode_leaves_no_process_behind(tmp_path):
    site = site_with_a_long_video(tmp_path)
    service = subprocess.Popen(
        [MAILROOM, "--config", str(site.config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: the kill below reaches the main process only
    )
    descendants: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 120
        with site.context() as ctx:
            while True:
                assert time.monotonic() < deadline and service.poll() is None, "no transcode"
                with ctx.db.session() as session:
                    state = session.scalar(select(MediaJob.state).where(MediaJob.kind == "video"))
                descendants = children(service.pid)
                if state == "running" and any("ffmpeg" in c for c in descendants.values()):
                    break
                time.sleep(0.1)
        assert any("resource_tracker" in c for c in descendants.values())
        os.kill(service.pid, signal.SIGKILL)
        service.wait(10)
        deadline = time.monotonic() + 15
        while [p for p in descendants if alive(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {p: descendants[p] for p in descendants if alive(p)}
        assert left == {}, left  # workers, their ffmpeg and the resource tracker: all gone
    finally:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGKILL)
            service.wait(10)
        for pid in descendants:  # if the test failed: never leave them running
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
