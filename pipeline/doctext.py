"""Text of attached documents, for identification and classification.

DOCX is read in memory (its XML, with lxml); the first two PDF pages go through
pdftotext and old Word .doc/.wps through antiword/catdoc, from a temporary file. Full extraction for search happens later in the media stage.
"""

from __future__ import annotations

import io
import logging
import zipfile

from lxml import etree

from pipeline.charsets import without_nul
from pipeline.message import Part
from pipeline.sniff import extension

log = logging.getLogger(__name__)
_MAX_CHARS = 3000
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def document_texts(parts: list[Part]) -> dict[str, str]:
    """Returns {file name: first text} for the DOCX and PDF parts that can be read."""
    texts = {}
    for part in parts:
        ext = extension(part.filename)
        try:
            if ext == ".docx":
                text = _docx(part.payload)
            elif ext == ".pdf" or part.payload.startswith(b"%PDF"):
                text = _pdf(part.payload)
            elif ext in (".doc", ".wps") and part.payload.startswith(_OLE2):
                text = _legacy(part.payload, ext)
            else:
                continue
        except Exception as exc:  # a broken document is reported by the media stage
            log.debug("no text from %s: %s", part.filename, exc)
            continue
        if text.strip():
            texts[part.filename] = without_nul(text[:_MAX_CHARS])
    return texts


def _docx(data: bytes) -> str:
    """Return the body paragraphs' text, as python-docx's Document.paragraphs gives it.

    Read straight from the main part's XML with lxml: python-docx loads the whole
    package (styles, numbering, every part) and took 8 ms a document, most of the
    filing time of a message with a DOCX; this takes well under 1 ms.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        body = etree.fromstring(package.read(_main_part(package)), _XML).find(f"{_W}body")
    lines: list[str] = []
    size = 0
    for paragraph in body.iterchildren(f"{_W}p") if body is not None else ():
        text = "".join(_run_text(run) for run in _RUNS(paragraph)).strip()
        if text:
            lines.append(text)
            size += len(text)
        if size > _MAX_CHARS:
            break
    return "\n".join(lines)


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_RUNS = etree.XPath("w:r | w:hyperlink/w:r", namespaces={"w": _W[1:-1]})
_RUN_TEXT = {f"{_W}tab": "\t", f"{_W}ptab": "\t", f"{_W}cr": "\n", f"{_W}noBreakHyphen": "-"}
_OFFICE_DOCUMENT = "/officeDocument"


def _run_text(run) -> str:
    out = []
    for element in run.iterchildren():
        if element.tag == f"{_W}t":
            out.append(element.text or "")
        elif element.tag == f"{_W}br":  # a line break; page and column breaks are no text
            if element.get(f"{_W}type") in (None, "textWrapping"):
                out.append("\n")
        else:
            out.append(_RUN_TEXT.get(element.tag, ""))
    return "".join(out)


def _main_part(package: zipfile.ZipFile) -> str:
    """Return the name of the main document part, from the package relationships."""
    try:
        rels = etree.fromstring(package.read("_rels/.rels"), _XML)
    except KeyError:
        return "word/document.xml"
    for rel in rels:
        if (rel.get("Type") or "").endswith(_OFFICE_DOCUMENT):
            return (rel.get("Target") or "word/document.xml").lstrip("/")
    return "word/document.xml"


def _pdf(data: bytes) -> str:
    # pdftotext reads Chinese PDFs in milliseconds; pypdf's font-map parsing takes
    # most of a second on them, so it is only the fallback when poppler is missing.
    import tempfile

    from pipeline.externals import program_available, run_command

    if program_available("pdftotext"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
            handle.write(data)
            handle.flush()
            out = run_command(
                ["pdftotext", "-l", "2", "-enc", "UTF-8", handle.name, "-"], timeout=30
            )
        return out.decode("utf-8", errors="replace")
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n".join((page.extract_text() or "") for page in reader.pages[:2])


def _legacy(data: bytes, ext: str) -> str:
    import tempfile

    from pipeline.media.documents import legacy_doc_text

    with tempfile.NamedTemporaryFile(suffix=ext) as handle:
        handle.write(data)
        handle.flush()
        return legacy_doc_text(handle.name) or ""
