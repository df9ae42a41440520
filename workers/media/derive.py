"""Derivatives for one item: decide by its media which pipeline stages to run, and run them.

`derive()` reads the original from the archive and writes thumbnails, previews and
web videos under `.derived/<sha>/` (named by content, so a duplicate reuses them);
it returns a `Derived` that `apply_derived()` copies onto the Item. A file the
decoder rejects is a result (`corrupt` with the decoder's reason), not a failure;
a missing program or a hung ffmpeg raises, and the job is recorded as failed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.charsets import decode_bytes, without_nul
from pipeline.errors import MediaError
from pipeline.sniff import extension
from storage import layout
from storage.archive import Archive
from storage.models import Item
from workers.config import MediaSettings

# PIL and the media stages are imported by the functions that run them: the job
# queue, the poller and the config check import this module for its settings and
# job kinds, and should not pay for loading the decoders.
if TYPE_CHECKING:
    from pipeline.media import video

# Job kinds and the order they run in: thumbnails first, so a message's grid fills
# in before its videos finish transcoding.
PRIORITY = {"thumbs": 0, "document": 10, "video": 20}
_PDF, _DOCX, _LEGACY, _TEXT = "pdf", "docx", "legacy", "text"
_DOCUMENT_EXTS = {
    ".pdf": _PDF,
    ".docx": _DOCX,
    ".doc": _LEGACY,
    ".wps": _LEGACY,
    ".wpt": _LEGACY,
    ".txt": _TEXT,
}
MAX_TEXT_FILE = 20 * 1024 * 1024  # a .txt larger than this is not a manuscript
MAX_TEXT_CHARS = 1_000_000  # the search index needs the words, not a 900-page annex whole
NOT_PREVIEWABLE = "no program on this machine reads this format (antiword and catdoc tried)"


@dataclass
class Derived:
    """What the media stages made for an item (paths relative to the archive root)."""

    thumbnail: str | None = None
    preview: str | None = None
    web_video: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    status: str | None = None  # corrupt or encrypted when the decoder refused the file
    error: str | None = None


@dataclass(frozen=True)
class Source:
    """The item fields derive() needs, read before the (long) work so no session stays open."""

    name: str
    media: str
    sha256: str
    blob_path: str


def job_kinds(item: Item) -> list[str]:
    """Returns the jobs an item needs: thumbs, video, document, or none."""
    if item.status != "ok" or item.blob_path is None or not item.sha256:
        return []
    if item.media == "image":
        return ["thumbs"]
    if item.media == "video":
        return ["thumbs", "video"]
    if item.media == "text" or (item.media == "document" and _doc_type(item.name, None)):
        return ["document"]
    return []


def derive(kind: str, src: Source, archive: Archive, settings: MediaSettings) -> Derived:
    """Returns the derivatives of one kind for one item, after writing their files."""
    path = archive.abspath(src.blob_path)
    try:
        if kind == "thumbs" and src.media == "image":
            return _image(path, src, archive, settings)
        if kind == "thumbs" and src.media == "video":
            return _poster(path, src, archive, settings)
        if kind == "video":
            return _web_video(path, src, archive, settings)
        if kind == "document":
            return _document(path, src, archive, settings)
    except MediaError as exc:
        reason = str(exc)
        status = "encrypted" if "password protected" in reason else "corrupt"
        return Derived(status=status, error=reason)
    raise MediaError(f"no {kind} job for {src.media} items")


def apply_derived(item: Item, result: Derived) -> None:
    """Copies what derive() made onto the item (the original is never touched)."""
    for name in ("thumbnail", "preview", "web_video"):
        if getattr(result, name) is not None:
            setattr(item, name, getattr(result, name))
    if result.meta:  # a new dict, so the JSON is saved
        item.meta = {**(item.meta or {}), **_without_nul(result.meta)}
    if result.text is not None:
        item.text = without_nul(result.text[:MAX_TEXT_CHARS])
    if result.status is not None:
        item.status, item.error = result.status, result.error


def _without_nul(value: Any) -> Any:
    """Returns meta with NUL taken out of its strings (EXIF fields and PDF text carry them)."""
    if isinstance(value, str):
        return without_nul(value)
    if isinstance(value, dict):
        return {key: _without_nul(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_without_nul(inner) for inner in value]
    return value


def _out(archive: Archive, src: Source, name: str) -> tuple[str, Path]:
    rel = layout.derived_path(src.sha256, name)
    return rel, archive.abspath(rel)


# -- images and video -------------------------------------------------------------


def _image(path: Path, src: Source, archive: Archive, s: MediaSettings) -> Derived:
    from pipeline.media.images import make_image_derivatives

    thumb_rel, thumb = _out(archive, src, "thumb.jpg")
    preview_rel, preview = _out(archive, src, "preview.jpg")
    info = make_image_derivatives(
        path,
        thumb,
        preview,
        thumb_size=s.thumb_size,
        preview_size=s.preview_size,
        quality=s.jpeg_quality,
    )
    meta = {
        "width": info.width,
        "height": info.height,
        "format": info.format,
        "taken_at": info.taken_at,
        "camera": info.camera,
        "orientation": info.orientation,
    }
    return Derived(thumbnail=thumb_rel, preview=preview_rel, meta=meta)


def _video_meta(info: video.VideoInfo) -> dict[str, Any]:
    width, height = info.display_size
    return {
        "codec": info.codec,
        "profile": info.profile,
        "pix_fmt": info.pix_fmt,
        "bit_depth": info.bit_depth,
        "hdr": info.is_hdr,
        "width": width,
        "height": height,
        "rotation": info.rotation,
        "duration": info.duration,
        "audio_codec": info.audio_codec,
    }


def _poster(path: Path, src: Source, archive: Archive, s: MediaSettings) -> Derived:
    """Probes the video and makes its poster (preview size) and a thumbnail from it."""
    from PIL import Image

    from pipeline.media import video

    info = video.probe(path)
    preview_rel, preview = _out(archive, src, "poster.jpg")
    thumb_rel, _ = _out(archive, src, "thumb.jpg")
    if not preview.exists():
        video.make_poster(path, preview, info, size=s.preview_size)
    with Image.open(preview) as im:
        im.thumbnail((s.thumb_size, s.thumb_size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        im.convert("RGB").save(buffer, "JPEG", quality=s.jpeg_quality)
    archive.put_bytes(thumb_rel, buffer.getvalue())
    return Derived(thumbnail=thumb_rel, preview=preview_rel, meta=_video_meta(info))


def _web_video(path: Path, src: Source, archive: Archive, s: MediaSettings) -> Derived:
    """Makes the browser-playable MP4 (remux when possible, else H.264 transcode)."""
    from pipeline.media import video

    info = video.probe(path)
    plan = video.plan_web_video(info, short_side=s.video_short_side)
    rel, dst = _out(archive, src, "web.mp4")
    if not dst.exists():  # the same bytes came before: its web version is ours
        video.make_web_video(
            path, dst, plan, info, crf=s.crf, preset=s.preset, timeout_factor=s.timeout_factor
        )
    meta = {
        **_video_meta(info),
        "web_action": plan.action,
        "web_reasons": plan.reasons,
        "web_width": plan.width,
        "web_height": plan.height,
    }
    return Derived(web_video=rel, meta=meta)


# -- documents and text -----------------------------------------------------------


def _doc_type(name: str, path: Path | None) -> str | None:
    """Returns pdf, docx or legacy from the bytes when given, else from the name."""
    if path is not None:
        with open(path, "rb") as handle:
            head = handle.read(8)
        if head.startswith(b"%PDF"):
            return _PDF
        from pipeline.media import documents

        if head == documents.OLE2_MAGIC:
            return _LEGACY
    return _DOCUMENT_EXTS.get(extension(name))


def _document(path: Path, src: Source, archive: Archive, s: MediaSettings) -> Derived:
    from pipeline.media import documents

    kind = _TEXT if src.media == "text" else _doc_type(src.name, path)
    if kind == _TEXT:
        # the 正文.txt body item is UTF-8; attached .txt manuscripts are often GBK
        with open(path, "rb") as handle:
            text = decode_bytes(handle.read(MAX_TEXT_FILE), None)
        return Derived(text=text, meta={"text_preview": documents.text_preview(text)})
    if kind == _PDF:
        return _pdf(path, src, archive, s)
    if kind == _DOCX:
        return _docx(path, src, archive)
    if kind == _LEGACY:
        text = documents.legacy_doc_text(path)
        if text is None:
            return Derived(meta={"previewable": False, "preview_note": NOT_PREVIEWABLE})
        return Derived(text=text, meta={"text_preview": documents.text_preview(text)})
    return Derived(meta={"previewable": False, "preview_note": "not a PDF, DOCX or Word file"})


def _pdf(path: Path, src: Source, archive: Archive, s: MediaSettings) -> Derived:
    from pipeline.media import documents

    text = documents.pdf_text(path)
    thumb_rel, thumb = _out(archive, src, "thumb.jpg")
    preview_rel, preview = _out(archive, src, "preview.jpg")
    documents.pdf_first_page_image(path, thumb, size=s.thumb_size)
    documents.pdf_first_page_image(path, preview, size=s.preview_size)
    return Derived(
        thumbnail=thumb_rel,
        preview=preview_rel,
        text=text,
        meta={"text_preview": documents.text_preview(text), **_pdf_pages(path, src, archive, s)},
    )


def _pdf_pages(path: Path, src: Source, archive: Archive, s: MediaSettings) -> dict[str, Any]:
    """Draws the PDF's pages for the web UI; returns meta "pages" (paths) and "page_count"."""
    from pipeline.media.pdfpages import render_pages

    folder_rel = layout.derived_path(src.sha256, "pages")
    # a folder, not an object: made under the root (abspath would fetch it from S3)
    drawn = render_pages(
        path,
        archive.root / folder_rel,
        size=s.preview_size,
        max_pages=s.pdf_pages,
        quality=s.jpeg_quality,
    )
    pages = [f"{folder_rel}/{f.name}" for f in drawn.files]
    for rel in pages:  # with an S3 store: uploaded before the index names them
        archive.publish(rel)
    return {"pages": pages, "page_count": drawn.page_count}


def _docx(path: Path, src: Source, archive: Archive) -> Derived:
    from pipeline.media import documents

    text = documents.docx_text(path)
    pictures = []
    for number, (name, data) in enumerate(documents.docx_images(path), start=1):
        rel, _ = _out(archive, src, f"pictures/{number:02d}-{layout.safe_component(name)}")
        pictures.append(archive.put_bytes(rel, data))
    return Derived(
        text=text, meta={"text_preview": documents.text_preview(text), "pictures": pictures}
    )
