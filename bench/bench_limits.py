"""Hostile-input benchmark: the findings of issues 17 and 18 at full size, against normal input.

    .venv/bin/python bench/bench_limits.py [--message-mb 290] [--docx-mib 1536]
                                           [--pdf-pages 100000] [--png 13000] [--only NAME]

Each row runs the stage the way a job or ingestion runs it, in a fresh interpreter
(so its peak resident size is its own), once with the hostile input and once with a
normal one of the same kind, and prints wall time, peak memory growth and their
ratios. Every hostile row must end within its [limits] budget (the defaults) and
without the memory it used to take; the numbers before the fix are in the issues:
  8bit message ~290 MB         peak 2.7 GiB (base64 twin 0.6 GiB)
  DOCX inflating to 1.5 GiB    peak 3.1 GiB
  PDF of 100,000 pages         still running after 5 minutes
  two 13000² RGBA PNGs         peak 2.6 GiB
  MJPEG claiming 10 hours      transcode still running after 5 minutes
  100,000 lines "From: x"      still running after 5 minutes
Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import hostile_media as hostile  # noqa: E402
from tests.support import media_files as files  # noqa: E402

MIB = 1024 * 1024

# Each snippet defines `run(path)`; the harness times it and reads the peak around it.
PARSE = """
from pipeline.parse import parse_message
def run(path):
    raw = open(path, "rb").read()
    return [len(p.payload) for p in parse_message(raw).parts]
"""
INGEST = """
from tests.conftest import write_config
from workers.app import open_context
from workers.config import load_config
from workers.ingest import Ingestor, SourceRef
def run(path):
    import tempfile, pathlib
    site = pathlib.Path(tempfile.mkdtemp(prefix="bench-limits-site-"))
    ctx = open_context(load_config(write_config(site)))
    raw = open(path, "rb").read()
    outcome = Ingestor(ctx, "bench").ingest(raw, SourceRef("file", path))
    return outcome.status, outcome.items
"""
DOCX = """
from pipeline.budget import Deadline, run_within
from pipeline.media.docx import docx_text
from workers.config import LimitsConfig
def run(path):
    limits = LimitsConfig()
    deadline = Deadline("media_job_seconds", limits.media_job_seconds)
    with run_within(deadline, limits.job_memory_bytes, "bench"):
        found = docx_text(path, max_chars=limits.document_max_chars,
                          max_unpacked_bytes=limits.document_max_unpacked_bytes, deadline=deadline)
    return len(found.text), found.cut
"""
PDF = """
from pipeline.budget import Deadline, run_within
from pipeline.media.documents import pdf_first_page_image, pdf_text
from workers.config import LimitsConfig
def run(path):
    limits = LimitsConfig()
    deadline = Deadline("media_job_seconds", limits.media_job_seconds)
    with run_within(deadline, limits.job_memory_bytes, "bench"):
        found = pdf_text(path, max_pages=limits.document_max_pages,
                         max_chars=limits.document_max_chars, deadline=deadline)
        pdf_first_page_image(path, path + ".jpg", 320, deadline=deadline)
    return len(found.text), found.cut
"""
IMAGE = """
from pipeline.budget import Deadline, run_within
from pipeline.errors import LimitExceeded
from pipeline.media.images import make_image_derivatives
from workers.config import LimitsConfig
def run(path):
    limits = LimitsConfig()
    try:
        with run_within(Deadline("media_job_seconds", limits.media_job_seconds),
                        limits.job_memory_bytes, "bench"):
            make_image_derivatives(path, path + ".t.jpg", path + ".p.jpg",
                                   max_pixels=limits.image_max_pixels)
    except LimitExceeded as exc:
        return "refused: " + exc.limit
    return "made"
"""
VIDEO = """
from pipeline.budget import Deadline, run_within
from pipeline.media.video import make_poster, make_web_video, plan_web_video, probe
from workers.config import LimitsConfig
def run(path):
    limits = LimitsConfig()
    deadline = Deadline("video_job_seconds", limits.video_job_seconds)
    with run_within(deadline, limits.job_memory_bytes, "bench"):
        info = probe(path, deadline)
        plan = plan_web_video(info, max_seconds=limits.video_max_seconds)
        make_web_video(path, path + ".web.mp4", plan, info, deadline=deadline)
        make_poster(path, path + ".jpg", info, max_seconds=limits.video_max_seconds,
                    deadline=deadline)
    return plan.action, plan.max_seconds
"""
DECIDE = """
from pipeline.budget import Deadline
from pipeline.decide import Rules, decide_message
from pipeline.parse import parse_message
from tests.pipeline.helpers import campaign, local, units
def run(path):
    raw = open(path, "rb").read()
    directory, rules = units(), Rules(campaign())
    decide_message(parse_message(b"From: a@b.cn\\r\\nSubject: x\\r\\n\\r\\nx"), directory, rules,
                   local(2023, 5, 20))  # lazy imports first
    import time
    started = time.monotonic()
    deadline = Deadline("message_seconds", 60)
    decision = decide_message(parse_message(raw, deadline), directory, rules, local(2023, 5, 20),
                              deadline=deadline)
    return round(time.monotonic() - started, 3), decision.status
"""
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent.
HARNESS = """
import json, sys, time
def high_water():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
{snippet}
before = high_water()
started = time.monotonic()
value = run(sys.argv[1])
seconds = time.monotonic() - started
grown = high_water() - before
import resource  # the programs it ran (pdftotext, ffmpeg): their largest peak
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({{"value": repr(value), "seconds": seconds, "mib": grown / 1024,
                  "child_mib": children / 1024}}))
"""


def measure(snippet: str, path: Path) -> dict:
    code = HARNESS.format(snippet=snippet)
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=3600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"{path.name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def row(name: str, snippet: str, hostile_path: Path, normal_path: Path) -> None:
    bad, good = measure(snippet, hostile_path), measure(snippet, normal_path)
    size = hostile_path.stat().st_size / MIB
    print(
        f"{name:<34} {size:8.1f} MB  {bad['seconds']:7.2f} s {bad['mib']:6.0f} MiB"
        f" (programs {bad['child_mib']:4.0f} MiB)"
        f"  | normal {good['seconds']:6.2f} s {good['mib']:4.0f} MiB ({good['child_mib']:4.0f})"
        f"  | x{bad['seconds'] / max(good['seconds'], 0.01):6.1f} time"
        f" x{max(bad['mib'], 1) / max(good['mib'], 1):5.1f} memory   {bad['value']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--message-mb", type=int, default=290)
    parser.add_argument("--docx-mib", type=int, default=1536)
    parser.add_argument("--pdf-pages", type=int, default=100_000)
    parser.add_argument("--png", type=int, default=13_000)
    parser.add_argument("--only", help="run only the rows whose name contains this")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mailroom-bench-limits-"))
    print(f"{'row':<34} {'input':>11}  {'hostile':>36}  | {'normal input':>29}  | ratios")
    rows = {
        "parse: 8bit attachment": lambda: (PARSE, _message(work, args.message_mb, "8bit"),
                                           _message(work, args.message_mb, "base64")),
        "ingest: 8bit attachment": lambda: (INGEST, _message(work, args.message_mb, "8bit"),
                                            _message(work, args.message_mb, "base64")),
        "docx: XML inflating": lambda: (DOCX, hostile.inflating_docx(
            work / "bomb.docx", args.docx_mib * MIB), _write(work / "a.docx", files.docx_file(
                "大连市职业教育活动周开幕 新闻稿正文 " * 2000))),
        "pdf: shared-page annex": lambda: (PDF, _write(work / "many.pdf", hostile.many_page_pdf(
            args.pdf_pages)), _write(work / "ten.pdf", hostile.many_page_pdf(10))),
        "image: 13000² RGBA PNG": lambda: (IMAGE, hostile.huge_png(work / "big.png", args.png),
                                          _write(work / "photo.jpg", files.jpeg(4000, 3000))),
        "video: MJPEG claiming 10 h": lambda: (VIDEO, hostile.mjpeg_claiming(work, 36000),
                                              files.clip(work, "normal.mp4", "hevc", 3)),
        "decide: 100,000 lines From: x": lambda: (DECIDE, _write(work / "from.eml",
            hostile.message_with_body(hostile.HOSTILE_BODIES["from_lines"])),
            _write(work / "normal.eml", hostile.message_with_body("您好，附件请查收。\n王芳"))),
        "decide: 800,000 blank lines": lambda: (DECIDE, _write(work / "blank.eml",
            hostile.message_with_body(hostile.HOSTILE_BODIES["blank_lines"])),
            work / "normal.eml"),
    }  # fmt: skip
    try:
        for name, build in rows.items():
            if args.only and args.only not in name:
                continue
            started = time.monotonic()
            snippet, bad, good = build()
            print(f"  (inputs made in {time.monotonic() - started:.1f} s)", flush=True)
            row(name, snippet, bad, good)
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _message(work: Path, megabytes: int, encoding: str) -> Path:
    """The message of about `megabytes`; base64 makes 1.37 bytes of text per byte sent."""
    path = work / f"big-{encoding}.eml"
    if not path.exists():
        size = megabytes * 1_000_000 / (1.37 if encoding == "base64" else 1.0)
        path.write_bytes(hostile.message_with_attachment(int(size), encoding))
    return path


if __name__ == "__main__":
    main()
