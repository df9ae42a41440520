"""Video: probe with ffprobe, decide remux or transcode (pure), make the web version and a poster.

Commands are built with ffmpeg-python and run through `pipeline.externals`, which
enforces a time limit. Needs `ffprobe` and `ffmpeg` (Debian's ffmpeg 5.1 has
libx264, AAC and the zimg-based `zscale` filter used for HDR tone-mapping).
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import ffmpeg
from PIL import Image, ImageStat

from pipeline.errors import ExternalProgramError, MediaError
from pipeline.externals import EXITED, run_command, run_ffmpeg
from pipeline.media._files import atomic_output

log = logging.getLogger(__name__)

HDR_TRANSFERS = ("smpte2084", "arib-std-b67")  # PQ (HDR10, Dolby Vision 8.1) and HLG
WEB_AUDIO = ("aac", "mp3")
SDR_420_8BIT = ("yuv420p", "yuvj420p")
PROBE_TIMEOUT = 30.0


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


def probe(path: str | Path) -> VideoInfo:
    """Return the video's codec, size, rotation, duration and audio codec from ffprobe.

    Raises MediaError when ffprobe cannot read the file or it has no video stream.
    """
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    try:
        out = run_command([*cmd, str(path)], timeout=PROBE_TIMEOUT)
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


def plan_web_video(info: VideoInfo, *, short_side: int = 720) -> WebVideoPlan:
    """Return whether the web version can be a remux or needs a transcode, with the reasons."""
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
) -> None:
    """Write the browser-playable MP4 (H.264 + AAC/MP3, moov before mdat) that `plan` describes.

    The time limit is `timeout_base + timeout_factor * duration` seconds. Raises
    MediaError when ffmpeg rejects the input (corrupt, truncated) and
    ExternalProgramError when ffmpeg is missing or hangs.
    """
    timeout = timeout_base + timeout_factor * (info.duration or 60.0)
    with atomic_output(dst, suffix=".mp4") as tmp:
        _run(web_video_command(src, tmp, plan, info, crf=crf, preset=preset), timeout, src)


def web_video_command(src, dst, plan: WebVideoPlan, info: VideoInfo, *, crf: int, preset: str):
    """Return the ffmpeg-python output spec that makes the web version (for tests and bench)."""
    inp = ffmpeg.input(str(src))
    audio = inp["a:0?"]
    common = {"movflags": "+faststart", "f": "mp4", "map_metadata": -1}
    if plan.action == "remux":
        return ffmpeg.output(inp["v:0"], audio, str(dst), c="copy", **common)
    if plan.action == "remux_reencode_audio":
        return ffmpeg.output(inp["v:0"], audio, str(dst), vcodec="copy", **_aac(), **common)
    video = _sdr_filters(inp["v:0"], info).filter("scale", plan.width, plan.height)
    return ffmpeg.output(video, audio, str(dst), **_x264(crf, preset), **_aac(), **common)


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


def _run(spec, timeout: float, src) -> bytes:
    try:
        return run_ffmpeg(spec, timeout=timeout)
    except ExternalProgramError as exc:
        raise _as_media_error(exc, f"ffmpeg cannot convert {Path(src).name}") from exc


def _as_media_error(exc: ExternalProgramError, what: str) -> Exception:
    """A non-zero exit means the file is bad (MediaError); missing or hung programs stay as they are."""
    if not exc.problem.startswith(EXITED):
        return exc
    tail = exc.stderr.strip().splitlines()[-3:]
    return MediaError(f"{what}: {' / '.join(tail) or exc.problem}")


POSTER_MIN_LUMA = 24.0  # mean luma (0-255) under which a frame counts as black


def make_poster(src: str | Path, dst_jpeg: str | Path, info: VideoInfo, *, size: int = 320) -> None:
    """Write a JPEG poster (long side `size`) from the first tried moment that is not black.

    Tries 10 %, 30 %, 50 % and 0 % of the duration and keeps the first frame whose
    mean luma is above POSTER_MIN_LUMA, else the brightest one seen.
    """
    best: tuple[float, Image.Image] | None = None
    for at in _poster_moments(info.duration):
        frame = _grab_frame(src, at, info, size)
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


def _grab_frame(src, at: float, info: VideoInfo, size: int) -> Image.Image | None:
    video = _sdr_filters(ffmpeg.input(str(src), ss=at)["v:0"], info)
    video = video.filter("scale", size, size, force_original_aspect_ratio="decrease")
    spec = ffmpeg.output(video, "pipe:", vframes=1, f="image2pipe", vcodec="ppm")
    raw = _run(spec, PROBE_TIMEOUT + 2 * size / 100, src)
    if not raw:
        return None  # seeking past the last frame yields nothing
    with Image.open(io.BytesIO(raw)) as im:
        return im.convert("RGB")
