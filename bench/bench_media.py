"""Media benchmark: mailroom's media paths against libvips and plain ffmpeg, in one run.

    .venv/bin/python bench/bench_media.py [--photos 20]

Needs ffmpeg/ffprobe, and pyvips with Debian's libvips42 for the image reference
(`apt-get install libvips42 && pip install pyvips`). pyvips runs in a separate
process: pillow-heif and libvips in one process segfault on HEIC. Not part of
`make test`; prints ratios measured in this same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from pipeline.media.images import make_image_derivatives  # noqa: E402
from pipeline.media.video import make_web_video, plan_web_video, probe  # noqa: E402

VIPS_SCRIPT = r"""
import json, sys, time
import pyvips
paths, out = sys.argv[2:], sys.argv[1]
start = time.perf_counter()
for i, p in enumerate(paths):
    preview = pyvips.Image.thumbnail(p, 1440).copy_memory()  # decode once, reuse for 320
    preview.write_to_file(f"{out}/v{i}_preview.jpg[Q=80,strip]")
    preview.thumbnail_image(320).write_to_file(f"{out}/v{i}_thumb.jpg[Q=80,strip]")
print(json.dumps(time.perf_counter() - start))
"""


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def make_photos(d: Path, n: int) -> list[Path]:
    base = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize((4000, 3000)),
            Image.effect_noise((4000, 3000), 60),
            Image.radial_gradient("L").resize((4000, 3000)),
        ],
    )
    paths = []
    for i in range(n):
        p = d / f"photo{i:02d}.jpg"
        base.rotate(i * 7).save(p, quality=90)
        paths.append(p)
    return paths


def bench_images(d: Path, n: int) -> tuple[float, float]:
    photos = make_photos(d, n)
    make_image_derivatives(photos[0], d / "warm_t.jpg", d / "warm_p.jpg")  # imports, caches
    start = time.perf_counter()
    for i, p in enumerate(photos):
        make_image_derivatives(p, d / f"m{i}_thumb.jpg", d / f"m{i}_preview.jpg")
    ours = time.perf_counter() - start
    cmd = [sys.executable, "-c", VIPS_SCRIPT, str(d), *map(str, photos)]
    vips = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return ours, vips


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ours_web(src: Path, dst: Path, short_side: int) -> None:
    info = probe(src)
    make_web_video(src, dst, plan_web_video(info, short_side=short_side), info)


def bench_remux(d: Path) -> tuple[float, float, float, str]:
    src = d / "h264_1080p.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=20",
           "-f", "lavfi", "-i", "sine=duration=20", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", src)  # fmt: skip
    # short_side=1080: a 1080p H.264 clip is then remuxed, which is what this compares
    info = probe(src)
    plan = plan_web_video(info, short_side=1080)
    probe_time = timed(lambda: probe(src))  # needed anyway: the index keeps its metadata
    ours_runs, plain_runs = [], []
    for _ in range(3):  # best of three, alternating: the machine is shared
        ours_runs.append(timed(lambda: make_web_video(src, d / "ours.mp4", plan, info)))
        plain_runs.append(timed(lambda: ffmpeg("-i", src, *PLAIN_REMUX, d / "plain.mp4")))
    ours, plain = min(ours_runs), min(plain_runs)
    return ours, plain, probe_time, plan.action


PLAIN_REMUX = ["-c", "copy", "-movflags", "+faststart"]
# The plain command line with the encoder settings make_web_video uses for a transcode
PLAIN_TRANSCODE = [
    "-map", "0:v:0", "-map", "0:a:0?", "-vf", "scale=1280:720",
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
    "-profile:v", "high", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
]  # fmt: skip


def bench_transcode(d: Path) -> tuple[float, float, float]:
    src = d / "hevc_1080p.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=10",
           "-f", "lavfi", "-i", "sine=duration=10", "-c:v", "libx265", "-preset", "ultrafast",
           "-x265-params", "log-level=error", "-c:a", "aac", "-shortest", src)  # fmt: skip
    duration = probe(src).duration or 10.0
    # best of two, alternating, because other work on this 2-core machine adds noise
    ours_runs, plain_runs = [], []
    for _ in range(2):
        ours_runs.append(timed(lambda: ours_web(src, d / "ours_hevc.mp4", 720)))
        plain_runs.append(timed(lambda: ffmpeg("-i", src, *PLAIN_TRANSCODE, d / "plain.mp4")))
    return min(ours_runs), min(plain_runs), duration


# Runs one command and prints the peak RSS (kB) of it and its children, from the kernel.
PEAK_RSS_SCRIPT = r"""
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if done.returncode != 0:
    sys.exit(done.stderr[-2000:])
print(json.dumps(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
"""


def bench_memory(d: Path, attachment_mb: int = 200) -> tuple[int, int]:
    """Returns (peak RSS, message size) in bytes for `mailroom ingest` of one big message."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"] = "xuanchuan@dl.edu.example.cn", "zcc1.sjyt@ln.gov.cn"
    msg["Subject"], msg["Message-ID"] = "大连市职业教育活动周宣传片", "<bench-big@example.cn>"
    msg.set_content("宣传片见附件。")
    msg.add_attachment(
        os.urandom(attachment_mb * 1024 * 1024),
        maintype="video",
        subtype="mp4",
        filename="宣传片.mp4",
    )
    eml = d / "big.eml"
    eml.write_bytes(msg.as_bytes())
    del msg
    site = d / "site"
    site.mkdir()
    (site / "config.toml").write_text(
        '[storage]\narchive_dir = "archive"\ndatabase_url = "sqlite:///data/mailroom.db"\n'
    )
    mailroom = Path(sys.executable).parent / "mailroom"
    # --no-wait: this measures the ingest process itself; derivatives run in other processes
    cmd = [mailroom, "--config", site / "config.toml", "ingest", "--no-wait", eml]
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT, *map(str, cmd)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out) * 1024, eml.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--memory-only", action="store_true", help="Only the peak-memory row.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_media_") as tmp:
        peak, size = bench_memory(Path(tmp))
    memory_row = (
        f"{'peak RSS, ingest 1 message (200 MB video)':42} {peak / 2**20:7.0f}MB "
        f"{size / 2**20:8.0f}MB  {'message size':18} {peak / size:6.2f} {4.0:5.1f}x "
        f"{'ok' if peak / size <= 4.0 else 'OVER'}"
    )
    if args.memory_only:
        print(memory_row)
        return
    with tempfile.TemporaryDirectory(prefix="bench_media_") as tmp:
        d = Path(tmp)
        img_ours, img_vips = bench_images(d, args.photos)
        remux_ours, remux_plain, probe_time, action = bench_remux(d)
        hevc_ours, hevc_plain, duration = bench_transcode(d)
    rows = [
        (
            f"{args.photos} photos 4000x3000 -> 320+1440",
            img_ours,
            img_vips,
            "pyvips thumbnail",
            1.2,
        ),
        (f"H.264/AAC 1080p 20 s ({action})", remux_ours, remux_plain, "ffmpeg -c copy", 1.2),
        ("  same, plus ffprobe", remux_ours + probe_time, remux_plain, "ffmpeg -c copy", 1.2),
        ("HEVC 1080p 10 s -> H.264 720p", hevc_ours, hevc_plain, "plain ffmpeg", 1.1),
    ]
    print(f"{'case':42} {'mailroom':>9} {'reference':>10}  {'ref. is':18} {'ratio':>6} {'goal':>6}")
    for name, ours, ref, what, goal in rows:
        flag = "ok" if ours / ref <= goal else "OVER"
        print(
            f"{name:42} {ours:8.2f}s {ref:9.2f}s  {what:18} {ours / ref:6.2f} {goal:5.1f}x {flag}"
        )
    print(memory_row)
    print(
        f"HEVC realtime factor: mailroom {duration / hevc_ours:.1f}x, plain ffmpeg {duration / hevc_plain:.1f}x"
    )
    print(
        f"per photo: mailroom {img_ours / args.photos * 1000:.0f} ms, pyvips {img_vips / args.photos * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
