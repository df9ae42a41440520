"""PDFs built in the test: several pages of text, optionally with JavaScript run on opening."""

from __future__ import annotations


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
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out
