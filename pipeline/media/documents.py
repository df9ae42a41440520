"""Document text and previews: PDF, DOCX, legacy Word/WPS, and plain-text manuscripts.

Tools: pypdf (falls back to poppler's `pdftotext`), poppler's `pdftoppm` for the
first-page image, python-docx, and for .doc/.wps `antiword` then `catdoc`.
"""

from __future__ import annotations

import logging
import re
import zipfile
from pathlib import Path

from pipeline.errors import ExternalProgramError, MediaError
from pipeline.externals import run_command
from pipeline.media._files import atomic_output

log = logging.getLogger(__name__)

TOOL_TIMEOUT = 60.0
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Word 97-2003 .doc and WPS Office .wps


def pdf_text(path: str | Path) -> str:
    """Return the PDF's text, from pypdf or, when that yields nothing, from pdftotext.

    pdftotext handles CJK fonts without a ToUnicode map better than pypdf; the
    longer of the two results wins. Raises MediaError when neither can read it.
    """
    path = Path(path)
    text, pypdf_error = "", None
    try:
        text = _pypdf_text(path)
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on broken files
        pypdf_error = exc
    if len(text.strip()) >= 20 and pypdf_error is None:
        return text
    try:
        other = run_command(
            ["pdftotext", "-enc", "UTF-8", str(path), "-"], timeout=TOOL_TIMEOUT
        ).decode("utf-8", errors="replace")
    except ExternalProgramError as exc:
        if pypdf_error is not None:
            raise MediaError(f"cannot read PDF {path.name}: {pypdf_error}") from exc
        return text
    return other if len(other.strip()) > len(text.strip()) else text


def _pypdf_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise MediaError(f"{path.name} is password protected")
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def pdf_first_page_image(path: str | Path, dst_jpeg: str | Path, size: int = 320) -> None:
    """Write page 1 of the PDF as a JPEG whose long side is `size` pixels (pdftoppm)."""
    with atomic_output(dst_jpeg) as tmp:
        prefix = tmp.with_suffix("")
        cmd = ["pdftoppm", "-f", "1", "-l", "1", "-singlefile", "-jpeg"]
        cmd += ["-jpegopt", "quality=80", "-scale-to", str(size), str(path), str(prefix)]
        try:
            run_command(cmd, timeout=TOOL_TIMEOUT)
        except ExternalProgramError as exc:
            if exc.problem.startswith("exited"):
                raise MediaError(
                    f"cannot render PDF {Path(path).name}: {exc.stderr.strip()}"
                ) from exc
            raise
        Path(f"{prefix}.jpg").replace(tmp)


def _open_docx(path: Path):
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        return docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise MediaError(f"cannot read DOCX {path.name}: {exc}") from exc
    except Exception as exc:  # lxml.etree.XMLSyntaxError and friends
        raise MediaError(f"cannot read DOCX {path.name}: {exc}") from exc


def docx_text(path: str | Path) -> str:
    """Return the text of a .docx: paragraphs, then table cells row by row."""
    doc = _open_docx(Path(path))
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def docx_images(path: str | Path) -> list[tuple[str, bytes]]:
    """Return the pictures embedded in a .docx as (file name, bytes), in package order."""
    doc = _open_docx(Path(path))
    return [
        (Path(str(part.partname)).name, part.blob)
        for part in doc.part.package.iter_parts()
        # /word/media/ only: the package thumbnail (docProps/thumbnail.jpeg) is not content
        if part.content_type.startswith("image/") and str(part.partname).startswith("/word/media/")
    ]


def legacy_doc_text(path: str | Path) -> str | None:
    """Return the text of an old binary .doc or .wps, or None when no tool can read it.

    antiword reads Word 97-2003 .doc (Chinese too, with its UTF-8 map); catdoc is
    the fallback and also reads those WPS Office .wps files that use the Word
    binary format. Older Kingsoft WPS formats are read by neither: None.
    Raises MediaError when the file is not an OLE2 compound document at all.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        if fh.read(8) != OLE2_MAGIC:
            # catdoc would happily print a non-Word file as "text"
            raise MediaError(f"{path.name} is not a Word 97-2003 or WPS document")
    for cmd in (["antiword", "-m", "UTF-8.txt", "-w", "0"], ["catdoc", "-d", "utf-8", "-w"]):
        try:
            text = run_command([*cmd, str(path)], timeout=TOOL_TIMEOUT).decode("utf-8", "replace")
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
