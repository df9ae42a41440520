"""Text of attached documents, for identification and classification.

DOCX is read in memory (python-docx); the first two PDF pages go through
pdftotext and old Word .doc/.wps through antiword/catdoc, from a temporary file. Full extraction for search happens later in the media stage.
"""

from __future__ import annotations

import io
import logging

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
            texts[part.filename] = text[:_MAX_CHARS]
    return texts


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    lines = []
    for paragraph in document.paragraphs:
        if paragraph.text.strip():
            lines.append(paragraph.text.strip())
        if sum(len(line) for line in lines) > _MAX_CHARS:
            break
    return "\n".join(lines)


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
