"""Document text and previews: PDF, DOCX, legacy Word/WPS, and plain-text manuscripts.

Tools: poppler's `pdftotext` (pypdf as the fallback) and `pdftoppm` for the first-page
image, the streaming DOCX reader (pipeline/media/docx.py), and for .doc/.wps
`antiword` then `catdoc`. Every reader stops at a page, character or byte cap and
within the job's deadline: a document is never read whole just because it is big.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pipeline.budget import Deadline
from pipeline.errors import ExternalProgramError, LimitExceeded, MediaError
from pipeline.externals import run_command
from pipeline.media._files import atomic_output
from pipeline.media.docx import DocText, docx_images, docx_text

__all__ = [
    "DocText",
    "docx_images",
    "docx_text",
    "legacy_doc_text",
    "pdf_first_page_image",
    "pdf_text",
    "text_preview",
]

log = logging.getLogger(__name__)

TOOL_TIMEOUT = 60.0
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003 .doc and WPS Office .wps


def pdf_text(
    path: str | Path,
    *,
    max_pages: int = 1000,
    max_chars: int = 1_000_000,
    deadline: Deadline | None = None,
) -> DocText:
    """Return the text of the PDF's first `max_pages` pages, at most `max_chars` characters.

    pdftotext (poppler) first: it reads CJK fonts without a ToUnicode map better than
    pypdf and is far faster. pypdf is the fallback when pdftotext is missing, fails or
    finds almost nothing; the longer result wins. Raises MediaError when neither can
    read the file. The result names the limit that cut the text short, if any.
    """
    path = Path(path)
    deadline = deadline or Deadline.none()
    pages = _declared_pages(path, deadline)
    text, problem = "", None
    try:
        text = _pdftotext(path, max_pages, max_chars, deadline)
    except ExternalProgramError as exc:
        problem = exc
    # pypdf builds the list of every page before reading one (13 s for 100,000 pages):
    # it is tried only on a PDF within the page cap.
    if len(text.strip()) < 20 and (pages is None or pages <= max_pages):
        try:
            other = _pypdf_text(path, max_pages, max_chars, deadline)
        except (LimitExceeded, MediaError):
            raise
        except Exception as exc:  # noqa: BLE001 - pypdf raises many types on broken files
            if problem is not None:
                raise MediaError(f"cannot read PDF {path.name}: {exc}") from exc
            other = ""
        text = other if len(other.strip()) > len(text.strip()) else text
    elif problem is not None and not text:
        raise MediaError(f"cannot read PDF {path.name}: {problem.problem}") from problem
    if len(text) > max_chars:
        return DocText(text[:max_chars], "document_max_chars")
    if pages is not None and pages > max_pages:
        return DocText(text, "document_max_pages")
    return DocText(text)


def _pdftotext(path: Path, max_pages: int, max_chars: int, deadline: Deadline) -> str:
    # UTF-8 is at most 4 bytes a character: stop the program once it has said enough.
    cmd = ["pdftotext", "-l", str(max_pages), "-enc", "UTF-8", str(path), "-"]
    out = run_command(cmd, timeout=TOOL_TIMEOUT, deadline=deadline, max_output=4 * max_chars + 4)
    return out.decode("utf-8", errors="replace")


def _pypdf_text(path: Path, max_pages: int, max_chars: int, deadline: Deadline) -> str:
    from pypdf import PdfReader

    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise MediaError(f"{path.name} is password protected")
    texts, size = [], 0
    for number, page in enumerate(reader.pages, start=1):
        if number > max_pages or size > max_chars:
            break
        deadline.check(f"reading page {number} of a PDF")
        texts.append(page.extract_text() or "")
        size += len(texts[-1]) + 1
    return "\n".join(texts)


def _declared_pages(path: Path, deadline: Deadline) -> int | None:
    """Returns the page count the PDF declares (pdfinfo), or None when it cannot say."""
    cmd = ["pdfinfo", str(path)]
    try:
        out = run_command(cmd, timeout=TOOL_TIMEOUT, deadline=deadline, max_output=1 << 16)
    except ExternalProgramError:
        return None
    found = re.search(rb"^Pages:\s+(\d+)", out, re.MULTILINE)
    return int(found.group(1)) if found else None


def pdf_first_page_image(
    path: str | Path, dst_jpeg: str | Path, size: int = 320, deadline: Deadline | None = None
) -> None:
    """Write page 1 of the PDF as a JPEG whose long side is `size` pixels (pdftoppm)."""
    with atomic_output(dst_jpeg) as tmp:
        prefix = tmp.with_suffix("")
        cmd = ["pdftoppm", "-f", "1", "-l", "1", "-singlefile", "-jpeg"]
        cmd += ["-jpegopt", "quality=80", "-scale-to", str(size), str(path), str(prefix)]
        run_pdftoppm(cmd, path, TOOL_TIMEOUT, deadline)
        Path(f"{prefix}.jpg").replace(tmp)


def run_pdftoppm(
    cmd: list[str], path: str | Path, timeout: float, deadline: Deadline | None
) -> None:
    """Runs a pdftoppm command; a PDF it cannot draw is a MediaError with its words."""
    try:
        run_command(cmd, timeout=timeout, deadline=deadline)
    except ExternalProgramError as exc:
        if exc.problem.startswith("exited"):
            raise MediaError(f"cannot render PDF {Path(path).name}: {exc.stderr.strip()}") from exc
        raise


def legacy_doc_text(
    path: str | Path, *, max_bytes: int = 4_000_000, deadline: Deadline | None = None
) -> str | None:
    """Return the text of an old binary .doc or .wps, or None when no tool can read it.

    antiword reads Word 97-2003 .doc (Chinese too, with its UTF-8 map); catdoc is
    the fallback and also reads those WPS Office .wps files that use the Word
    binary format. Older Kingsoft WPS formats are read by neither: None. At most
    `max_bytes` of their output is read. Raises MediaError when the file is not an
    OLE2 compound document at all.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        if fh.read(8) != OLE2_MAGIC:
            # catdoc would happily print a non-Word file as "text"
            raise MediaError(f"{path.name} is not a Word 97-2003 or WPS document")
    for cmd in (["antiword", "-m", "UTF-8.txt", "-w", "0"], ["catdoc", "-d", "utf-8", "-w"]):
        try:
            out = run_command(
                [*cmd, str(path)], timeout=TOOL_TIMEOUT, deadline=deadline, max_output=max_bytes
            )
            text = out.decode("utf-8", "replace")
        except ExternalProgramError as exc:
            log.info("%s cannot read %s: %s", cmd[0], path.name, exc.problem)
            continue
        if text.strip():
            return text
    return None


def text_preview(text: str, limit: int = 500) -> str:
    """Return the text with whitespace runs collapsed, cut to `limit` characters with '…'."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)].rstrip() + "…"
