"""Archive members filed as items: per-member limits, loud statuses, junk, the message budget,
a disk that fills, and the jobs of every other part of the message."""

from __future__ import annotations

import io
import os
import zipfile
from contextlib import contextmanager

from sqlalchemy import select

from storage.media_models import MediaJob
from storage.models import Item
from tests.conftest import write_config
from tests.support import archive_files as af
from tests.support import media_files as files
from tests.support.disks import tmpfs
from workers.app import open_context
from workers.config import load_config
from workers.ingest import Ingestor, SourceRef
from workers.media.expand import run_expand
from workers.media.pool import serve_media


def _ingest(app, attachments, *, body="大连市职业教育活动周材料，请查收。", number=1):
    raw = files.message("大连市活动周照片", attachments, body=body, number=number)
    return Ingestor(app, "test").ingest(raw, SourceRef("file", f"m{number}.eml"))


def _items(app) -> dict[str, Item]:
    with app.db.session() as session:
        items = list(session.scalars(select(Item).order_by(Item.id)))
        for item in items:
            _ = item.container  # loaded while the session is open
        return {i.name: i for i in items}


def _job_kinds(app) -> dict[str, set[str]]:
    with app.db.session() as session:
        rows = session.execute(
            select(Item.name, MediaJob.kind).join(Item, Item.id == MediaJob.item_id)
        ).all()
    found: dict[str, set[str]] = {}
    for name, kind in rows:
        found.setdefault(name, set()).add(kind)
    return found


def _photo_and_zeros() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("封面.jpg", files.jpeg(320, 240))
        af.zeros_member(zf, "空白录像.mp4", 300)  # 300 MB of zeros: ~1000x
    return buffer.getvalue()


def test_one_bad_member_no_longer_spoils_the_archive(app):
    _ingest(app, [("活动照片.zip", _photo_and_zeros(), "application/zip")])
    items = _items(app)
    cover, zeros, archive = items["封面.jpg"], items["空白录像.mp4"], items["活动照片.zip"]
    assert (
        cover.status == "ok" and cover.kind == "photo" and cover.path.endswith("活动照片/封面.jpg")
    )
    assert app.archive.abspath(cover.path).is_file()
    assert (zeros.status, zeros.meta["limit"], zeros.blob_path) == (
        "too_large",
        "max_archive_ratio",
        None,
    )
    assert "疑似压缩炸弹" in zeros.error
    assert archive.status == "ok"
    assert archive.error == "压缩包内有 1 个文件未能解出：过大 1 个"
    assert archive.meta["unpack"]["extracted"] == 1
    assert _job_kinds(app)["封面.jpg"] == {"thumbs"}


def test_junk_is_counted_on_the_archive_and_never_an_item(app):
    zipped = af.zip_bytes(
        {
            "照片/开幕式.jpg": files.jpeg(),
            "__MACOSX/照片/._开幕式.jpg": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X",
            "照片/.DS_Store": b"\x00\x00\x00\x01Bud1",
            "Thumbs.db": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "desktop.ini": b"[.ShellClassInfo]",
            "~$活动方案.docx": b"lock",
            "空的/": b"",
        }
    )
    _ingest(app, [("照片.zip", zipped, "application/zip")])
    items = _items(app)
    assert set(items) == {"照片.zip", "照片/开幕式.jpg"}
    unpacked = items["照片.zip"].meta["unpack"]
    assert (unpacked["junk"], unpacked["empty_folders"], unpacked["members"]) == (5, 1, 1)
    assert items["照片.zip"].error is None


def test_broken_archives_say_so_and_the_photo_beside_them_still_gets_its_jobs(app, tmp_path):
    broken_7z = bytearray(af.seven_zip(tmp_path / "b.7z", {"a.txt": b"text " * 300}).read_bytes())
    broken_7z[-20:-10] = bytes(10)
    evil = af.zip_bytes({"../../etc/passwd": b"x", "/abs/path.txt": b"y"})
    same = af.zip_bytes([("同名.txt", f"第{n}份".encode()) for n in range(1001)])
    _ingest(
        app,
        [
            ("坏的.7z", bytes(broken_7z), "application/x-7z-compressed"),
            ("越界.zip", evil, "application/zip"),
            ("同名.zip", same, "application/zip"),
            ("现场.jpg", files.jpeg(), "image/jpeg"),
        ],
    )
    with app.db.session() as session:
        rows = {i.name: i for i in session.scalars(select(Item).where(Item.container_id.is_(None)))}
        same_names = session.scalars(
            select(Item.name).where(Item.container_id == rows["同名.zip"].id)
        ).all()
        unsafe = session.scalars(
            select(Item.status).where(Item.container_id == rows["越界.zip"].id)
        ).all()
    assert rows["坏的.7z"].status == "corrupt" and "无法读取" in rows["坏的.7z"].error
    assert "cannot" in rows["坏的.7z"].meta["detail"]  # the reader's words, for the log
    assert rows["越界.zip"].status == "rejected_unsafe"
    assert rows["越界.zip"].error == "压缩包内的 2 个文件都未能解出：不安全 2 个"
    assert unsafe == ["rejected_unsafe", "rejected_unsafe"]  # each rejected member recorded
    assert rows["同名.zip"].status == "ok" and len(set(same_names)) == 1001
    assert "同名 (1001).txt" in same_names
    assert _job_kinds(app)["现场.jpg"] == {"thumbs"}


def test_a_count_over_the_limit_refuses_the_archive_at_once_without_member_items(make_app):
    app = make_app("[limits]\nmax_archive_members = 50\n")
    crowded = af.zip_bytes({f"{n}.txt": b"" for n in range(5000)})
    _ingest(app, [("太多.zip", crowded, "application/zip")])
    items = _items(app)
    assert list(items) == ["太多.zip"]
    assert items["太多.zip"].status == "too_large"
    assert items["太多.zip"].error == "压缩包内有 5000 个文件，超过上限 50 个，未解压"
    assert items["太多.zip"].meta["limit"] == "max_archive_members"


def test_the_unpack_budget_of_a_message_is_shared_by_its_archives(make_app):
    app = make_app("[limits]\nmax_message_unpack_bytes = 5000\n")
    first = af.zip_bytes({"甲.bin": os.urandom(3000)})
    second = af.zip_bytes({"乙.bin": os.urandom(3000)})
    _ingest(app, [("一.zip", first, "application/zip"), ("二.zip", second, "application/zip")])
    items = _items(app)
    assert items["甲.bin"].status == "ok"
    assert items["乙.bin"].status == "too_large"
    assert items["乙.bin"].meta["limit"] == "max_message_unpack_bytes"
    assert items["乙.bin"].error == "超过单封邮件解压上限 4.9 KB，未解压"


def test_a_password_in_the_body_opens_the_zip_and_the_export_says_so(app, tmp_path):
    locked = af.encrypted_zip(
        tmp_path, "材料.zip", {"方案.docx": files.docx_file("方案")}, "hdz0518", aes=False
    )
    body = "韩老师：\n附件是我市材料。\n解压密码：hdz0518\n大连市教育局"
    _ingest(app, [("材料.zip", locked.read_bytes(), "application/zip")], body=body)
    from workers.export import export_items

    rows = {row["name"]: row for row in export_items(app)}
    assert rows["方案.docx"]["status"] == "ok" and rows["方案.docx"]["password_from"] == "body"
    assert rows["材料.zip"]["status"] == "ok" and rows["材料.zip"]["password_from"] is None


def test_a_disk_that_fills_while_unpacking_leaves_the_archive_pending_and_retried(tmp_path):
    with tmpfs(tmp_path / "disk", "2m") as disk, _app_on(tmp_path / "site", disk) as app:
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("说明.txt", "活动周录像说明".encode())
            af.zeros_member(zf, "录像.dat", 8)  # 8 MB on a 2 MB disk
        outcome = _ingest(
            app,
            [
                ("录像.zip", zipped.getvalue(), "application/zip"),
                ("现场.jpg", files.jpeg(), "image/jpeg"),
            ],
        )
        assert outcome.status == "filed"  # the message itself is filed; its archive waits
        items = _items(app)
        assert items["录像.zip"].status == "pending" and "稍后会自动重试" in items["录像.zip"].error
        assert "录像.dat" not in items and "说明.txt" not in items  # no member recorded corrupt
        jobs = _job_kinds(app)
        assert jobs["现场.jpg"] == {"thumbs"} and jobs["录像.zip"] == {"expand"}
        job = _expand_job(app, "录像.zip")
        assert (job.state, job.attempts) == ("pending", 0) and job.error.startswith("waiting: ")
        assert run_expand(app, job.id) == "waiting"  # still full: it waits again, uncounted
        again = _expand_job(app, "录像.zip")
        assert (again.state, again.attempts) == ("pending", 0)
        assert not list((disk / ".tmp").glob("*unpack-*"))  # nothing left half-written

        subprocess_remount(disk, "64m")  # an administrator frees space
        with serve_media(app, finish=True):
            pass
        items = _items(app)
        assert items["录像.zip"].status == "ok" and items["录像.zip"].error is None
        assert items["录像.dat"].status == "ok" and items["录像.dat"].size == 8 << 20
        assert items["说明.txt"].status == "ok"
        assert _expand_job(app, "录像.zip").state == "done"


def _expand_job(app, name: str) -> MediaJob:
    with app.db.session() as session:
        return session.scalar(
            select(MediaJob)
            .join(Item, Item.id == MediaJob.item_id)
            .where(Item.name == name, MediaJob.kind == "expand")
        )


@contextmanager
def _app_on(folder, archive_dir):
    """A context whose archive is on `archive_dir`; zeros may be unpacked (no ratio limit)."""
    config = write_config(folder, "[limits]\nmax_archive_ratio = 100000\n")
    config.write_text(
        config.read_text().replace('archive_dir = "archive"', f'archive_dir = "{archive_dir}"')
    )
    ctx = open_context(load_config(config))
    try:
        yield ctx
    finally:
        ctx.close()


def subprocess_remount(mount, size):
    import subprocess

    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


def test_the_members_of_a_zip_of_photos_get_their_thumbnails_in_batches(app):
    photos = {f"照片{n:03d}.jpg": files.jpeg(64 + n % 7, 48) for n in range(120)}
    _ingest(app, [("照片.zip", af.zip_bytes(photos), "application/zip")])
    with serve_media(app, finish=True):
        pass
    with app.db.session() as session:
        rows = session.execute(
            select(Item.thumbnail, MediaJob.started_at)
            .join(MediaJob, MediaJob.item_id == Item.id)
            .where(MediaJob.kind == "thumbs")
        ).all()
    assert len(rows) == 120 and all(thumb for thumb, _ in rows)
    # queued together, taken by two lanes a fair share (at most 25) at a time: 25, 25, 25,
    # 23, 11, 6, 3, 1, 1 -- in that order whatever the timing, as the queue only shrinks
    assert len({started for _, started in rows}) <= 9


def test_an_unexpected_error_in_one_archive_leaves_the_others_and_their_jobs(app, monkeypatch):
    """Beside the real broken archives above: a bug in unpacking, which no file can trigger."""
    from workers.media import unpack

    real = unpack.expand_archive

    def failing(ctx, session, item, created):
        if item.name == "坏.zip":
            raise RuntimeError("a bug nobody foresaw")
        return real(ctx, session, item, created)

    monkeypatch.setattr(unpack, "expand_archive", failing)
    _ingest(
        app,
        [
            ("坏.zip", af.zip_bytes({"甲.jpg": files.jpeg()}), "application/zip"),
            ("好.zip", af.zip_bytes({"乙.jpg": files.jpeg(300, 200)}), "application/zip"),
            ("现场.jpg", files.jpeg(), "image/jpeg"),
        ],
    )
    items = _items(app)
    assert items["坏.zip"].status == "corrupt" and "意外" in items["坏.zip"].error
    assert "RuntimeError" in items["坏.zip"].meta["detail"]
    assert items["乙.jpg"].status == "ok"
    jobs = _job_kinds(app)
    assert jobs["乙.jpg"] == {"thumbs"} and jobs["现场.jpg"] == {"thumbs"}


def test_a_password_given_while_the_archive_is_being_opened_opens_it_in_a_second_run(
    make_app, postgres, tmp_path, monkeypatch
):
    """On PostgreSQL, where a password can be saved while an expand job holds the items."""
    from storage.archive_passwords import give_password
    from workers.media import unpack

    app = make_app(database_url=postgres.create_database())
    locked = af.encrypted_zip(
        tmp_path, "照片.zip", {"开幕式.jpg": files.jpeg()}, "Dl-0518", aes=True
    )
    _ingest(app, [("照片.zip", locked.read_bytes(), "application/zip")])
    assert _items(app)["开幕式.jpg"].status == "encrypted"
    with app.db.session() as session:
        archive = session.scalar(select(Item).where(Item.name == "照片.zip"))
        job_id = give_password(session, archive, "wrong-one", "editor").id

    real, seen = unpack.known_passwords, []

    def late_password(session, message, family, item):
        known = real(session, message, family, item)
        seen.append([p.text for p in known])
        if len(seen) == 1:  # the right one arrives after this run read what it knew
            with app.db.session() as other:
                give_password(other, other.get(Item, item.id), "Dl-0518", "editor")
        return known

    monkeypatch.setattr(unpack, "known_passwords", late_password)
    assert run_expand(app, job_id) == "done"
    assert seen == [["wrong-one"], ["Dl-0518", "wrong-one"]]  # run again, with it
    photo = _items(app)["开幕式.jpg"]
    assert photo.status == "ok" and photo.meta["password_from"] == "staff"
    assert _expand_job(app, "照片.zip").state == "done"
    assert _job_kinds(app)["开幕式.jpg"] == {"thumbs"}
