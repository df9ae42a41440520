"""Image derivatives: a grid thumbnail and a preview from one decode, plus the metadata we index.

Pillow only. libvips is deliberately not used here: pillow-heif and pyvips each
bring their own libheif, and both loaded in one process segfault on a HEIC.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from pipeline.errors import MediaError
from pipeline.media._files import atomic_output

log = logging.getLogger(__name__)

# EXIF tags (Pillow exposes them as ints)
_ORIENTATION, _MAKE, _MODEL, _DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_EXIF_IFD, _DATETIME_ORIGINAL = 0x8769, 0x9003
_ICC_MODES = {"RGB ": "RGB", "CMYK": "CMYK", "GRAY": "L"}
# Errors Pillow and pillow-heif raise on a bad file; they become MediaError.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    RuntimeError,
    Image.DecompressionBombError,
)


@dataclass(frozen=True)
class ImageInfo:
    """What the index keeps about an image; the derivatives carry no metadata."""

    width: int  # as displayed, i.e. after the EXIF orientation is applied
    height: int
    format: str  # Pillow's format name: JPEG, PNG, GIF, WEBP, BMP, TIFF, HEIF
    taken_at: str | None  # ISO 8601 from EXIF DateTimeOriginal (or DateTime), no zone
    camera: str | None  # "Make Model" from EXIF
    orientation: int  # the EXIF orientation that was applied, 1 when none


@cache
def _register_heif() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


def make_image_derivatives(
    src_path: str | Path,
    thumb_path: str | Path,
    preview_path: str | Path,
    *,
    thumb_size: int = 320,
    preview_size: int = 1440,
    quality: int = 80,
) -> ImageInfo:
    """Return the image's metadata after writing a thumbnail and a preview JPEG.

    Both sizes are long-side limits; images smaller than a size are not enlarged.
    The picture is decoded once: a JPEG is shrunk while loading (`draft`), the
    preview is made from that, and the thumbnail from the preview. Raises
    MediaError with the decoder's reason when the file is corrupt or truncated.
    """
    try:
        with _open(Path(src_path)) as im:
            info = _read_info(im)
            if im.format == "JPEG":
                im.draft("RGB", (preview_size, preview_size))
            im.load()
            preview = _to_srgb(ImageOps.exif_transpose(im))
    except MediaError:
        raise
    except _DECODE_ERRORS as exc:
        raise MediaError(f"cannot decode image {Path(src_path).name}: {exc}") from exc
    preview.thumbnail((preview_size, preview_size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    _save_jpeg(preview, preview_path, quality)
    preview.thumbnail((thumb_size, thumb_size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    _save_jpeg(preview, thumb_path, quality)
    return info


def _open(path: Path) -> Image.Image:
    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[4:8] == b"ftyp":  # ISO base media: HEIC/HEIF/AVIF
        _register_heif()
    try:
        return Image.open(path)
    except UnidentifiedImageError as exc:
        raise MediaError(f"not an image Pillow can read: {path.name}") from exc


def _read_info(im: Image.Image) -> ImageInfo:
    exif = im.getexif()
    orientation = exif.get(_ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    width, height = im.size
    if orientation in (5, 6, 7, 8):  # these orientations swap width and height
        width, height = height, width
    taken = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    camera = " ".join(str(exif.get(t, "")).strip("\x00 ") for t in (_MAKE, _MODEL)).strip()
    return ImageInfo(width, height, im.format or "", _exif_time(taken), camera or None, orientation)


def _exif_time(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None  # cameras write "0000:00:00 00:00:00" and worse


def _to_srgb(im: Image.Image) -> Image.Image:
    """Return an RGB (or L) image in sRGB: alpha flattened on white, ICC profile applied."""
    icc = im.info.get("icc_profile")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.new("RGB", rgba.size, "white")
        im.paste(rgba, mask=rgba.getchannel("A"))
    elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")  # 16-bit grey: keep the top 8 bits
    elif im.mode not in ("RGB", "L", "CMYK"):
        im = im.convert("RGB")
    if icc:
        im = _apply_icc(im, icc)
    return im if im.mode in ("RGB", "L") else im.convert("RGB")


def _apply_icc(im: Image.Image, icc: bytes) -> Image.Image:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if _ICC_MODES.get(profile.profile.xcolor_space) != im.mode:
            return im  # the profile does not describe these pixels (flattened alpha, say)
        out_mode = "L" if im.mode == "L" else "RGB"
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(im, profile, srgb, outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.warning("ignoring unusable colour profile: %s", exc)
        return im


def _save_jpeg(im: Image.Image, dst: str | Path, quality: int) -> None:
    # No exif= / icc_profile= arguments: the derivative carries no metadata.
    with atomic_output(dst) as tmp:
        im.save(tmp, "JPEG", quality=quality)
