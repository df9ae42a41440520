"""Jobs after filing on a disk that fills: they wait and run again, they never fail for good.

Real disks: a tmpfs of a few MiB filled to a chosen number of free bytes.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from storage.media_models import MediaJob
from storage.models import Item
from tests.support import media_files as files
from tests.support.disks import fill, tmpfs
from workers.ingest import Ingestor, SourceRef
from workers.media.pool import serve_media
from workers.upkeep.check import check_archive


@pytest.fixture
def disk(tmp_path):
    """A 4 MiB tmpfs mounted where the site's archive goes (tmp_path/site/archive)."""
    with tmpfs(tmp_path / "site" / "archive", "4m") as mount:
        yield mount


def jobs(app) -> dict[tuple[str, str], tuple[str, int, str | None]]:
    with app.db.session() as session:
        return {
            (name, kind): (state, attempts, error)
            for name, kind, state, attempts, error in session.execute(
                select(
                    Item.name, MediaJob.kind, MediaJob.state, MediaJob.attempts, MediaJob.error
                ).join(Item, Item.id == MediaJob.item_id)
            )
        }


def test_an_archive_the_disk_cannot_hold_now_waits_and_is_opened_when_there_is_room(make_app, disk):
    app = make_app(folder=disk.parent)
    member = os.urandom(300 * 1024)  # incompressible: the zip holds it at full size
    raw = files.message(
        "大连市活动周照片", [("照片.zip", files.plain_zip({"a.bin": member}), "application/zip")]
    )
    # Room for the raw copy and the zip, not for the member unpacked (members are moved
    # into the object store, not copied: the disk fills while the zip is read).
    filler = fill(disk, len(raw) + len(member) + 150 * 1024)
    outcome = Ingestor(app, "test").ingest(raw, SourceRef("file", "zip.eml"))
    assert outcome.status in ("filed", "triage")  # the message itself is filed
    state, attempts, error = jobs(app)[("照片.zip", "expand")]
    assert (state, attempts) == ("pending", 0)  # waits, uncounted: not failed for good
    assert error.startswith("waiting: cannot unpack into ") and "No space left" in error
    with app.db.session() as session:  # the archive says it waits; no member recorded corrupt
        archive = session.scalar(select(Item).where(Item.name == "照片.zip"))
        assert archive.status == "pending" and "稍后会自动重试" in archive.error
        assert session.scalar(select(Item).where(Item.container_id == archive.id)) is None
    with serve_media(app, finish=True):  # still full: the pool does not spin on it
        pass
    assert jobs(app)[("照片.zip", "expand")][0] == "pending"
    found = check_archive(app).findings
    assert [f.kind for f in found] == []  # nothing half-made: no orphan, no leftover

    filler.unlink()
    with serve_media(app, finish=True):
        pass
    assert jobs(app)[("照片.zip", "expand")][:2] == ("done", 1)
    with app.db.session() as session:
        item = session.scalar(select(Item).where(Item.name == "a.bin"))
        assert item.container.name == "照片.zip" and item.container.status == "ok"
        assert item.status == "ok" and item.container.error is None
        assert app.archive.abspath(item.blob_path).read_bytes() == member


def test_thumbnails_the_disk_cannot_hold_wait_instead_of_failing(make_app, disk):
    app = make_app(folder=disk.parent)
    raw = files.message("大连市活动周照片", [("合影.jpg", files.jpeg(1600, 1200), "image/jpeg")])
    Ingestor(app, "test").ingest(raw, SourceRef("file", "photo.eml"))
    filler = fill(disk, 0)
    with serve_media(app, finish=True):
        pass
    state, attempts, error = jobs(app)[("合影.jpg", "thumbs")]
    assert (state, attempts) == ("pending", 0) and error.startswith("waiting: ")
    filler.unlink()
    with serve_media(app, finish=True):
        pass
    assert jobs(app)[("合影.jpg", "thumbs")] == ("done", 1, None)
