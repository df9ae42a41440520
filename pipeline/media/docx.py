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

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from lxml import etree

from pipeline.budget import Deadline
from pipeline.errors import LimitExceeded, MediaError

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _R, _T, _BR, _TR, _TC = (f"{_W}{t}" for t in ("p", "r", "t", "br", "tr", "tc"))
_RUN_TEXT = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_OFFICE_DOCUMENT = "/officeDocument"
_CHUNK = 1 << 16
_SMALL_PART = 1 << 20  # relationship and content-type parts are read whole up to this
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
    try:
        with zipfile.ZipFile(source) as package, package.open(_main_part(package)) as part:
            return _read_text(part, max_chars, max_unpacked_bytes, deadline or Deadline.none())
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, etree.XMLSyntaxError) as exc:
        raise MediaError(f"cannot read DOCX {Path(str(name)).name}: {exc}") from exc
    except (RuntimeError, NotImplementedError, ValueError) as exc:  # encrypted, odd compression
        raise MediaError(f"cannot read DOCX {Path(str(name)).name}: {exc}") from exc


def _read_text(part: IO[bytes], max_chars: int, max_bytes: int, deadline: Deadline) -> DocText:
    reader = _TextReader(max_chars)
    parser = etree.XMLPullParser(
        events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False
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
            return DocText(reader.text(), "document_max_unpacked_bytes")
    if reader.full:
        return DocText(reader.text()[:max_chars], "document_max_chars")
    parser.close()
    reader.take(parser.read_events())
    return DocText(reader.text())


class _TextReader:
    """Turns the parser's start/end events into lines, dropping each element as it ends."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.lines: list[str] = []
        self.size = 0
        self.run: list[str] = []  # the text of the paragraph being read
        self.cells: list[list[str]] = []  # paragraphs of the table cells being read
        self.rows: list[list[str]] = []  # cells of the table rows being read
        self.tags: list[str] = []

    @property
    def full(self) -> bool:
        return self.size > self.max_chars

    def text(self) -> str:
        return "\n".join(self.lines)

    def take(self, events: Iterator[tuple[str, etree._Element]]) -> None:
        for event, element in events:
            if event == "start":
                self.tags.append(element.tag)
                if element.tag == _TC:
                    self.cells.append([])
                elif element.tag == _TR:
                    self.rows.append([])
                continue
            self.tags.pop()
            self._end(element)
            element.clear()  # drop what was read; the document may be gigabytes
            while element.getprevious() is not None:
                del element.getparent()[0]

    def _end(self, element: etree._Element) -> None:
        tag = element.tag
        in_run = bool(self.tags) and self.tags[-1] == _R
        if tag == _T and in_run:
            self.run.append(element.text or "")
        elif tag == _BR and in_run:  # a line break; page and column breaks are no text
            if element.get(f"{_W}type") in (None, "textWrapping"):
                self.run.append("\n")
        elif tag in _RUN_TEXT and in_run:
            self.run.append(_RUN_TEXT[tag])
        elif tag == _P:
            self._line("".join(self.run).strip())
            self.run = []
        elif tag == _TC and self.cells:
            cell = "\n".join(self.cells.pop())
            if self.rows:
                self.rows[-1].append(cell)
        elif tag == _TR and self.rows:
            self._line("\t".join(self.rows.pop()).strip())

    def _line(self, text: str) -> None:
        if not text:
            return
        if self.cells:  # a paragraph (or a nested table's row) inside a table cell
            self.cells[-1].append(text)
            return
        self.lines.append(text)
        self.size += len(text) + 1


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
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


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
    kind = overrides.get(str(path)) or defaults.get(path.suffix.lstrip(".").lower(), "")
    return kind.startswith("image/")
