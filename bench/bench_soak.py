"""Soak: random SIGKILLs of `mailroom run` and `mailroom poll --once` while mail arrives.

    .venv/bin/python bench/bench_soak.py [--messages 300] [--kills 50] [--seed 16]

Starts a real Dovecot in a temp folder and feeds it mail while the test runs: copies of
the labelled corpus (GBK file names, zips, photos, videos, documents) with their own
Message-IDs, the same photos shared by several messages, and exact duplicates (the
same bytes appended twice). Meanwhile it starts `mailroom run` or `mailroom poll
--once` (chosen at random) on one site and kills the main process with SIGKILL, either
after a random while or a random 0-100 ms after it logs a message as filed (the moment
right before its archives are opened) — --kills times. Each kill also checks that no
process the killed one started (media workers, ffmpeg, the multiprocessing resource
tracker) outlives it. Then `mailroom run` runs cleanly until all is filed, flagged and
its jobs done (its start sweeps what the kills left), and is stopped with SIGTERM; then
`mailroom archive check` (every object hashed). A reference site polls the same mailbox
once, cleanly, and the two are compared.

Prints one line: messages and items lost or doubled against the reference, derivatives
missing, archive check problems (orphans included), processes left behind, UIDs not
settled and UIDs never flagged. All must be 0. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from storage.mailbox_state import MailboxRecord  # noqa: E402
from storage.models import Item, Message  # noqa: E402
from tests.servers.dovecot import DovecotServer  # noqa: E402
from tests.support import media_files as files  # noqa: E402
from workers.app import open_context  # noqa: E402
from workers.config import load_config  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "labelled"
MAILROOM = str(Path(sys.executable).with_name("mailroom"))
MESSAGE_ID = re.compile(rb"^Message-ID:[^\r\n]*\r?\n", re.IGNORECASE | re.MULTILINE)
FLAG = "$Soak"


def mailbox(count: int, rng: random.Random) -> list[bytes]:
    """Returns `count` messages: corpus copies, shared photos, zips with GBK names, duplicates."""
    templates = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    shared = [files.jpeg(640 + 16 * n, 480) for n in range(5)]
    out: list[bytes] = []
    for n in itertools.count():
        if len(out) >= count:
            break
        kind = n % 5
        if kind == 4 and out:
            out.append(rng.choice(out))  # an exact duplicate: the same bytes again
            continue
        if kind == 3:
            out.append(_zip_mail(n, shared, rng))
            continue
        raw = templates[n % len(templates)].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        raw = MESSAGE_ID.sub(b"", raw, count=1)
        out.append(f"Message-ID: <soak-{n}@soak.example.cn>\r\n".encode() + raw)
    return out


def _zip_mail(n: int, shared: list[bytes], rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in range(3):
            zf.writestr(f"P{n:04d}{k}.jpg", rng.choice(shared))
    data = buffer.getvalue()
    for k in range(3):  # GBK member names, no UTF-8 flag, as Windows zips them
        data = data.replace(f"P{n:04d}{k}.jpg".encode(), f"照片{n:03d}-{k}.jpg".encode("gbk")[:10])
    raw = files.message(
        f"大连市职业教育活动周照片 {n}",
        [("活动照片.zip", data, "application/zip"), ("合影.jpg", rng.choice(shared), "image/jpeg")],
        number=n,
    )
    return raw.replace(b"\n", b"\r\n")


def write_config(folder: Path, server: DovecotServer, after: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f'units_file = "{CORPUS / "units.toml"}"\n'
        '[storage]\narchive_dir = "archive"\ndatabase_url = "sqlite:///data/mailroom.db"\n'
        '[source]\ninbox_dir = "inbox"\n[log]\nlevel = "INFO"\n[limits]\nmin_free_bytes = 0\n'
        "[[mailbox]]\n"
        f'name = "soak"\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
        'username = "alice"\npassword_env = "MAILROOM_IMAP_PASSWORD"\n'
        f'after = "{after}"\npoll_interval_seconds = 5\nbatch_size = 10\n',
        encoding="utf-8",
    )
    return path


def mailroom(config: Path, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "MAILROOM_IMAP_PASSWORD": "secret"}
    return subprocess.Popen([MAILROOM, "--config", str(config), *args], env=env, **popen)


def descendants(pid: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_bytes()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(b")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = [c for c, p in parents.items() if p == parent and c not in found]
        found += kids
        todo += kids
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] not in (
            b"Z",
            b"X",
        )
    except OSError:
        return False


def kill_once(config: Path, rng: random.Random) -> tuple[str, int]:
    """Starts run or poll --once, SIGKILLs its main process; returns (how, processes left)."""
    command = rng.choice([("run",), ("poll", "--once")])
    proc = mailroom(config, *command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    filed = threading.Event()

    def watch() -> None:
        for line in proc.stderr:
            if b" filed " in line or b" triage " in line:
                filed.set()

    threading.Thread(target=watch, daemon=True).start()
    targeted = rng.random() < 0.5
    if targeted:
        filed.wait(20)
        time.sleep(rng.uniform(0, 0.1))
    else:
        time.sleep(rng.uniform(0.3, 6.0))
    family = descendants(proc.pid)
    for _ in range(3):  # the workers may start just now: look again right before the kill
        family = sorted(set(family) | set(descendants(proc.pid)))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while any(alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in family if alive(p)]
    for pid in left:  # report, then clean up: the next round must start clean
        if os.environ.get("SOAK_DEBUG"):
            print("left:", pid, Path(f"/proc/{pid}/cmdline").read_bytes()[:200], file=sys.stderr)
        os.kill(pid, signal.SIGKILL)
    return f"{' '.join(command)}{' after filed' if targeted else ''}", len(left)


def contents(config: Path) -> tuple[Counter, Counter, int, Counter]:
    """Returns (messages by raw hash, items by (message, name, hash, container), items with
    no thumbnail that should have one, UID records by status)."""
    ctx = open_context(load_config(config))
    try:
        with ctx.db.session() as session:
            messages = Counter(session.scalars(select(Message.raw_sha256)))
            rows = session.execute(
                select(Message.raw_sha256, Item.name, Item.sha256, Item.container_id, Item.media,
                       Item.status, Item.thumbnail)
                .join(Item, Item.message_pk == Message.id)
            ).all()  # fmt: skip
            names = dict(session.execute(select(Item.id, Item.name)).all())
            records = Counter(session.scalars(select(MailboxRecord.status)))
        items = Counter((m, n, s, names.get(c)) for m, n, s, c, *_ in rows)
        thumbless = sum(
            1 for *_, media, st, th in rows if media == "image" and st == "ok" and not th
        )
        return messages, items, thumbless, records
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    mail = mailbox(args.messages, rng)
    server = DovecotServer()
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="mailroom-soak-") as tmp:
            run(Path(tmp), server, mail, args, rng)
    finally:
        server.cleanup()


def run(tmp: Path, server: DovecotServer, mail: list[bytes], args, rng: random.Random) -> None:
    soak = write_config(tmp / "soak", server, f"flag:{FLAG}")
    reference = write_config(tmp / "reference", server, "none")
    first = len(mail) // 3
    server.append_many("INBOX", mail[:first])
    feeding = threading.Thread(target=feed, args=(server, mail[first:], args.kills), daemon=True)
    subprocess.run([MAILROOM, "--config", str(soak), "media", "status"], capture_output=True)
    started = time.monotonic()
    feeding.start()
    kills: Counter = Counter()
    leaked = 0
    for _ in range(args.kills):
        how, left = kill_once(soak, rng)
        kills[how] += 1
        leaked += left
    feeding.join()
    stopped = finish_with_run(soak, server)
    check = mailroom(soak, "archive", "check", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, _ = check.communicate()
    soak_seconds = time.monotonic() - started
    problems = [line for line in out.decode().splitlines()[:-1] if line.strip()]
    orphans = sum(1 for line in problems if line.startswith("orphan:"))
    started = time.monotonic()
    mailroom(
        reference, "poll", "--once", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ).wait()
    reference_seconds = time.monotonic() - started
    s_msgs, s_items, s_thumbless, s_records = contents(soak)
    r_msgs, r_items, r_thumbless, _ = contents(reference)
    lost = len(set(r_msgs) - set(s_msgs)) + sum((r_items - s_items).values())
    doubled = sum(n - 1 for n in s_msgs.values() if n > 1) + sum((s_items - r_items).values())
    unsettled = sum(n for status, n in s_records.items() if status not in (
        "filed", "triage", "not_material", "duplicate", "error"))  # fmt: skip
    flags = server.flags("INBOX")
    unflagged = sum(1 for f in flags.values() if FLAG.encode() not in f)
    print(
        f"soak: {len(mail)} messages ({len(set(mail))} distinct), {sum(kills.values())} SIGKILLs "
        f"({', '.join(f'{n} {how}' for how, n in sorted(kills.items()))}); after a clean run "
        f"and `archive check`: {lost} lost, {doubled} doubled, {orphans} orphans, "
        f"{len(problems)} archive problems, {s_thumbless - r_thumbless} thumbnails missing, "
        f"{leaked} processes left behind, {unsettled} UIDs not settled, {unflagged} UIDs "
        f"unflagged, exit {stopped} after SIGTERM; {sum(r_items.values())} items as in the "
        "reference run; soak "
        f"{soak_seconds:.0f} s, reference {reference_seconds:.0f} s"
    )
    for line in problems[:10]:
        print("  " + line)


def finish_with_run(config: Path, server: DovecotServer, timeout: float = 900) -> int:
    """Runs `mailroom run` cleanly until it has polled, and every UID is filed, flagged and its
    jobs done, then stops it with SIGTERM (as systemd does); returns its exit code."""
    from datetime import UTC, datetime

    from storage.health import SourceStatus
    from storage.media_models import MediaJob

    started = datetime.now(UTC)
    service = mailroom(config, "run", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    running = threading.Event()

    def watch() -> None:
        for line in service.stderr:
            if b"mailroom running" in line:
                running.set()

    threading.Thread(target=watch, daemon=True).start()
    ctx = open_context(load_config(config))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            time.sleep(1.0)
            flags = server.flags("INBOX")
            with ctx.db.session() as session:
                polled = session.get(SourceStatus, "imap:soak")
                done = session.scalar(
                    select(func.count(MailboxRecord.id)).where(MailboxRecord.after_done.is_(True))
                )
                busy = session.scalar(
                    select(func.count(MediaJob.id)).where(
                        MediaJob.state.in_(("pending", "running"))
                    )
                )
            fresh = polled is not None and polled.last_poll_at >= started
            if running.is_set() and fresh and done >= len(flags) and not busy:
                break
    finally:
        ctx.close()
        service.send_signal(signal.SIGTERM)
    return service.wait(120)


def feed(server: DovecotServer, mail: list[bytes], kills: int) -> None:
    """Appends the rest of the mail in small batches while the kills go on."""
    batches = max(1, kills // 2)
    size = max(1, -(-len(mail) // batches))
    for start in range(0, len(mail), size):
        server.append_many("INBOX", mail[start : start + size])
        time.sleep(2.0)


if __name__ == "__main__":
    main()
