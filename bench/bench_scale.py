"""Media backlog across workers: in-process default vs one vs two `mailroom worker`s.

200 photos and 20 short videos (10 messages of 20 photos, 20 messages of one
HEVC clip each, so every video is a real transcode) are filed and made into
derivatives three times on fresh PostgreSQL databases:
  1. `mailroom ingest` (no broker: the in-process pool, [media] defaults);
  2. one `mailroom worker --concurrency 2` on Redis;
  3. two `mailroom worker --concurrency 1` on Redis (same total processes as 2).
Wall time is from the first submission until no media job is pending or running.
Run: .venv/bin/python bench/bench_scale.py [--photos 200 --videos 20]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import write_config  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402
from tests.servers.redis import RedisServer  # noqa: E402
from tests.support import media_files as files  # noqa: E402
from tests.workers.jobs.conftest import Site, submit_backlog, wait_until_settled  # noqa: E402


def make_backlog(folder: Path, photos: int, videos: int) -> list[Path]:
    """Writes the backlog's .eml files (20 photos a message, one clip a message)."""
    mail = folder / "mail"
    mail.mkdir(parents=True)
    paths, n = [], 0
    for start in range(0, photos, 20):
        n += 1
        attachments = [
            (f"照片{k}.jpg", files.jpeg(1600 + k, 1200), "image/jpeg")
            for k in range(start, min(start + 20, photos))
        ]
        paths.append(_write(mail, n, f"活动周照片 第{n}组", attachments))
    for v in range(videos):
        n += 1
        clip = files.clip(folder, f"clip{v}.mp4", "hevc", seconds=2, size="640x360")
        paths.append(
            _write(
                mail,
                n,
                f"活动周视频 第{v + 1}段",
                [(f"视频{v}.mp4", clip.read_bytes(), "video/mp4")],
            )
        )
    return paths


def _write(mail: Path, n: int, subject: str, attachments) -> Path:
    path = mail / f"{n:03d}.eml"
    path.write_bytes(files.message(subject, attachments, day=14 + n % 10, number=n))
    return path


def site(root: Path, name: str, pg: PostgresServer, broker: str | None) -> Site:
    extra = f'\n[queue]\nbroker_url = "{broker}"\n' if broker else ""
    write_config(root / name, extra, database_url=pg.create_database())
    return Site(root / name)


def in_process(root: Path, pg: PostgresServer, backlog: list[Path]) -> float:
    s = site(root, "inprocess", pg, None)
    start = time.monotonic()
    s.run("ingest", *map(str, backlog), timeout=3600)
    return time.monotonic() - start


def with_workers(
    root: Path,
    pg: PostgresServer,
    redis: RedisServer,
    backlog: list[Path],
    layout: list[int],
    name: str,
) -> float:
    s = site(root, name, pg, redis.url())
    for concurrency in layout:
        s.start_worker("ingest,media", concurrency)
    s.wait_ready()
    try:
        start = time.monotonic()
        submit_backlog(s, backlog)
        wait_until_settled(s, messages=len(backlog), timeout=3600)
        return time.monotonic() - start
    finally:
        s.stop_workers()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--videos", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mailroom-bench-scale-"))
    pg, redis = PostgresServer().start(), RedisServer().start()
    try:
        backlog = make_backlog(root, args.photos, args.videos)
        print(
            f"backlog: {args.photos} photos (1600x1200 JPEG), {args.videos} HEVC clips "
            f"(2 s, 640x360) in {len(backlog)} messages"
        )
        base = in_process(root, pg, backlog)
        one = with_workers(root, pg, redis, backlog, [2], "one")
        two = with_workers(root, pg, redis, backlog, [1, 1], "two")
        print(f"in-process default (mailroom ingest):  {base:7.1f} s")
        print(
            f"one worker, 2 processes:               {one:7.1f} s  ({one / base:.2f}x in-process)"
        )
        print(
            f"two workers, 1 process each:           {two:7.1f} s  ({two / base:.2f}x in-process,"
            f" {two / one:.2f}x one worker)"
        )
    finally:
        redis.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
