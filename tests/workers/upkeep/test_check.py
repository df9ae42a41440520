"""`mailroom archive check [--repair]` against a real archive damaged in every way it can be."""

from __future__ import annotations

import os

from sqlalchemy import delete

from storage import layout
from storage.media_models import MediaJob
from tests.support import media_files as files
from tests.workers.media.conftest import make_site
from tests.workers.upkeep.test_crash_points import zip_message


def filed_site(tmp_path):
    """A site with one message carrying a photo and a zip of two photos, derivatives made."""
    site = make_site(tmp_path / "site")
    raw = files.message(
        "大连市职业教育活动周照片",
        [("合影.jpg", files.jpeg(800, 600), "image/jpeg")],
        number=2,
    )
    site.run("ingest", str(site.drop("photo.eml", raw)), str(site.drop("zip.eml", zip_message())))
    assert site.run("archive", "check").stdout.strip().endswith("no problems")
    return site


def test_a_healthy_archive_has_no_problems_and_every_object_is_hashed(tmp_path):
    site = filed_site(tmp_path)
    line = site.run("archive", "check").stdout.strip()
    # 4 objects: the photo, the zip and its two members; 2 raw messages
    assert line == "archive check: 4 objects and 2 raw messages verified; no problems"


def test_every_kind_of_damage_is_found_and_repaired_from_the_raw_copies(tmp_path):
    site = filed_site(tmp_path)
    items = site.items()
    photo, member = items["合影.jpg"], items["颁奖.jpg"]
    (site.archive / photo["path"]).unlink()  # a view removed by hand
    (site.archive / layout.blob_path(photo["sha256"])).write_bytes(b"rotten")  # a bad disk
    (site.archive / layout.blob_path(member["sha256"])).unlink()  # an archive member's object
    (site.archive / photo["thumbnail"]).unlink()  # a derivative
    stray = site.archive / "2023年辽宁省职业教育活动周" / "大连市教育局" / "说明.txt"
    stray.write_text("放错地方的文件", encoding="utf-8")  # not ours: kept, moved aside
    found = site.run("archive", "check", check=False)
    assert found.returncode == 1
    kinds = sorted(line.split(":")[0] for line in found.stdout.splitlines()[:-1])
    assert kinds == [
        "corrupt_object", "missing_derivative", "missing_object", "missing_view", "orphan",
    ]  # fmt: skip

    repaired = site.run("archive", "check", "--repair")
    assert "moved to .orphans/" in repaired.stdout
    after = site.run("archive", "check")
    assert after.stdout.strip().endswith("no problems"), after.stdout
    items = site.items()
    assert (site.archive / items["合影.jpg"]["path"]).read_bytes() == files_bytes(site, "合影.jpg")
    assert (site.archive / items["合影.jpg"]["thumbnail"]).is_file()
    assert (site.archive / layout.blob_path(member["sha256"])).is_file()  # from its view
    assert "written again from its file in the readable tree" in repaired.stdout
    assert (site.archive / ".orphans" / stray.relative_to(site.archive)).read_text(
        encoding="utf-8"
    ) == "放错地方的文件"


def test_a_missing_member_object_is_written_again_from_its_archive(tmp_path):
    site = filed_site(tmp_path)
    member = site.items()["颁奖.jpg"]
    blob = site.archive / layout.blob_path(member["sha256"])
    original = blob.read_bytes()
    blob.unlink()
    (site.archive / member["path"]).unlink()  # the view was the last copy of its bytes
    found = site.run("archive", "check", check=False).stdout
    assert f"missing_object: {layout.blob_path(member['sha256'])}" in found
    assert "written again from its archive" in site.run("archive", "check", "--repair").stdout
    assert blob.read_bytes() == original
    assert (site.archive / member["path"]).read_bytes() == original  # linked again


def test_an_archive_filed_with_no_job_to_open_it_is_opened_by_the_repair(tmp_path):
    site = make_site(tmp_path / "site")
    mail = site.drop("zip.eml", zip_message())
    env = {**os.environ, "MAILROOM_CRASH_AT": "after-filing"}
    site.run("ingest", "--no-wait", str(mail), env=env, check=False)
    with site.context() as ctx, ctx.db.session() as session:  # as an older mailroom left it
        session.execute(delete(MediaJob).where(MediaJob.kind == "expand"))
    found = site.run("archive", "check", check=False).stdout
    assert found.startswith("unexpanded: 2023年辽宁省职业教育活动周/")
    site.run("archive", "check", "--repair")
    assert site.items()["颁奖.jpg"]["container"] == "活动照片.zip"
    assert site.run("archive", "check").stdout.strip().endswith("no problems")


def files_bytes(site, name: str) -> bytes:
    """Returns the bytes the raw message carries for an attachment (what the object must hold)."""
    from email import message_from_bytes, policy

    for path in (site.folder / "mail").iterdir():
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in msg.iter_attachments():
            if part.get_filename() == name:
                return part.get_payload(decode=True)
    raise AssertionError(name)
