"""Media jobs within their [limits] budgets, run by the real pool's spawned worker processes.

Each test files one message of hostile files, lets the pool run its jobs, and reads the
worker processes' own high-water mark (VmHWM) before the pool stops them.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from storage.media_models import MediaJob
from storage.models import Item
from tests.support import hostile_media as hostile
from tests.support import media_files as files
from workers.ingest import Ingestor, SourceRef
from workers.media.pool import serve_media

MIB = 1024 * 1024


def _high_water_mib(pid: int) -> float:
    """Returns the peak resident size of a live process (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def _run_jobs(app, raw: bytes, timeout: float = 180) -> tuple[dict[str, Item], float, float]:
    """Files the message, runs its jobs in the pool; returns (items by name, the largest
    worker high-water mark in MiB, seconds the jobs took)."""
    outcome = Ingestor(app, "test").ingest(raw, SourceRef("file", "hostile.eml"))
    assert outcome.status in ("filed", "triage"), outcome.error
    started = time.monotonic()
    with serve_media(app, finish=False) as pool:
        assert pool.wait(timeout), "the jobs did not finish"
        seconds = time.monotonic() - started
        peak = max(_high_water_mib(pid) for pid in pool._pids())
    with app.db.session() as session:
        items = {i.name: i for i in session.scalars(select(Item))}
        states = set(session.scalars(select(MediaJob.state)))
    assert states == {"done"}, states  # a budget stops a job as a result, never a failure
    return items, peak, seconds


def test_two_13000_pixel_pngs_are_refused_by_the_pixel_budget_without_decoding(app, tmp_path):
    """Two 13000×13000 RGBA PNGs (0.7 MB each) peaked at 2,635 MiB in one message."""
    first = hostile.huge_png(tmp_path / "1.png", 13000).read_bytes()
    second = hostile.huge_png(tmp_path / "2.png", 12990).read_bytes()
    raw = files.message(
        "大连市活动周照片",
        [("海报1.png", first, "image/png"), ("海报2.png", second, "image/png"),
         ("现场.jpg", files.jpeg(), "image/jpeg")],
    )  # fmt: skip
    items, peak, seconds = _run_jobs(app, raw)
    assert items["海报2.png"].meta["limit"] == "image_max_pixels"
    poster = items["海报1.png"]
    assert poster.status == "ok" and poster.thumbnail is None
    assert poster.meta["limit"] == "image_max_pixels"
    assert poster.error.startswith("图片过大（13000×13000 像素），超过1.5 亿像素的处理上限")
    assert items["现场.jpg"].thumbnail is not None  # the photo beside them is not held up
    assert peak < 400, f"a worker peaked at {peak:.0f} MiB"
    assert seconds < 120


def test_a_job_over_the_memory_budget_is_stopped_and_the_worker_goes_on(make_app, tmp_path):
    """With the pixel budget raised, decoding 676 MB of pixels meets the memory cap instead."""
    app = make_app("[limits]\nimage_max_pixels = 200000000\njob_memory_bytes = 268435456\n")
    big = hostile.huge_png(tmp_path / "big.png", 13000).read_bytes()
    raw = files.message(
        "大连市活动周照片",
        [("海报.png", big, "image/png"), ("现场.jpg", files.jpeg(), "image/jpeg")],
    )
    items, peak, _ = _run_jobs(app, raw)
    poster = items["海报.png"]
    assert poster.status == "ok" and poster.thumbnail is None
    assert poster.meta["limit"] == "job_memory_bytes"
    assert poster.error.startswith("处理这个文件需要的内存超过256 MB的上限，未生成预览")
    assert items["现场.jpg"].thumbnail is not None
    assert peak < 256 + 300, f"a worker peaked at {peak:.0f} MiB"


def test_a_100000_page_pdf_settles_within_the_job_budget(app, tmp_path):
    raw = files.message(
        "大连市活动周总结",
        [("附件汇编.pdf", hostile.many_page_pdf(100_000), "application/pdf")],
    )
    items, peak, seconds = _run_jobs(app, raw)
    pdf = items["附件汇编.pdf"]
    assert pdf.thumbnail is not None and pdf.error is None
    assert pdf.meta["text_cut"] == "document_max_pages"
    assert pdf.text.count("Shared page of a very long annex") == 1000
    assert seconds < 120 and peak < 400


def test_a_docx_inflating_to_gigabytes_is_read_in_megabytes(app, tmp_path):
    """1.5 GiB of XML cost 3.1 GiB of memory; here 512 MiB of XML in 0.5 MB of DOCX."""
    bomb = hostile.inflating_docx(tmp_path / "稿件.docx", 512 * MIB, level=1).read_bytes()
    raw = files.message("大连市活动周稿件", [("稿件.docx", bomb, "application/octet-stream")])
    items, peak, seconds = _run_jobs(app, raw)
    doc = items["稿件.docx"]
    assert doc.meta["text_cut"] == "document_max_chars" and len(doc.text) == 1_000_000
    assert seconds < 120 and peak < 400


def test_a_clip_claiming_10_hours_gets_a_web_version_cut_at_the_length_cap(app, tmp_path):
    clip = hostile.mjpeg_claiming(tmp_path, 10 * 3600).read_bytes()
    raw = files.message("大连市活动周视频", [("开幕式.mkv", clip, "video/x-matroska")])
    items, _, seconds = _run_jobs(app, raw)
    video = items["开幕式.mkv"]
    assert video.web_video is not None and video.thumbnail is not None
    assert video.meta["limit"] == "video_max_seconds"
    assert video.error == (
        "视频声称时长10 小时，超过2 小时的网页视频时长上限：网页版只有前2 小时；原视频已保存，可下载查看。"
    )
    assert seconds < 120  # the transcode ran for hours before


def test_a_job_past_its_wall_clock_budget_is_stopped_with_the_limit_named(make_app, tmp_path):
    app = make_app("[limits]\nmedia_job_seconds = 0.001\n")
    raw = files.message("大连市活动周照片", [("现场.jpg", files.jpeg(), "image/jpeg")])
    items, _, _ = _run_jobs(app, raw)
    photo = items["现场.jpg"]
    assert photo.status == "ok" and photo.meta["limit"] == "media_job_seconds"
    assert photo.error.startswith("生成预览或提取文字超过0.001 秒的处理时限，已停止")
