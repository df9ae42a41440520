"""Which items the browser can show as they are: images it decodes, videos it plays."""

from __future__ import annotations

from storage.models import Item

IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"}
VIDEO_TYPES = {"video/mp4", "video/webm", "video/ogg"}
PLACEHOLDER = "/static/placeholder.svg"


def showable_image(item: Item) -> bool:
    return item.blob_path is not None and item.mime in IMAGE_TYPES


def playable_video(item: Item) -> bool:
    return item.blob_path is not None and item.mime in VIDEO_TYPES
