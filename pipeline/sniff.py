"""What a part really is, judged from its bytes rather than its declared type."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

import filetype

MEDIA_TYPES = ("image", "video", "document", "text", "archive", "other")

_DOC_MIMES = {
    "application/pdf",
    "application/msword",
    "application/rtf",
    "text/rtf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/x-ole-storage",
}
_ARCHIVE_MIMES = {
    "application/zip",
    "application/x-7z-compressed",
    "application/x-rar-compressed",
    "application/vnd.rar",
    "application/gzip",
    "application/x-tar",
    "application/x-bzip2",
    "application/x-xz",
}
_DOC_EXTS = {
    ".pdf",
    ".doc",
    ".docx",
    ".wps",
    ".wpt",
    ".rtf",
    ".xls",
    ".xlsx",
    ".et",
    ".ppt",
    ".pptx",
    ".dps",
    ".odt",
    ".ods",
    ".odp",
    ".txt",
    ".md",
    ".csv",
    ".ofd",
    ".caj",
}
_ARCHIVE_EXTS = {".zip", ".7z", ".rar", ".gz", ".tgz", ".tar", ".bz2", ".xz"}
_IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
_VIDEO_EXTS = {
    ".mp4",
    ".mov",
    ".m4v",
    ".avi",
    ".wmv",
    ".mkv",
    ".flv",
    ".3gp",
    ".mpg",
    ".mpeg",
    ".ts",
    ".mts",
    ".webm",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Sniffed:
    """The sniffed MIME type and broad media class of some bytes."""

    mime: str
    media: str
    by: str  # 'magic' (from the bytes) or 'name' (from the extension) or 'declared'


def extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot > 0 else ""


def sniff(data: bytes, filename: str, declared: str = "") -> Sniffed:
    """Returns the type of the bytes: magic numbers first, then the name, then the label."""
    ext = extension(filename)
    kind = filetype.guess(data[:8192]) if data else None
    if kind is not None:
        mime = kind.mime
        if mime == "application/zip" and ext in {".docx", ".xlsx", ".pptx", ".odt"}:
            mime = mimetypes.types_map.get(ext, mime)
            return Sniffed(mime, "document", "magic")
        return Sniffed(mime, media_of(mime, ext), "magic")
    if data.startswith(_OLE_MAGIC):
        mime = mimetypes.types_map.get(ext, "application/x-ole-storage")
        return Sniffed(mime, "document", "magic")
    if data.startswith(b"%PDF"):
        return Sniffed("application/pdf", "document", "magic")
    guessed = mimetypes.guess_type("x" + ext)[0] if ext else None
    if guessed:
        return Sniffed(guessed, media_of(guessed, ext), "name")
    if ext in _DOC_EXTS:
        return Sniffed("application/octet-stream", "document", "name")
    return Sniffed(declared or "application/octet-stream", media_of(declared, ext), "declared")


def media_of(mime: str, ext: str = "") -> str:
    """Returns image, video, document, archive or other for a MIME type and extension."""
    if mime.startswith("image/") or ext in _IMAGE_EXTS:
        return "image"
    if mime.startswith("video/") or ext in _VIDEO_EXTS:
        return "video"
    if mime in _ARCHIVE_MIMES or ext in _ARCHIVE_EXTS:
        return "archive"
    if mime in _DOC_MIMES or ext in _DOC_EXTS or mime.startswith("text/"):
        return "document"
    return "other"
