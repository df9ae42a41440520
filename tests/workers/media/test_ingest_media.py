"""`mailroom ingest` makes thumbnails, previews, web videos and archive members before it exits."""

from __future__ import annotations

import json
import subprocess

from PIL import Image
from sqlalchemy import select

from storage.models import Item
from tests.support import media_files as files
from tests.workers.media.conftest import GBK_PHOTO


def _streams(path):
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
            str(path),
        ],
        check=True,
        capture_output=True,
    ).stdout
    return json.loads(out)


def test_every_picture_video_and_pdf_gets_derivatives_that_exist(ingested):
    items = ingested.items()
    for name in (
        "开幕式现场.jpg",
        "IMG_0001.HEIC",
        "技能展示.mp4",
        "iPhone视频.mp4",
        "活动周方案.pdf",
        GBK_PHOTO,
        "内层照片.jpg",
    ):
        row = items[name]
        assert row["status"] == "ok", (name, row["error"])
        for key in ("thumbnail", "preview"):
            assert row[key] and (ingested.archive / row[key]).is_file(), (name, key)
        with Image.open(ingested.archive / row["thumbnail"]) as thumb:
            assert max(thumb.size) <= 320 and thumb.format == "JPEG"
    for name in ("技能展示.mp4", "iPhone视频.mp4"):
        assert (ingested.archive / items[name]["web_video"]).is_file()
    assert items["开幕式现场.jpg"]["web_video"] is None


def test_exif_rotated_photo_is_shown_upright_and_its_metadata_is_indexed(ingested):
    row = ingested.items()["开幕式现场.jpg"]
    with Image.open(ingested.archive / row["preview"]) as preview:
        assert preview.height > preview.width  # 1600x1200 landscape, orientation 6
        assert not preview.getexif()  # metadata stripped from derivatives
        # the bright corner was top-left before rotating 90° clockwise: now top-right
        assert preview.getpixel((preview.width - 5, 5))[0] > 200
    with ingested.context() as ctx, ctx.db.session() as s:
        meta = s.scalar(select(Item.meta).where(Item.name == "开幕式现场.jpg"))
    assert (meta["width"], meta["height"]) == (1200, 1600)
    assert meta["camera"] == "Apple iPhone 12" and meta["taken_at"] == "2023-05-15T09:30:12"


def test_web_videos_are_h264_mp4_with_moov_before_mdat(ingested):
    items = ingested.items()
    for name in ("技能展示.mp4", "iPhone视频.mp4"):
        web = ingested.archive / items[name]["web_video"]
        info = _streams(web)
        assert "mp4" in info["format"]["format_name"]
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
        atoms = files.top_level_atoms(web)
        assert atoms.index("moov") < atoms.index("mdat"), atoms


def test_truncated_video_is_corrupt_with_the_reason_and_the_original_kept(ingested):
    row = ingested.items()["断掉的视频.mp4"]
    assert row["status"] == "corrupt"
    assert "moov atom not found" in row["error"] or "Invalid data" in row["error"], row["error"]
    assert row["web_video"] is None and row["thumbnail"] is None
    assert (ingested.archive / row["path"]).is_file()  # the original stays in the archive


def test_zip_members_are_items_of_their_own_with_their_container(ingested):
    items = ingested.items()
    photo = items[GBK_PHOTO]  # GBK name without the UTF-8 flag, decoded
    assert photo["container"] == "活动照片.zip" and photo["media"] == "image"
    assert photo["kind"] == "photo"
    assert photo["path"].endswith("活动照片/活动照片/开幕式.jpg")  # beside the zip, in its folder
    assert (ingested.archive / photo["path"]).is_file()
    note = items["说明.txt"]
    assert note["container"] == "活动照片.zip" and note["status"] == "ok"
    evil = items["../../evil.txt"]
    assert evil["status"] == "rejected_unsafe" and evil["path"] is None and evil["sha256"] is None
    assert items["inner.zip"]["container"] == "活动照片.zip"
    assert items["内层照片.jpg"]["container"] == "inner.zip"
    assert items["活动照片.zip"]["status"] == "ok"  # the archive itself is kept
    assert (ingested.archive / items["活动照片.zip"]["path"]).is_file()
    assert not list(ingested.archive.rglob("evil.txt"))


def test_document_text_is_indexed_for_search(ingested):
    with ingested.context() as ctx, ctx.db.session() as s:
        texts = dict(s.execute(select(Item.name, Item.text)).all())
        meta = s.scalar(select(Item.meta).where(Item.name == "活动周稿件.docx"))
    assert "新闻稿正文" in texts["活动周稿件.docx"]
    assert "Dalian vocational week plan" in texts["活动周方案.pdf"]
    assert "开幕式照片说明" in texts["说明.txt"]  # GBK text decoded
    assert meta["text_preview"].startswith("大连市职业教育活动周开幕")


def test_media_status_shows_the_finished_queue(ingested):
    out = ingested.run("media", "status").stdout
    assert "failed" in out.splitlines()[0]
    video_row = next(line for line in out.splitlines() if line.startswith("video"))
    assert video_row.split()[1:] == ["0", "0", "3", "0"]  # pending running done failed
