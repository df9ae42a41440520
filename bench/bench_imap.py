"""IMAP benchmark: `mailroom poll --once` against a bare imapclient fetch, in one run.

    .venv/bin/python bench/bench_imap.py [--messages 2000] [--unchanged-at 10000]

Starts a real Dovecot (Debian dovecot-imapd) in a temp folder, APPENDs copies of
the labelled corpus (each with its own Message-ID, so none is a duplicate),
then times:
  1. a bare imapclient fetch of every message (BODY.PEEK[] in batches of 50);
  2. `mailroom poll --once` filing the same messages (subprocess, fresh index),
     and, as the floor, the bare fetch plus Ingestor.ingest of each message;
  3. the same poll with a broker (Redis), as `mailroom scheduler` runs it: the
     poll stores each raw message, records its UID and queues its ingestion
     (timed with no worker running), then two `mailroom worker --queues ingest`
     processes file the messages (timed from their start until all is filed);
  4. a poll of the unchanged mailbox once it holds --unchanged-at messages,
     both in-process (poll_account) and as the whole `mailroom poll --once`.
Prints the ratios to 1 (goal <= 1.5) and the unchanged poll time (goal < 1 s).
Not part of `make test`.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import imapclient  # noqa: E402

from tests.servers.dovecot import DovecotServer  # noqa: E402
from workers.app import open_context  # noqa: E402
from workers.config import load_config  # noqa: E402
from workers.sources.imap.poller import poll_account  # noqa: E402
from workers.sources.imap.progress import LogProgress  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "labelled"
MESSAGE_ID = re.compile(rb"^Message-ID:[^\r\n]*\r?\n", re.IGNORECASE | re.MULTILINE)


def corpus_messages(count: int, start: int = 0) -> list[bytes]:
    """Return count realistic messages, copies of the labelled corpus with unique Message-IDs."""
    templates = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    out = []
    for n, raw in zip(range(start, start + count), itertools.cycle(templates), strict=False):
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        raw = MESSAGE_ID.sub(b"", raw, count=1)
        out.append(f"Message-ID: <bench-{n}@bench.example.cn>\r\n".encode() + raw)
    return out


def small_messages(count: int, start: int) -> list[bytes]:
    """Return count short plain-text messages (to grow the mailbox quickly)."""
    return [
        (
            f"From: school{n % 40}@example.cn\r\nTo: zcc@example.cn\r\n"
            f"Subject: =?UTF-8?B?5rWL6K+V?= {n}\r\nMessage-ID: <small-{n}@bench.example.cn>\r\n"
            f"Date: Mon, 4 Mar 2024 09:00:00 +0800\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\n{'请查收。' * 20} {n}\r\n"
        ).encode()
        for n in range(start, start + count)
    ]


def bare_fetch(server: DovecotServer, batch: int = 50) -> tuple[float, int, int]:
    """Return (seconds, messages, bytes) for a plain imapclient fetch of the whole INBOX."""
    started = time.perf_counter()
    client = imapclient.IMAPClient("127.0.0.1", server.port, ssl=False)
    client.login("alice", "secret")
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    count = size = 0
    for i in range(0, len(uids), batch):
        for data in client.fetch(uids[i : i + batch], [b"BODY.PEEK[]", b"INTERNALDATE"]).values():
            count += 1
            size += len(data[b"BODY[]"])
    client.logout()
    return time.perf_counter() - started, count, size


def fetch_and_ingest(server: DovecotServer, folder: Path) -> float:
    """Return seconds to fetch every message bare and ingest each into a fresh index."""
    from workers.ingest import Ingestor, SourceRef

    folder.mkdir()
    ctx = open_context(load_config(write_config(folder, server)))
    started = time.perf_counter()
    client = imapclient.IMAPClient("127.0.0.1", server.port, ssl=False)
    client.login("alice", "secret")
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    ingestor = Ingestor(ctx, "bench-floor")
    for i in range(0, len(uids), 50):
        answer = client.fetch(uids[i : i + 50], [b"BODY.PEEK[]", b"INTERNALDATE"])
        for uid, data in answer.items():
            ingestor.ingest(data[b"BODY[]"], SourceRef("imap", "bench/INBOX", 1, uid))
    ingestor.finish()
    client.logout()
    seconds = time.perf_counter() - started
    ctx.close()
    return seconds


def write_config(
    folder: Path, server: DovecotServer, broker_url: str | None = None, level: str = "WARNING"
) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f'units_file = "{CORPUS / "units.toml"}"\n'
        '[storage]\narchive_dir = "archive"\ndatabase_url = "sqlite:///data/mailroom.db"\n'
        f'[log]\nlevel = "{level}"\n'
        + (f'[queue]\nbroker_url = "{broker_url}"\n' if broker_url else "")
        + "[[mailbox]]\n"
        f'name = "bench"\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
        'username = "alice"\npassword_env = "MAILROOM_IMAP_PASSWORD"\n',
        encoding="utf-8",
    )
    return path


def handed_off(server: DovecotServer, folder: Path, count: int, workers: int = 2) -> tuple:
    """Return (poll seconds, filing seconds) with ingestion on `mailroom worker`s.

    The poll runs with no worker started (its own cost, not competing with filing for
    the two cores); the workers are started after it and timed until all is filed.
    """
    from sqlalchemy import func, select

    from storage.mailbox_state import WAITING_FOR_WORKER, MailboxRecord
    from tests.servers.redis import RedisServer

    redis_server = RedisServer().start()
    folder.mkdir()
    procs = []
    try:
        config = write_config(folder, server, redis_server.url(), "INFO")  # workers say ready
        os.environ["MAILROOM_IMAP_PASSWORD"] = "secret"
        ctx = open_context(load_config(config), distributed=True)  # as `mailroom scheduler`
        started = time.perf_counter()
        summary = poll_account(ctx, ctx.config.mailboxes[0], "secret", progress=LogProgress())
        polled = time.perf_counter() - started
        assert summary.fetched == count, summary.text()
        for n in range(workers):
            log = open(folder / f"worker{n}.log", "wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-c", "from workers.cli import main; main()", "--config",
                 str(config), "worker", "--queues", "ingest", "--concurrency", "1"],
                cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            ))  # fmt: skip
        started = time.perf_counter()
        while True:
            with ctx.db.session() as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(MailboxRecord)
                    .where(MailboxRecord.status.in_(WAITING_FOR_WORKER))
                )
            if not waiting:
                break
            time.sleep(0.2)
        return polled, time.perf_counter() - started
    finally:
        for proc in procs:
            os.killpg(proc.pid, 15)
        for proc in procs:
            proc.wait(30)
        redis_server.stop()


def cli_poll(config: Path) -> float:
    """Run `mailroom poll --once` in a subprocess and return its wall time."""
    env = {**os.environ, "MAILROOM_IMAP_PASSWORD": "secret", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from workers.cli import main; main()", "--config", str(config),
         "poll", "--once", "--no-wait"],
        cwd=config.parent, env=env, check=True, stdout=subprocess.DEVNULL, timeout=3600,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--unchanged-at", type=int, default=10000)
    args = parser.parse_args()
    server = DovecotServer()
    server.start()
    work = Path(tempfile.mkdtemp(prefix="mailroom-bench-imap-"))
    try:
        raws = corpus_messages(args.messages)
        t = time.perf_counter()
        server.append_many("INBOX", raws)
        size = sum(map(len, raws))
        print(
            f"appended {len(raws)} messages ({size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s"
        )

        bare, count, _ = bare_fetch(server)
        print(f"bare imapclient fetch:  {bare:6.2f} s  ({count / bare:.0f} msg/s)")
        config = write_config(work, server)
        polled = cli_poll(config)
        print(
            f"mailroom poll --once:   {polled:6.2f} s  ({count / polled:.0f} msg/s, filing included)"
        )
        print(f"ratio poll / bare fetch: {polled / bare:.2f}  (goal <= 1.5)")
        floor = fetch_and_ingest(server, work / "floor")
        print(f"bare fetch + Ingestor.ingest of each, in-process (the floor): {floor:6.2f} s")
        print(f"ratio poll / (bare fetch + ingest): {polled / floor:.2f}; poller overhead "
              f"{(polled - floor) / count * 1000:.1f} ms/message (CLI start-up included)")  # fmt: skip

        poll_only, filing = handed_off(server, work / "queue", count)
        print(f"with a broker (as `mailroom scheduler`), no worker running: the poll stores, "
              f"records and queues in {poll_only:6.2f} s = {poll_only / bare:.2f} x bare fetch; "
              f"then two ingest workers (started after it) filed everything in {filing:.1f} s "
              f"({filing / polled:.2f} x the inline poll, worker start-up included)")  # fmt: skip

        extra = args.unchanged_at - args.messages
        if extra > 0:
            t = time.perf_counter()
            server.append_many("INBOX", small_messages(extra, args.messages))
            grow = cli_poll(config)
            print(f"grew the mailbox to {args.unchanged_at} messages; filing {extra} took {grow:.1f} s "
                  f"(append {time.perf_counter() - t - grow:.1f} s)")  # fmt: skip
        os.environ["MAILROOM_IMAP_PASSWORD"] = "secret"
        ctx = open_context(load_config(config))
        cfg = ctx.config.mailboxes[0]
        timings = []
        for _ in range(5):
            t = time.perf_counter()
            summary = poll_account(ctx, cfg, "secret", progress=LogProgress())
            timings.append(time.perf_counter() - t)
            assert summary.fetched == 0, summary.text()
        ctx.close()
        whole = cli_poll(config)
        print(f"unchanged poll at {max(args.unchanged_at, args.messages)} messages: "
              f"in-process median {sorted(timings)[2] * 1000:.0f} ms, "
              f"whole `mailroom poll --once` {whole:.2f} s (goal < 1 s)")  # fmt: skip
    finally:
        server.cleanup()
        if os.environ.get("MAILROOM_BENCH_KEEP"):
            print(f"kept {work}")
        else:
            subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
