"""Sites on a real PostgreSQL and a real Redis, and real `mailroom worker` processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.media_models import MediaJob
from storage.models import Message
from tests.conftest import broker_jobs, write_config
from tests.servers.redis import RedisServer
from tests.support import media_files as files
from workers.app import AppContext, open_context
from workers.config import load_config
from workers.ingest import SourceRef

MAILROOM = str(Path(sys.executable).parent / "mailroom")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def backlog(tmp_path_factory) -> list[Path]:
    """Four messages: photos, an H.264 clip (remux) and HEVC clips (transcode)."""
    folder = tmp_path_factory.mktemp("backlog")
    clips = folder / "clips"
    clips.mkdir()
    messages = []
    for n in range(1, 5):
        attachments = [
            (f"照片{n}-{k}.jpg", files.jpeg(320 + 16 * n + k, 240), "image/jpeg")
            for k in range(1, 4)
        ]
        codec = "h264" if n == 1 else "hevc"
        # each clip its own size, so no two messages carry the same file: which copy of a
        # shared file counts as the first depends on which worker commits first
        clip = files.clip(clips, f"clip{n}.mp4", codec, seconds=1, size=f"{160 + 16 * n}x120")
        attachments.append((f"视频{n}.mp4", clip.read_bytes(), "video/mp4"))
        raw = files.message(f"大连市活动周照片和视频 第{n}批", attachments, day=14 + n, number=n)
        path = folder / "mail" / f"{n:02d}.eml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(raw)
        messages.append(path)
    return messages


@dataclass
class Site:
    """One deployment: config folder, index database, optional broker, worker processes."""

    folder: Path
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.folder / "config.toml"

    def run(self, *args: str, timeout: float = 600) -> str:
        result = subprocess.run(
            [MAILROOM, "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"mailroom {args} failed:\n{result.stderr[-3000:]}"
        return result.stdout

    def export(self, what: str) -> list[dict]:
        return [json.loads(line) for line in self.run("export", what).splitlines()]

    def context(self) -> AppContext:
        return open_context(load_config(self.config))

    def start_worker(self, queues: str = "ingest,media", concurrency: int = 1) -> subprocess.Popen:
        """Starts a real `mailroom worker` in a session of its own (so it can be killed whole)."""
        log = open(self.folder / f"worker{len(self.workers)}.log", "wb")
        proc = subprocess.Popen(
            [
                MAILROOM,
                "--config",
                str(self.config),
                "worker",
                "--queues",
                queues,
                "--concurrency",
                str(concurrency),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(proc)
        return proc

    def wait_ready(self, timeout: float = 120) -> None:
        """Waits until every started worker has connected to the broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = [
                (self.folder / f"worker{i}.log").read_text(errors="replace")
                for i in range(len(self.workers))
            ]
            if all(" ready." in text for text in logs):
                return
            assert all(p.poll() is None for p in self.workers), self.worker_logs()
            time.sleep(0.2)
        raise AssertionError("workers not ready\n" + self.worker_logs())

    def worker_logs(self) -> str:
        return "\n".join(
            (self.folder / f"worker{i}.log").read_text(errors="replace")[-4000:]
            for i in range(len(self.workers))
        )

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                kill_tree(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid, signal.SIGKILL)
                proc.wait()


def descendants(pid: int) -> list[int]:
    """Returns every process below pid (children, their children...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(pid: int, sig: int) -> None:
    """Signals a process and everything under it (ffmpeg runs in a session of its own)."""
    for target in [pid, *descendants(pid)]:
        try:
            os.kill(target, sig)
        except ProcessLookupError:
            pass


@pytest.fixture
def make_site(tmp_path: Path, postgres) -> Iterator[Callable[..., Site]]:
    """Returns a factory of sites, each on its own PostgreSQL database; workers are stopped."""
    sites: list[Site] = []

    def factory(broker_url: str | None = None, queue_extra: str = "", extra: str = "") -> Site:
        folder = tmp_path / f"site{len(sites)}"
        if broker_url:
            extra += f'\n[queue]\nbroker_url = "{broker_url}"\n{queue_extra}\n'
        write_config(folder, extra, database_url=postgres.create_database())
        site = Site(folder)
        sites.append(site)
        return site

    yield factory
    for site in sites:
        site.stop_workers()


def submit_backlog(site: Site, paths: list[Path]) -> None:
    """Stores each message's raw bytes and submits its ingestion to the broker."""
    ctx = site.context()
    try:
        with broker_jobs(ctx):
            for path in paths:
                sha, _ = ctx.archive.put_raw(path.read_bytes())
                ctx.jobs.submit_ingest(sha, SourceRef("file", str(path)))
    finally:
        ctx.close()


def wait_until_settled(site: Site, messages: int, timeout: float = 240) -> None:
    """Waits until `messages` are filed and no media job is pending or running."""
    ctx = site.context()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with ctx.db.session() as session:
                filed = session.scalar(select(func.count()).select_from(Message))
                open_jobs = session.scalar(
                    select(func.count())
                    .select_from(MediaJob)
                    .where(MediaJob.state.in_(("pending", "running")))
                )
                jobs = session.scalar(select(func.count()).select_from(MediaJob))
            if filed >= messages and jobs and not open_jobs:
                return
            time.sleep(0.3)
    finally:
        ctx.close()
    raise AssertionError(
        f"not settled after {timeout}s: {filed} messages, {open_jobs} open "
        f"jobs\n{site.worker_logs()}"
    )
