"""ffmpeg and ffprobe read only the attachment's own bytes (issue 17, items 1 and 2).

Each crafted file names a canary file and a loopback listener. The real ffmpeg and
ffprobe run under `strace -f` (wrappers put first on PATH), and the test reads every
file they opened and every address they connected to. A control runs plain ffprobe
on the same files to show the harness would see the canary if it were read.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pipeline.errors import MediaError
from pipeline.media.video import container_of, make_poster, make_web_video, plan_web_video, probe
from tests.support import hostile_media as hostile
from tests.support.media_files import jpeg


class Listener:
    """A loopback TCP listener that records every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stopping = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def traced(tmp_path, monkeypatch):
    """Puts strace-wrapped ffmpeg and ffprobe first on PATH; returns a reader of their syscalls."""
    bin_dir, logs = tmp_path / "bin", tmp_path / "strace"
    bin_dir.mkdir()
    logs.mkdir()
    for program in ("ffmpeg", "ffprobe"):
        wrapper = bin_dir / program
        wrapper.write_text(
            "#!/bin/sh\n"
            f'exec strace -f -qq -e trace=open,openat,connect -o "{logs}/{program}.$$" '
            f'/usr/bin/{program} "$@"\n'
        )
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    def syscalls() -> str:
        return "".join(log.read_text(errors="replace") for log in sorted(logs.iterdir()))

    return syscalls


@pytest.fixture
def bait(tmp_path):
    """A canary file beside the mail folder, and a listener nothing may connect to."""
    secret = tmp_path / "secret"
    secret.mkdir()
    canary = secret / "canary.ts"
    canary.write_bytes(b"the server's own file")
    mail = tmp_path / "mail"
    mail.mkdir()
    # concat's "safe" mode only follows plain relative names: a file beside the attachment
    (mail / "neighbour.ts").write_bytes(b"another file of the server")
    listener = Listener()
    yield mail, canary, listener
    listener.close()


def _playlists(canary: Path, port: int) -> dict[str, bytes]:
    url = f"http://127.0.0.1:{port}/segment.ts"
    return {
        "视频-file-url.mp4": hostile.hls_playlist(f"file://{canary}"),
        "视频-absolute.mp4": hostile.hls_playlist(str(canary)),
        "视频-relative.mp4": hostile.hls_playlist("../secret/canary.ts"),
        "视频-http.mp4": hostile.hls_playlist(url),
        "视频-ffconcat.mp4": hostile.ffconcat("neighbour.ts"),
        "视频-sdp.mp4": hostile.sdp(port),
        "视频-m3u-as-avi.avi": hostile.hls_playlist(f"file://{canary}", url),
    }


@pytest.fixture(scope="module")
def info(tmp_path_factory):
    """The VideoInfo of a real one-second clip (the plans below need one)."""
    clip = tmp_path_factory.mktemp("real") / "real.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:duration=1",
         "-c:v", "libx264", "-preset", "ultrafast", str(clip)],
        check=True,
    )  # fmt: skip
    return probe(clip)


def test_playlists_posing_as_videos_are_never_handed_to_ffmpeg(traced, bait, info, tmp_path):
    mail, canary, listener = bait
    for name, data in _playlists(canary, listener.port).items():
        path = mail / name
        path.write_bytes(data)
        assert container_of(data[:4096]) is None, name
        with pytest.raises(MediaError, match="not in a video container"):
            probe(path)
        with pytest.raises(MediaError, match="not in a video container"):
            make_web_video(path, tmp_path / "web.mp4", plan_web_video(info), info)
        with pytest.raises(MediaError, match="not in a video container"):
            make_poster(path, tmp_path / "poster.jpg", info)
    assert "canary" not in traced() and "neighbour" not in traced()
    assert listener.connections == 0


def test_a_real_avi_carrying_a_playlist_in_its_gab2_subtitles_reads_nothing_else(
    traced, bait, tmp_path
):
    mail, canary, listener = bait
    payload = hostile.hls_playlist(f"file://{canary}", f"http://127.0.0.1:{listener.port}/s.ts")
    avi = mail / "activity.avi"  # ASCII: strace escapes other bytes in the paths it prints
    avi.write_bytes(hostile.gab2_avi(jpeg(320, 240), payload))
    info = probe(avi)
    assert (info.codec, info.width, info.height) == ("mjpeg", 320, 240)
    make_poster(avi, tmp_path / "poster.jpg", info)
    make_web_video(avi, tmp_path / "web.mp4", plan_web_video(info), info)
    assert (tmp_path / "web.mp4").stat().st_size > 0
    calls = traced()
    assert calls.count(str(avi)) >= 3  # the wrappers did run: probe, poster and web video
    assert "canary" not in calls and "neighbour" not in calls
    assert f"sin_port=htons({listener.port})" not in calls
    assert listener.connections == 0


def test_the_harness_sees_plain_ffprobe_read_the_canary_and_connect(traced, bait):
    """The control: without the sandbox, ffprobe follows the same files (and, once a
    network protocol is allowed, the URL)."""
    mail, canary, listener = bait
    files = _playlists(canary, listener.port)
    for name in ("视频-file-url.mp4", "视频-relative.mp4", "视频-ffconcat.mp4", "视频-http.mp4"):
        (mail / name).write_bytes(files[name])
        subprocess.run(["ffprobe", "-v", "quiet", str(mail / name)], check=False, timeout=60)
    calls = traced()
    assert calls.count('canary.ts"') >= 2 and 'neighbour.ts"' in calls  # URL, relative path
    http = ["ffprobe", "-v", "quiet", "-protocol_whitelist", "file,http,tcp"]
    subprocess.run([*http, str(mail / "视频-http.mp4")], check=False, timeout=60)
    waited = time.monotonic() + 10
    while listener.connections == 0 and time.monotonic() < waited:  # the accept thread's turn
        time.sleep(0.05)
    assert listener.connections >= 1


def test_a_clip_whose_timestamps_claim_10_hours_is_cut_and_converts_in_seconds(tmp_path):
    """Three 720p MJPEG frames, the last stamped at 10 h: x264 ran for hours filling the gap."""
    clip = hostile.mjpeg_claiming(tmp_path, 10 * 3600)
    info = probe(clip)
    assert info.duration == pytest.approx(36000, abs=1)
    plan = plan_web_video(info, max_seconds=7200)
    assert plan.action == "transcode" and plan.max_seconds == 7200
    assert plan.reasons[-1] == "the clip claims 36000 s: cut at 7200 s"
    started = time.monotonic()
    make_web_video(clip, tmp_path / "web.mp4", plan, info)
    assert time.monotonic() - started < 30  # minutes of frame-filling before
    web = probe(tmp_path / "web.mp4")
    assert web.codec == "h264" and web.duration is not None and web.duration <= 7200
    make_poster(clip, tmp_path / "poster.jpg", info, max_seconds=7200)
    assert (tmp_path / "poster.jpg").stat().st_size > 0


def test_allowed_containers_are_recognised_from_their_first_bytes(tmp_path):
    for name, args in {
        "a.mp4": ["-c:v", "libx264", "-preset", "ultrafast"],
        "a.mkv": ["-c:v", "libx264", "-preset", "ultrafast"],
        "a.webm": ["-c:v", "libvpx", "-deadline", "realtime"],
        "a.avi": ["-c:v", "mpeg4"],
        "a.wmv": ["-c:v", "wmv2"],
        "a.flv": ["-c:v", "flv"],
        "a.mpg": ["-c:v", "mpeg2video"],
        "a.ts": ["-c:v", "mpeg2video"],
        "a.3gp": ["-c:v", "h263", "-s", "176x144"],
    }.items():
        out = tmp_path / name
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:duration=0.2",
             *args, str(out)],
            check=True,
        )  # fmt: skip
        with open(out, "rb") as handle:
            assert container_of(handle.read(4096)) is not None, name
        assert probe(out).width in (320, 176), name
