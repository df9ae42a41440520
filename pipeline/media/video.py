"""Video: probe with ffprobe, decide remux or transcode (pure), make the web version and a poster.

Commands are built with ffmpeg-python and run through `pipeline.externals`, which
enforces a time limit. Needs `ffprobe` and `ffmpeg` (Debian's ffmpeg 5.1 has
libx264, AAC and the zimg-based `zscale` filter used for HDR tone-mapping).

ffmpeg and ffprobe read only the attachment's own bytes. Left to itself ffmpeg picks
the demuxer from the content, and an attachment named 视频.mp4 whose bytes are an HLS
playlist (or concat/ffconcat list, SDP file, image2 pattern) makes it open the local
files and URLs the playlist names. So the container is sniffed here from the first
bytes and forced (`-f`) from an allow-list of file demuxers, `-format_whitelist` keeps
that demuxer from opening another one inside the file (AVI's GAB2 subtitles),
`-protocol_whitelist file` leaves only the file itself to read, and subtitle and data
streams are dropped (`-sn -dn`). Anything else is not a video we read.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import ffmpeg
from PIL import Image, ImageStat

from pipeline.budget import Deadline
from pipeline.errors import ExternalProgramError, MediaError
from pipeline.externals import EXITED, run_command, run_ffmpeg
from pipeline.media._files import atomic_output

log = logging.getLogger(__name__)

HDR_TRANSFERS = ("smpte2084", "arib-std-b67")  # PQ (HDR10, Dolby Vision 8.1) and HLG
WEB_AUDIO = ("aac", "mp3")
SDR_420_8BIT = ("yuv420p", "yuvj420p")
PROBE_TIMEOUT = 30.0
SNIFF_BYTES = 4096
_ASF = b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"
_MOV_ATOMS = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")  # QuickTime, MP4, 3GP


def container_of(head: bytes) -> str | None:
    """Returns the ffmpeg demuxer for a video file's first bytes, or None for anything else.

    Only containers a camera, phone or editor writes into one file: QuickTime/MP4/3GP,
    Matroska/WebM, AVI, ASF (WMV), FLV, MPEG program and transport streams, Ogg.
    """
    if len(head) >= 8 and head[4:8] in _MOV_ATOMS:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(_ASF):
        return "asf"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"
    if head.startswith(b"OggS"):
        return "ogg"
    if _sync_bytes(head, 188, 0) or _sync_bytes(head, 192, 4):  # .ts, and .mts/.m2ts
        return "mpegts"
    return None


def _sync_bytes(head: bytes, size: int, offset: int) -> bool:
    """True when four transport-stream packets in a row start with the 0x47 sync byte."""
    return len(head) >= offset + 3 * size + 1 and all(
        head[offset + n * size] == 0x47 for n in range(4)
    )


def _sandboxed(path: str | Path) -> tuple[str, dict]:
    """Returns the input URL and input options that let ffmpeg read this one file only.

    Raises MediaError when the file is not in a container of the allow-list.
    """
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    container = container_of(head)
    if container is None:
        raise MediaError(f"{Path(path).name} is not in a video container mailroom reads")
    options = {"f": container, "format_whitelist": container, "protocol_whitelist": "file"}
    return f"file:{Path(path).resolve()}", options


@dataclass(frozen=True)
class VideoInfo:
    """What ffprobe says about a video's first video stream and first audio stream."""

    codec: str
    profile: str | None
    pix_fmt: str | None
    bit_depth: int
    color_transfer: str | None
    width: int  # coded size, before rotation
    height: int
    rotation: int  # 0, 90, 180 or 270: the display-matrix rotation, counter-clockwise
    duration: float | None  # seconds
    audio_codec: str | None
    dolby_vision: bool = False

    @property
    def is_hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS or self.dolby_vision

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as a player shows them (portrait phone video is taller than wide)."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class WebVideoPlan:
    """How to make the web version: 'remux', 'remux_reencode_audio' or 'transcode', and why."""

    action: str
    reasons: list[str] = field(default_factory=list)
    width: int = 0  # display size of the output (even numbers)
    height: int = 0
    max_seconds: float | None = None  # the clip is longer: the web version stops here


def probe(path: str | Path, deadline: Deadline | None = None) -> VideoInfo:
    """Return the video's codec, size, rotation, duration and audio codec from ffprobe.

    Raises MediaError when the file is in no allowed container, ffprobe cannot read
    it, or it has no video stream.
    """
    url, options = _sandboxed(path)
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    for name, value in options.items():
        cmd += [f"-{name}", value]
    try:
        out = run_command([*cmd, url], timeout=PROBE_TIMEOUT, deadline=deadline)
    except ExternalProgramError as exc:
        raise _as_media_error(exc, f"cannot read video {Path(path).name}") from exc
    return parse_probe(json.loads(out))


def parse_probe(data: dict) -> VideoInfo:
    """Return a VideoInfo from ffprobe's `-show_format -show_streams` JSON."""
    streams = data.get("streams", [])
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    if not videos:
        raise MediaError("no video stream found")
    v = videos[0]
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    side = v.get("side_data_list", [])
    return VideoInfo(
        codec=v.get("codec_name", "unknown"),
        profile=v.get("profile"),
        pix_fmt=v.get("pix_fmt"),
        bit_depth=_bit_depth(v),
        color_transfer=v.get("color_transfer"),
        width=int(v.get("width", 0)),
        height=int(v.get("height", 0)),
        rotation=_rotation(v, side),
        duration=_duration(data.get("format", {}), v),
        audio_codec=audio.get("codec_name") if audio else None,
        dolby_vision=any("DOVI" in s.get("side_data_type", "") for s in side),
    )


def _bit_depth(v: dict) -> int:
    raw = v.get("bits_per_raw_sample")
    if raw and str(raw).isdigit():
        return int(raw)
    m = re.search(r"p(\d+)(le|be)?$", v.get("pix_fmt") or "")  # yuv420p10le -> 10
    return int(m.group(1)) if m else 8


def _rotation(v: dict, side: list[dict]) -> int:
    for s in side:
        if "rotation" in s:
            return round(float(s["rotation"])) % 360
    tag = v.get("tags", {}).get("rotate")  # older files / ffprobe: clockwise degrees
    return (-int(tag)) % 360 if tag and tag.lstrip("-").isdigit() else 0


def _duration(fmt: dict, v: dict) -> float | None:
    for value in (fmt.get("duration"), v.get("duration")):
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None


def plan_web_video(
    info: VideoInfo, *, short_side: int = 720, max_seconds: float = 7200.0
) -> WebVideoPlan:
    """Return whether the web version can be a remux or needs a transcode, with the reasons.

    A clip that claims to last longer than `max_seconds` gets a web version of its
    first `max_seconds`, and the plan says so.
    """
    plan = _plan(info, short_side)
    if info.duration is not None and info.duration > max_seconds:
        plan.reasons.append(f"the clip claims {info.duration:.0f} s: cut at {max_seconds:g} s")
        plan = replace(plan, max_seconds=max_seconds)
    return plan


def _plan(info: VideoInfo, short_side: int) -> WebVideoPlan:
    reasons = []
    if info.codec != "h264":
        reasons.append(f"video codec {info.codec} is not H.264")
    if info.bit_depth != 8:
        reasons.append(f"{info.bit_depth}-bit video")
    if info.pix_fmt not in SDR_420_8BIT:
        reasons.append(f"pixel format {info.pix_fmt} is not 8-bit 4:2:0")
    if info.is_hdr:
        reasons.append(f"HDR ({'Dolby Vision' if info.dolby_vision else info.color_transfer})")
    if min(info.width, info.height) > short_side:
        reasons.append(f"short side {min(info.width, info.height)} px is above {short_side} px")
    width, height = _target_size(info.display_size, short_side)
    audio_wrong = info.audio_codec is not None and info.audio_codec not in WEB_AUDIO
    if reasons:
        if audio_wrong:
            reasons.append(f"audio codec {info.audio_codec} is not AAC or MP3")
        return WebVideoPlan("transcode", reasons, width, height)
    if audio_wrong:
        reason = f"audio codec {info.audio_codec} is not AAC or MP3"
        return WebVideoPlan("remux_reencode_audio", [reason], *info.display_size)
    return WebVideoPlan("remux", [], *info.display_size)


def _target_size(display: tuple[int, int], short_side: int) -> tuple[int, int]:
    """Return the display size scaled so its short side is at most `short_side`, both even."""
    w, h = display
    scale = min(1.0, short_side / max(1, min(w, h)))
    return max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)


def make_web_video(
    src: str | Path,
    dst: str | Path,
    plan: WebVideoPlan,
    info: VideoInfo,
    *,
    crf: int = 23,
    preset: str = "veryfast",
    timeout_factor: float = 3.0,
    timeout_base: float = 60.0,
    deadline: Deadline | None = None,
) -> None:
    """Write the browser-playable MP4 (H.264 + AAC/MP3, moov before mdat) that `plan` describes.

    The time limit is `timeout_base + timeout_factor * duration` seconds (the
    duration as cut by the plan), and never past the deadline. Raises MediaError
    when ffmpeg rejects the input (corrupt, truncated), LimitExceeded past the
    deadline, and ExternalProgramError when ffmpeg is missing or hangs.
    """
    length = min(info.duration or 60.0, plan.max_seconds or float("inf"))
    timeout = timeout_base + timeout_factor * length
    with atomic_output(dst, suffix=".mp4") as tmp:
        spec = web_video_command(src, tmp, plan, info, crf=crf, preset=preset)
        _run(spec, timeout, src, deadline)


def web_video_command(src, dst, plan: WebVideoPlan, info: VideoInfo, *, crf: int, preset: str):
    """Return the ffmpeg-python output spec that makes the web version (for tests and bench).

    A transcode keeps each frame's own timestamp (`fps_mode vfr`): at a constant rate
    ffmpeg would fill a gap in the timestamps with copies of the last frame, and a
    30 KB clip whose last frame claims to be at 10 h kept x264 busy for hours.
    """
    url, options = _sandboxed(src)
    inp = ffmpeg.input(url, sn=None, dn=None, **options)
    audio = inp["a:0?"]
    common = {"movflags": "+faststart", "f": "mp4", "map_metadata": -1}
    if plan.max_seconds is not None:
        common["t"] = plan.max_seconds
    if plan.action == "remux":
        return ffmpeg.output(inp["v:0"], audio, str(dst), c="copy", **common)
    if plan.action == "remux_reencode_audio":
        return ffmpeg.output(inp["v:0"], audio, str(dst), vcodec="copy", **_aac(), **common)
    video = _sdr_filters(inp["v:0"], info).filter("scale", plan.width, plan.height)
    return ffmpeg.output(
        video, audio, str(dst), fps_mode="vfr", **_x264(crf, preset), **_aac(), **common
    )


def _x264(crf: int, preset: str) -> dict:
    return {
        "vcodec": "libx264",
        "preset": preset,
        "crf": crf,
        "pix_fmt": "yuv420p",
        "profile:v": "high",
        "color_primaries": "bt709",
        "color_trc": "bt709",
        "colorspace": "bt709",
    }


def _aac() -> dict:
    return {"acodec": "aac", "audio_bitrate": "128k"}


def _sdr_filters(stream, info: VideoInfo):
    """Return `stream` tone-mapped to 8-bit BT.709 SDR when the source is HDR.

    ffmpeg auto-rotates decoded frames before this filter chain, so the frames
    (and the output, which then carries no rotation flag) are upright.
    """
    if not info.is_hdr:
        return stream
    # zscale (libzimg) is in Debian's ffmpeg 5.1; `ffmpeg -filters` lists it.
    return (
        stream.filter("zscale", t="linear", npl=100)
        .filter("format", "gbrpf32le")
        .filter("zscale", p="bt709")
        .filter("tonemap", tonemap="hable", desat=0)
        .filter("zscale", t="bt709", m="bt709", r="tv")
        .filter("format", "yuv420p")
    )


def _run(spec, timeout: float, src, deadline: Deadline | None = None) -> bytes:
    try:
        return run_ffmpeg(spec, timeout=timeout, deadline=deadline)
    except ExternalProgramError as exc:
        raise _as_media_error(exc, f"ffmpeg cannot convert {Path(src).name}") from exc


def _as_media_error(exc: ExternalProgramError, what: str) -> Exception:
    """A non-zero exit means the file is bad (MediaError); missing or hung programs stay as they are."""
    if not exc.problem.startswith(EXITED):
        return exc
    tail = exc.stderr.strip().splitlines()[-3:]
    return MediaError(f"{what}: {' / '.join(tail) or exc.problem}")


POSTER_MIN_LUMA = 24.0  # mean luma (0-255) under which a frame counts as black


def make_poster(
    src: str | Path,
    dst_jpeg: str | Path,
    info: VideoInfo,
    *,
    size: int = 320,
    max_seconds: float = 7200.0,
    deadline: Deadline | None = None,
) -> None:
    """Write a JPEG poster (long side `size`) from the first tried moment that is not black.

    Tries 10 %, 30 %, 50 % and 0 % of the duration and keeps the first frame whose
    mean luma is above POSTER_MIN_LUMA, else the brightest one seen.
    """
    best: tuple[float, Image.Image] | None = None
    duration = min(info.duration, max_seconds) if info.duration else None
    for at in _poster_moments(duration):
        frame = _grab_frame(src, at, info, size, deadline)
        if frame is None:
            continue
        luma = ImageStat.Stat(frame.convert("L")).mean[0]
        if best is None or luma > best[0]:
            best = (luma, frame)
        if luma >= POSTER_MIN_LUMA:
            break
    if best is None:
        raise MediaError(f"no frame could be decoded from {Path(src).name}")
    with atomic_output(dst_jpeg) as tmp:
        best[1].save(tmp, "JPEG", quality=80)


def _poster_moments(duration: float | None) -> list[float]:
    if not duration:
        return [0.0]
    return [round(duration * f, 3) for f in (0.1, 0.3, 0.5)] + [0.0]


def _grab_frame(
    src, at: float, info: VideoInfo, size: int, deadline: Deadline | None
) -> Image.Image | None:
    url, options = _sandboxed(src)
    video = _sdr_filters(ffmpeg.input(url, ss=at, sn=None, dn=None, **options)["v:0"], info)
    video = video.filter("scale", size, size, force_original_aspect_ratio="decrease")
    spec = ffmpeg.output(video, "pipe:", vframes=1, f="image2pipe", vcodec="ppm")
    raw = _run(spec, PROBE_TIMEOUT + 2 * size / 100, src, deadline)
    if not raw:
        return None  # seeking past the last frame yields nothing
    with Image.open(io.BytesIO(raw)) as im:
        return im.convert("RGB")
