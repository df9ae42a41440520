"""DOCX text and pictures, read as a stream within byte and character caps.

A .docx is a zip, and the XML part holding its text is what a hostile sender inflates:
1.5 MB of DOCX whose document.xml inflates to 1.5 GiB cost 3.1 GiB of memory through
python-docx (issue 18). Here the part is inflated in chunks through a byte cap and fed
to lxml's incremental parser; each run's text is taken when its element ends and the
element is dropped at once, so memory holds one paragraph's text, whatever the size.
Ingestion (the first lines, for identification) and the media worker (the text for
search) read documents through the same function with different caps.
"""

from __future__ import annotations

import mimetypes
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from lxml import etree

from pipeline.budget import Deadline
from pipeline.errors import LimitExceeded, MediaError

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _T, _BR, _TR, _TC = (f"{_W}{t}" for t in ("p", "t", "br", "tr", "tc"))
_RUN_TEXT = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_OFFICE_DOCUMENT = "/officeDocument"
_CHUNK = 1 << 16
_SMALL_PART = 1 << 20  # parts read whole up to this (relationships, content types, most text)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
MAX_PICTURES = 200


@dataclass(frozen=True)
class DocText:
    """A document's text, and the [limits] key that cut it short (None when read whole)."""

    text: str
    cut: str | None = None


def docx_text(
    source: str | Path | IO[bytes],
    *,
    max_chars: int,
    max_unpacked_bytes: int,
    deadline: Deadline | None = None,
) -> DocText:
    """Returns the text of a .docx: one line per paragraph, table rows as tab-separated cells.

    Reading stops after `max_chars` characters or `max_unpacked_bytes` of inflated XML
    (the result then names that limit). Raises MediaError when it is no readable DOCX.
    """
    name = getattr(source, "name", source)
    deadline = deadline or Deadline.none()
    try:
        with zipfile.ZipFile(source) as package:
            main = package.getinfo(_main_part(package))
            if main.file_size <= min(_SMALL_PART, max_unpacked_bytes):
                with package.open(main) as part:
                    data = part.read(_SMALL_PART + 1)  # the directory's size may lie
                if len(data) <= _SMALL_PART:
                    return _read_whole(data, max_chars)
            with package.open(main) as part:
                return _read_text(part, max_chars, max_unpacked_bytes, deadline)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, etree.XMLSyntaxError) as exc:
        raise MediaError(f"cannot read DOCX {Path(str(name)).name}: {exc}") from exc
    except (RuntimeError, NotImplementedError, ValueError) as exc:  # encrypted, odd compression
        raise MediaError(f"cannot read DOCX {Path(str(name)).name}: {exc}") from exc


def _read_whole(data: bytes, max_chars: int) -> DocText:
    """Returns the text of a main part small enough to parse at once (most documents):
    the same events as the stream gives, without the cost of a pull parser per document."""
    reader = _TextReader(max_chars)
    root = etree.fromstring(data, _PARSER)
    reader.take(etree.iterwalk(root, events=("end",), tag=(_P, _TR)))
    if reader.full:
        return DocText(reader.text()[:max_chars], "document_max_chars")
    return DocText(reader.text())


def _read_text(part: IO[bytes], max_chars: int, max_bytes: int, deadline: Deadline) -> DocText:
    reader = _TextReader(max_chars)
    # Only paragraph and table-row ends are reported: an event per element costs Python
    # time, and 128 MiB of formatting-only XML is millions of elements.
    parser = etree.XMLPullParser(
        events=("end",), tag=(_P, _TR), resolve_entities=False, no_network=True, load_dtd=False
    )
    read = 0
    while not reader.full:
        chunk = part.read(min(_CHUNK, max_bytes - read))
        if not chunk:
            break
        read += len(chunk)
        parser.feed(chunk)
        reader.take(parser.read_events())
        deadline.check("reading the text of a DOCX")
        if read >= max_bytes:
            return DocText(reader.text()[:max_chars], "document_max_unpacked_bytes")
    if reader.full:
        return DocText(reader.text()[:max_chars], "document_max_chars")
    parser.close()
    reader.take(parser.read_events())
    return DocText(reader.text())


# The pieces of a run that are text, in document order (page and column breaks are not).
_RUN_PIECES = etree.XPath(
    "(w:r | w:hyperlink/w:r | w:ins/w:r | w:smartTag/w:r)/*[self::w:t or self::w:tab or "
    "self::w:ptab or self::w:cr or self::w:noBreakHyphen or self::w:br]",
    namespaces={"w": _W[1:-1]},
)


class _TextReader:
    """Turns paragraph and table-row ends into lines, dropping each as soon as it is read."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.lines: list[str] = []
        self.size = 0

    @property
    def full(self) -> bool:
        return self.size > self.max_chars

    def text(self) -> str:
        return "\n".join(self.lines)

    def take(self, events: Iterator[tuple[str, etree._Element]]) -> None:
        for _, element in events:
            parent = element.getparent()
            if parent is not None and parent.tag == _TC:
                continue  # a cell's paragraph: read with its row
            if element.tag == _P:
                self._line(_paragraph_text(element))
            elif parent is None or not _in_cell(parent):
                self._line(_row_text(element))  # a row of a table that is not in a cell
            else:
                continue  # a row of a table inside a cell: python-docx leaves it out too
            element.clear()  # drop what was read; the document may be gigabytes
            while element.getprevious() is not None:
                del parent[0]

    def _line(self, text: str) -> None:
        if text:
            self.lines.append(text)
            self.size += len(text) + 1


def _in_cell(element: etree._Element) -> bool:
    return element.tag == _TC or any(a.tag == _TC for a in element.iterancestors(_TC))


def _paragraph_text(paragraph: etree._Element) -> str:
    out = []
    for piece in _RUN_PIECES(paragraph):
        if piece.tag == _T:
            out.append(piece.text or "")
        elif piece.tag == _BR:  # a line break; page and column breaks are no text
            if piece.get(f"{_W}type") in (None, "textWrapping"):
                out.append("\n")
        else:
            out.append(_RUN_TEXT[piece.tag])
    return "".join(out).strip()


def _row_text(row: etree._Element) -> str:
    """Returns a table row as python-docx reads it: cells' paragraphs, cells tab-separated."""
    cells = [
        "\n".join(filter(None, map(_paragraph_text, cell.iterchildren(_P))))
        for cell in row.iterchildren(_TC)
    ]
    return "\t".join(cells).strip()


def _main_part(package: zipfile.ZipFile) -> str:
    """Returns the name of the main document part, from the package relationships."""
    try:
        rels = _small_xml(package, "_rels/.rels")
    except KeyError:
        return "word/document.xml"
    for rel in rels:
        if (rel.get("Type") or "").endswith(_OFFICE_DOCUMENT):
            return (rel.get("Target") or "word/document.xml").lstrip("/")
    return "word/document.xml"


def _small_xml(package: zipfile.ZipFile, name: str) -> etree._Element:
    with package.open(name) as handle:
        data = handle.read(_SMALL_PART + 1)
    if len(data) > _SMALL_PART:
        raise MediaError(f"{name} is over {_SMALL_PART} bytes")
    return etree.fromstring(data, _PARSER)


def docx_images(
    source: str | Path | IO[bytes], *, max_bytes: int, deadline: Deadline | None = None
) -> list[tuple[str, bytes]]:
    """Returns the pictures embedded in a .docx as (file name, bytes), in package order.

    Only /word/media/ (the package thumbnail is not content), at most MAX_PICTURES and
    `max_bytes` in all: sizes are checked from the zip's directory before a picture is
    read, and each read stops at what is left, whatever the directory claimed.
    """
    deadline = deadline or Deadline.none()
    out: list[tuple[str, bytes]] = []
    left = max_bytes
    try:
        with zipfile.ZipFile(source) as package:
            types = _content_types(package)
            for info in package.infolist():
                path = PurePosixPath("/" + info.filename)
                if path.parent != PurePosixPath("/word/media") or not _is_image(path, types):
                    continue
                if len(out) == MAX_PICTURES or info.file_size > left:
                    break
                with package.open(info) as handle:
                    data = handle.read(left + 1)
                if len(data) > left:
                    break
                left -= len(data)
                out.append((path.name, data))
                deadline.check("reading the pictures of a DOCX")
    except LimitExceeded:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, etree.XMLSyntaxError) as exc:
        raise MediaError(f"cannot read the pictures of DOCX: {exc}") from exc
    except (RuntimeError, NotImplementedError, ValueError, MediaError) as exc:
        raise MediaError(f"cannot read the pictures of DOCX: {exc}") from exc
    return out


def _content_types(package: zipfile.ZipFile) -> tuple[dict[str, str], dict[str, str]]:
    """Returns ({extension: type}, {part name: type}) from [Content_Types].xml."""
    try:
        root = _small_xml(package, "[Content_Types].xml")
    except KeyError:
        return {}, {}
    defaults = {
        (e.get("Extension") or "").lower(): e.get("ContentType") or ""
        for e in root.iter(f"{_CT}Default")
    }
    overrides = {
        e.get("PartName") or "": e.get("ContentType") or "" for e in root.iter(f"{_CT}Override")
    }
    return defaults, overrides


def _is_image(path: PurePosixPath, types: tuple[dict[str, str], dict[str, str]]) -> bool:
    defaults, overrides = types
    kind = overrides.get(str(path)) or defaults.get(path.suffix.lstrip(".").lower())
    return (kind or mimetypes.guess_type(path.name)[0] or "").startswith("image/")
