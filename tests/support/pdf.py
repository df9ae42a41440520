"""A text PDF as office software writes a notice: lines wrapped at the page width, several pages.

STSong-Light is one of the PDF standard CJK fonts (not embedded); the ToUnicode map
lets pdftotext and pypdf give the Chinese text back, as tests/data/labelled does.
"""

from __future__ import annotations

import re

LINE_CHARS = 30  # a 16 pt 仿宋 line on A4 holds about 28 characters
LINES_PER_PAGE = 40


def _tounicode_cmap() -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
        "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange",
    ]  # fmt: skip
    ranges = [f"<{h:02X}00> <{h:02X}FF> <{h:02X}00>" for h in range(256) if not 0xD8 <= h <= 0xDF]
    for i in range(0, len(ranges), 100):
        chunk = ranges[i : i + 100]
        lines += [f"{len(chunk)} beginbfrange", *chunk, "endbfrange"]
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode()


def wrap(text: str, width: int = LINE_CHARS) -> list[str]:
    """Returns the text cut into lines of `width` characters, as a word processor lays out
    Chinese: any character may start a line, but a Latin word (an address) stays whole."""
    lines, line = [], ""
    for token in re.findall(r"[A-Za-z0-9@._\-:/]+|.", text):
        if line and len(line) + len(token) > width:
            lines.append(line)
            line = ""
        line += token
    return [*lines, line] if line else lines


def _page_content(lines: list[str]) -> bytes:
    ops = ["BT", "/F1 14 Tf", "50 790 Td", "18 TL"]
    ops += [f"<{line.encode('utf-16-be').hex().upper()}> Tj T*" for line in lines]
    return "\n".join([*ops, "ET"]).encode()


def text_pdf(paragraphs: list[str]) -> bytes:
    """Returns a PDF of the paragraphs, each wrapped at LINE_CHARS characters."""
    lines = [piece for p in paragraphs for piece in wrap(p) or [""]]
    pages = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)]
    font, descendant, descriptor, cmap = 3, 4, 5, 6
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H "
        b"/DescendantFonts [4 0 R] /ToUnicode 6 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> "
        b"/FontDescriptor 5 0 R /DW 1000 >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
        b"/FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 "
        b"/CapHeight 880 /StemV 93 >>",
        b"<< /Length %d >>\nstream\n" % len(_tounicode_cmap()) + _tounicode_cmap() + b"\nendstream",
    ]
    assert (font, descendant, descriptor, cmap) == (3, 4, 5, 6)
    kids = []
    for page in pages:
        content = _page_content(page)
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (len(objects))
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
