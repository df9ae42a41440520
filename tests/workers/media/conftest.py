"""A site with one message carrying every media case, ingested once by the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import write_config
from tests.support import media_files as files
from workers.app import AppContext, open_context
from workers.config import load_config

MAILROOM = str(Path(sys.executable).parent / "mailroom")
GBK_PHOTO = "活动照片/开幕式.jpg"


@dataclass
class Site:
    """A config folder and ways to run the real `mailroom` command on it."""

    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "config.toml"

    @property
    def archive(self) -> Path:
        return self.folder / "archive"

    def run(self, *args: str, env: dict | None = None, check: bool = True):
        result = subprocess.run(
            [MAILROOM, "--config", str(self.config), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"mailroom {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result

    def items(self) -> dict[str, dict]:
        out = self.run("export", "items").stdout
        return {row["name"]: row for row in map(json.loads, out.splitlines())}

    @contextmanager
    def context(self) -> Iterator[AppContext]:
        """An AppContext on the site's index and archive, closed afterwards."""
        ctx = open_context(load_config(self.config))
        try:
            yield ctx
        finally:
            ctx.close()

    def drop(self, name: str, raw: bytes) -> Path:
        path = self.folder / "mail" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
        return path


def make_site(folder: Path, extra: str = "") -> Site:
    write_config(folder, extra)
    return Site(folder)


def site_with_a_long_video(tmp_path: Path) -> Site:
    """A migrated site whose inbox holds one message with a 20 s 720p video (a transcode
    long enough to interrupt)."""
    site = make_site(tmp_path / "site")
    clip = files.clip(tmp_path, "long.mp4", "h264", seconds=20, size="1280x720")
    (site.folder / "inbox").mkdir()
    (site.folder / "inbox" / "video.eml").write_bytes(
        files.message("大连市活动周视频", [("宣传片.mp4", clip.read_bytes(), "video/mp4")])
    )
    site.run("migrate")  # makes the index first
    return site


def everything_message(tmp: Path) -> bytes:
    """One message with a rotated JPEG, a HEIC, H.264 and HEVC clips, a cut-off clip,
    a zip (GBK names, a traversal member, a nested zip), a docx and a pdf."""
    h264 = files.clip(tmp, "h264.mp4", "h264")
    hevc = files.clip(tmp, "hevc.mp4", "hevc")
    inner = files.plain_zip({"内层照片.jpg": files.jpeg(320, 240)})
    outer = files.zip_with_raw_names(
        {
            GBK_PHOTO.encode("gbk"): files.jpeg(),
            "说明.txt".encode("gbk"): "开幕式照片说明".encode("gbk"),
            b"../../evil.txt": b"escape attempt",
            b"inner.zip": inner,
        }
    )
    return files.message(
        "大连市职业教育活动周照片和视频",
        [
            ("开幕式现场.jpg", files.rotated_jpeg(), "image/jpeg"),
            ("IMG_0001.HEIC", files.heic(), "image/heic"),
            ("技能展示.mp4", h264.read_bytes(), "video/mp4"),
            ("iPhone视频.mp4", hevc.read_bytes(), "video/mp4"),
            ("断掉的视频.mp4", files.truncated(h264), "video/mp4"),
            ("活动照片.zip", outer, "application/zip"),
            (
                "活动周稿件.docx",
                files.docx_file("大连市职业教育活动周开幕 新闻稿正文"),
                "application/octet-stream",
            ),
            ("活动周方案.pdf", files.pdf_file(["Dalian vocational week plan"]), "application/pdf"),
        ],
    )


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Site:
    """The site after `mailroom ingest` (waiting for derivatives) of the everything-message."""
    tmp = tmp_path_factory.mktemp("media_site")
    site = make_site(tmp / "site")
    mail = site.drop("everything.eml", everything_message(tmp))
    site.run("ingest", str(mail))
    return site


def env_without_ffmpeg(tmp: Path) -> dict:
    """The environment with a PATH on which ffmpeg and ffprobe cannot be found."""
    empty = tmp / "empty-bin"
    empty.mkdir(exist_ok=True)
    return {**os.environ, "PATH": str(empty)}
