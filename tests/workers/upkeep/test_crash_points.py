"""Killed between two steps, nothing is lost: the next run finishes what the last one left.

The process kills itself with SIGKILL at a named point (MAILROOM_CRASH_AT, see
storage/crashpoints.py): no `finally` runs, exactly as `kill -9` at that line.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from sqlalchemy import select

from storage.media_models import MediaJob
from storage.models import Item
from tests.support import media_files as files
from tests.workers.media.conftest import make_site


def zip_message(number: int = 1) -> bytes:
    """A message carrying a zip of two photos with GBK names, as Windows zips them."""
    photos = files.zip_with_raw_names(
        {
            "开幕式/合影.jpg".encode("gbk"): files.jpeg(),
            "颁奖.jpg".encode("gbk"): files.jpeg(400, 300),
        }
    )
    return files.message(
        "大连市职业教育活动周照片", [("活动照片.zip", photos, "application/zip")], number=number
    )


def crashing(point: str) -> dict:
    return {**os.environ, "MAILROOM_CRASH_AT": point}


def members(site) -> set[str]:
    return {name for name, row in site.items().items() if row["container"] == "活动照片.zip"}


def expand_states(site) -> list[str]:
    with site.context() as ctx, ctx.db.session() as session:
        return list(session.scalars(select(MediaJob.state).where(MediaJob.kind == "expand")))


def test_killed_right_after_filing_the_zip_is_opened_when_the_message_comes_again(tmp_path):
    site = make_site(tmp_path / "site")
    mail = site.drop("zip.eml", zip_message())
    done = site.run("ingest", "--no-wait", str(mail), env=crashing("after-filing"), check=False)
    assert done.returncode == -signal.SIGKILL
    assert "活动照片.zip" in site.items() and members(site) == set()
    assert expand_states(site) == ["pending"]  # recorded with the filing: not lost

    again = site.run("ingest", "--no-wait", str(mail)).stdout
    assert "1 already ingested" in again  # a duplicate, which does not hide the unfinished job
    assert members(site) == {"开幕式/合影.jpg", "颁奖.jpg"}
    assert expand_states(site) == ["done"]
    photo = site.items()["颁奖.jpg"]
    assert (site.archive / photo["path"]).is_file()


def test_killed_right_after_filing_media_run_opens_the_zip_and_makes_its_thumbnails(tmp_path):
    site = make_site(tmp_path / "site")
    mail = site.drop("zip.eml", zip_message())
    site.run("ingest", "--no-wait", str(mail), env=crashing("after-filing"), check=False)
    site.run("media", "run")
    items = site.items()
    assert members(site) == {"开幕式/合影.jpg", "颁奖.jpg"}
    assert all(items[name]["thumbnail"] for name in members(site))


def test_killed_mid_expansion_leaves_no_half_opened_zip_and_the_next_start_opens_it(tmp_path):
    site = make_site(tmp_path / "site")
    mail = site.drop("zip.eml", zip_message())
    site.run("ingest", "--no-wait", str(mail), env=crashing("mid-expansion"), check=False)
    assert members(site) == set()  # the members were never committed ...
    linked = [p for p in site.archive.rglob("*.jpg") if ".objects" not in p.parts]
    assert linked  # ... though their view files were linked: orphans for `archive check`
    check = site.run("archive", "check", check=False)
    assert check.returncode == 1
    assert check.stdout.count("orphan: ") == 2 and "2 orphan" in check.stdout

    site.run("media", "run")  # the job left running by the dead process runs again
    assert members(site) == {"开幕式/合影.jpg", "颁奖.jpg"}
    with site.context() as ctx, ctx.db.session() as session:
        paths = set(session.scalars(select(Item.path).where(Item.container_id.is_not(None))))
    assert {str(p.relative_to(site.archive)) for p in linked} <= paths  # the same files, reused
    final = site.run("archive", "check")
    assert final.stdout.strip().endswith("no problems")


def test_killed_mid_write_the_temporary_file_is_swept_and_the_message_filed_again(tmp_path):
    site = make_site(tmp_path / "site")
    mail = site.drop("zip.eml", zip_message())
    done = site.run("ingest", "--no-wait", str(mail), env=crashing("mid-write"), check=False)
    assert done.returncode == -signal.SIGKILL
    [left] = [p for p in site.archive.rglob(".tmp~*")]  # the raw copy, written but not renamed
    assert left.parent.parent.name == "raw"
    check = site.run("archive", "check", check=False)
    assert f"leftover: {left.relative_to(site.archive)}" in check.stdout
    repaired = site.run("archive", "check", "--repair").stdout
    assert "leftover: " in repaired and "— removed" in repaired
    assert not left.exists()

    site.run("ingest", str(mail))  # the raw copy is written again, the message filed
    assert site.run("archive", "check").stdout.strip().endswith("no problems")
    assert members(site) == {"开幕式/合影.jpg", "颁奖.jpg"}


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_the_next_ingest_sweeps_what_a_killed_one_left_at_most_hourly(tmp_path):
    site = make_site(tmp_path / "site")
    mail = site.drop("zip.eml", zip_message())
    killed = site.run("ingest", "--no-wait", str(mail), env=crashing("mid-write"), check=False)
    assert killed.returncode == -signal.SIGKILL
    [left] = site.archive.rglob(".tmp~*")

    site.run("ingest", str(mail))  # no sweep stamp yet: this start sweeps
    assert not left.exists()
    assert members(site) == {"开幕式/合影.jpg", "颁奖.jpg"}
    stamp = site.archive / ".swept"
    assert stamp.exists()

    # Another crash's leftover: within the hour the next command does not walk the archive.
    other = site.archive / "raw" / f".tmp~{socket.gethostname()}~{dead_pid()}~raw"
    other.write_bytes(b"half a message")
    site.run("ingest", str(site.drop("again.eml", zip_message(2))))
    assert other.exists()
    hour_ago = time.time() - 3700
    os.utime(stamp, (hour_ago, hour_ago))
    site.run("ingest", str(site.drop("third.eml", zip_message(3))))
    assert not other.exists()
    assert site.run("archive", "check").stdout.strip().endswith("no problems")


def test_poll_killed_after_filing_the_zip_is_opened_by_the_next_poll(tmp_path, dovecot):
    """The reported case: the next poll fetches the UID again, finds the raw hash known and
    records a duplicate; the zip must be opened all the same."""
    site = make_site(
        tmp_path / "site",
        "[[mailbox]]\n"
        f'name = "official"\nhost = "127.0.0.1"\nport = {dovecot.port}\nsecurity = "none"\n'
        'username = "alice"\npassword_env = "MAILROOM_IMAP_PASSWORD"\n',
    )
    dovecot.append("INBOX", zip_message().replace(b"\n", b"\r\n"))
    env = {**crashing("after-filing"), "MAILROOM_IMAP_PASSWORD": "secret"}
    killed = site.run("poll", "--once", env=env, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert members(site) == set() and expand_states(site) == ["pending"]

    again = site.run("poll", "--once", env={**os.environ, "MAILROOM_IMAP_PASSWORD": "secret"})
    assert "1 duplicate" in again.stdout  # the UID was never recorded: fetched again
    assert members(site) == {"开幕式/合影.jpg", "颁奖.jpg"}
    assert all(row["thumbnail"] for name, row in site.items().items() if name.endswith(".jpg"))


def test_the_next_poll_sweeps_what_a_killed_poll_left(tmp_path, dovecot):
    site = make_site(
        tmp_path / "site",
        "[[mailbox]]\n"
        f'name = "official"\nhost = "127.0.0.1"\nport = {dovecot.port}\nsecurity = "none"\n'
        'username = "alice"\npassword_env = "MAILROOM_IMAP_PASSWORD"\n',
    )
    dovecot.append("INBOX", zip_message().replace(b"\n", b"\r\n"))
    env = {**os.environ, "MAILROOM_IMAP_PASSWORD": "secret"}
    killed = site.run("poll", "--once", env={**env, **crashing("mid-write")}, check=False)
    assert killed.returncode == -signal.SIGKILL
    [left] = site.archive.rglob(".tmp~*")

    site.run("poll", "--once", env=env)
    assert not left.exists()
    assert members(site) == {"开幕式/合影.jpg", "颁奖.jpg"}
    assert site.run("archive", "check").stdout.strip().endswith("no problems")
