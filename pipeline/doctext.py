"""Text of attached documents, for identification and classification.

Only what is cheap and in memory: DOCX (python-docx) and PDF (pypdf) first
pages. Full extraction for search happens later in the media stage.
"""

from __future__ import annotations

import io
import logging

from pipeline.message import Part
from pipeline.sniff import extension

log = logging.getLogger(__name__)
_MAX_CHARS = 3000


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
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n".join((page.extract_text() or "") for page in reader.pages[:2])
