"""PDFs built in the test: several pages of text, optionally with JavaScript run on opening."""

from __future__ import annotations

from tests.support.media_files import pdf_of


def pdf_with_pages(pages: list[list[str]], open_script: str | None = None) -> bytes:
    """Returns an A4 PDF, one page per list of lines (Helvetica), with a correct xref table.

    open_script becomes the document's /OpenAction JavaScript (a viewer runs it as the
    file opens: `app.alert(...)` shows a dialog in Chromium's PDF viewer).
    """
    count = len(pages)
    # objects: 1 catalog, 2 page tree, 3 font, 4 action, then a page and its contents each
    kids = " ".join(f"{5 + 2 * n} 0 R" for n in range(count))
    action = " /OpenAction 4 0 R" if open_script else ""
    objects = [
        f"<< /Type /Catalog /Pages 2 0 R{action} >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Type /Action /S /JavaScript /JS ({open_script or ''}) >>",
    ]
    for n, lines in enumerate(pages):
        ops = "BT /F1 14 Tf 72 760 Td " + " ".join(f"({t}) Tj 0 -20 Td" for t in lines) + " ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {6 + 2 * n} 0 R"
            " /Resources << /Font << /F1 3 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream")
    return pdf_of(objects)
