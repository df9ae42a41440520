"""Text of attached documents, for identification and classification.

DOCX is read from memory as a stream (its XML, with lxml, through a byte cap); the
first two PDF pages go through pdftotext and old Word .doc/.wps through
antiword/catdoc, from a temporary file. Full extraction for search happens later in
the media stage.
"""

from __future__ import annotations

import io
import logging

from pipeline.budget import Deadline
from pipeline.charsets import without_nul
from pipeline.errors import LimitExceeded
from pipeline.media.docx import docx_text
from pipeline.message import Part
from pipeline.sniff import extension

log = logging.getLogger(__name__)
_MAX_CHARS = 3000
# The first 3,000 characters of a real document are in its first few hundred KB of
# XML; a part that inflates further is not read on at ingest (the media job reads more).
_MAX_XML = 4 * 1024 * 1024
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def document_texts(parts: list[Part], deadline: Deadline | None = None) -> dict[str, str]:
    """Returns {file name: first text} for the DOCX and PDF parts that can be read.

    Each document is read only as far as its first _MAX_CHARS characters (a DOCX's
    XML through a byte cap, a PDF's first two pages), within the message's deadline.
    """
    deadline = deadline or Deadline.none()
    texts = {}
    for part in parts:
        ext = extension(part.filename)
        try:
            if ext == ".docx":
                text = _docx(part.payload, deadline)
            elif ext == ".pdf" or part.payload.startswith(b"%PDF"):
                text = _pdf(part.payload, deadline)
            elif ext in (".doc", ".wps") and part.payload.startswith(_OLE2):
                text = _legacy(part.payload, ext, deadline)
            else:
                continue
        except LimitExceeded:
            raise
        except Exception as exc:  # a broken document is reported by the media stage
            log.debug("no text from %s: %s", part.filename, exc)
            continue
        if text.strip():
            texts[part.filename] = without_nul(text[:_MAX_CHARS])
        deadline.check(f"reading the text of {part.filename}")
    return texts


def _docx(data: bytes, deadline: Deadline) -> str:
    """Return the first paragraphs' text, read as a stream (pipeline/media/docx.py).

    Straight from the main part's XML: python-docx loads the whole package (styles,
    numbering, every part) and took 8 ms a document, most of the filing time of a
    message with a DOCX; this takes well under 1 ms.
    """
    found = docx_text(
        io.BytesIO(data), max_chars=_MAX_CHARS, max_unpacked_bytes=_MAX_XML, deadline=deadline
    )
    return found.text


def _pdf(data: bytes, deadline: Deadline) -> str:
    # pdftotext reads Chinese PDFs in milliseconds; pypdf's font-map parsing takes
    # most of a second on them, so it is only the fallback when poppler is missing.
    import tempfile

    from pipeline.externals import program_available, run_command

    if program_available("pdftotext"):
        with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
            handle.write(data)
            handle.flush()
            cmd = ["pdftotext", "-l", "2", "-enc", "UTF-8", handle.name, "-"]
            out = run_command(cmd, timeout=30, deadline=deadline, max_output=4 * _MAX_CHARS)
        return out.decode("utf-8", errors="replace")
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    # reader.pages lists every page first: only a PDF declaring a few pages is read here.
    if int(reader.trailer["/Root"]["/Pages"].get("/Count", 0)) > 1000:
        return ""
    return "\n".join((page.extract_text() or "") for page in reader.pages[:2])


def _legacy(data: bytes, ext: str, deadline: Deadline) -> str:
    import tempfile

    from pipeline.media.documents import legacy_doc_text

    with tempfile.NamedTemporaryFile(suffix=ext) as handle:
        handle.write(data)
        handle.flush()
        return legacy_doc_text(handle.name, max_bytes=4 * _MAX_CHARS, deadline=deadline) or ""
