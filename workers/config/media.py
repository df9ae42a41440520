"""The [media] section: worker processes, thumbnail and preview sizes, web-video settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers.config.reader import Reader

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower")


@dataclass(frozen=True)
class MediaSettings:
    """The [media] section of config.toml, validated."""

    workers: int = 2  # worker processes for images and documents
    video_workers: int = 1  # worker processes for video transcodes
    thumb_size: int = 320  # long side of grid thumbnails, px
    preview_size: int = 1440  # long side of previews, px
    jpeg_quality: int = 80
    video_short_side: int = 720  # web video is scaled down to this short side
    crf: int = 23  # libx264 quality (lower is better and bigger)
    preset: str = "veryfast"  # libx264 speed (ultrafast makes files ~4x larger)
    timeout_factor: float = 3.0  # ffmpeg time limit: 60 s + this x the video's duration
    pdf_pages: int = 30  # PDF pages drawn as pictures for the web UI (it never opens PDFs)


def parse_media(r: Reader) -> MediaSettings:
    """Returns the [media] settings; raises ConfigError naming a bad key."""
    section = r.table("media")
    section.only(MediaSettings.__dataclass_fields__.keys())
    values: dict[str, Any] = {}
    for name, default in MediaSettings().__dict__.items():
        if name not in section.data:
            continue
        value = section.data[name]
        if isinstance(default, str):
            ok = isinstance(value, str) and value in PRESETS
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        else:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        if not ok:
            want = {str: f"one of {', '.join(PRESETS)}", float: "a positive number"}.get(
                type(default), "a whole number of at least 1"
            )
            raise section.fail(name, f"must be {want}, not {value!r}")
        values[name] = float(value) if isinstance(default, float) else value
    if values.get("jpeg_quality", 80) > 100:
        raise section.fail("jpeg_quality", "must be at most 100")
    return MediaSettings(**values)
