"""Image derivatives: a grid thumbnail and a preview from one decode, plus the metadata we index.

Pillow only. libvips is deliberately not used here: pillow-heif and pyvips each
bring their own libheif, and both loaded in one process segfault on a HEIC.

Memory: a JPEG is decoded already reduced (`draft`: libjpeg scales by 1/2 to 1/8 while
decoding, so a 200-megapixel photo decodes at about 3 megapixels); other formats are
decoded whole, so their size is checked against `max_pixels` from the header, before
anything is decoded, and shrunk to the preview size before any colour work, so the
picture is held once at full size and never copied at that size.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from PIL import Image, ImageCms, UnidentifiedImageError

from pipeline import budget
from pipeline.errors import MediaError
from pipeline.media._files import atomic_output

log = logging.getLogger(__name__)
# Pillow's own bomb check refuses anything over ~179 megapixels at open, before draft()
# could shrink a JPEG, so a 200-megapixel phone photo would be "corrupt". The caller's
# max_pixels, checked after draft(), is the budget instead.
Image.MAX_IMAGE_PIXELS = None
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

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
    max_pixels: int = 150_000_000,
) -> ImageInfo:
    """Return the image's metadata after writing a thumbnail and a preview JPEG.

    Both sizes are long-side limits; images smaller than a size are not enlarged.
    The picture is decoded once: a JPEG is shrunk while loading (`draft`), the
    preview is made from that, and the thumbnail from the preview. Raises
    MediaError with the decoder's reason when the file is corrupt or truncated,
    and LimitExceeded (image_max_pixels) when more than `max_pixels` would be decoded.
    """
    try:
        with _open(Path(src_path)) as im:
            size = im.size
            if im.format == "JPEG":
                im.draft("RGB", (preview_size, preview_size))
            _check_pixels(im, max_pixels)  # first: a PNG's getexif() decodes the whole picture
            info = _read_info(im, size)
            im.load()
            preview = _to_srgb(_upright(_shrunk(im, preview_size), info.orientation))
    except MediaError:
        raise
    except _DECODE_ERRORS as exc:
        if "out of memory" in str(exc):  # a decoder's failed allocation, under a memory cap
            raise MemoryError(str(exc)) from exc
        raise MediaError(f"cannot decode image {Path(src_path).name}: {exc}") from exc
    _save_jpeg(preview, preview_path, quality)
    preview.thumbnail((thumb_size, thumb_size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    _save_jpeg(preview, thumb_path, quality)
    return info


def _check_pixels(im: Image.Image, max_pixels: int) -> None:
    """Raises LimitExceeded when decoding `im` at its (drafted) size would exceed the budget."""
    width, height = im.size
    if width * height > max_pixels:
        raise budget.exceeded(
            "image_max_pixels",
            f"image of {width}x{height} pixels is over {max_pixels} pixels",
            budget.pixels_zh(max_pixels),
            f"{width}×{height} 像素",
        )


def _shrunk(im: Image.Image, size: int) -> Image.Image:
    """Returns the decoded picture at most `size` px on its long side, in a mode resize keeps.

    Palette and 16-bit pictures are converted first (resizing a palette picks nearest
    pixels); everything else is reduced in place, before any full-size copy is made.
    """
    if im.mode in ("P", "PA", "1"):
        transparent = im.mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if transparent else "RGB")
    elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")  # 16-bit grey: keep the top 8 bits
    if max(im.size) > size:
        im.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return im


def _upright(im: Image.Image, orientation: int) -> Image.Image:
    """Returns the picture turned as its EXIF orientation says (read before decoding)."""
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


def _open(path: Path) -> Image.Image:
    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[4:8] == b"ftyp":  # ISO base media: HEIC/HEIF/AVIF
        _register_heif()
    try:
        return Image.open(path)
    except UnidentifiedImageError as exc:
        raise MediaError(f"not an image Pillow can read: {path.name}") from exc


def _read_info(im: Image.Image, size: tuple[int, int]) -> ImageInfo:
    """Returns what the index keeps; `size` is the stored size (draft() may have shrunk im)."""
    exif = im.getexif()
    orientation = exif.get(_ORIENTATION, 1)
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    width, height = size
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
