"""Document text and previews from PDFs and DOCX files built in the test."""

import io
import time

import docx
import pytest
from PIL import Image

from pipeline.budget import Deadline
from pipeline.errors import LimitExceeded, MediaError
from pipeline.media.documents import (
    OLE2_MAGIC,
    docx_images,
    docx_text,
    legacy_doc_text,
    pdf_first_page_image,
    pdf_text,
    text_preview,
)
from tests.support import media_files as files
from tests.support.hostile_media import many_page_pdf


def test_pdf_text_is_extracted(tmp_path):
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(files.pdf_file(["Annual report of the district", "education bureau 2024"]))
    text = pdf_text(pdf).text
    assert "Annual report of the district" in text and "2024" in text


def test_pdf_first_page_becomes_a_thumbnail(tmp_path):
    pdf = tmp_path / "notice.pdf"
    pdf.write_bytes(files.pdf_file(["Hello"]))
    dst = tmp_path / "thumb.jpg"
    pdf_first_page_image(pdf, dst, 200)
    im = Image.open(dst)
    assert im.format == "JPEG" and max(im.size) == 200 and im.size[0] < im.size[1]  # A4 portrait
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notice.pdf", "thumb.jpg"]


def test_corrupt_pdf_is_reported(tmp_path):
    pdf = tmp_path / "bad.pdf"
    pdf.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(MediaError, match="bad.pdf"):
        pdf_text(pdf)
    with pytest.raises(MediaError, match="cannot render PDF bad.pdf"):
        pdf_first_page_image(pdf, tmp_path / "t.jpg", 100)
    assert not (tmp_path / "t.jpg").exists()


def _docx(path):
    doc = docx.Document()
    doc.add_paragraph("关于开展2024年春季学期安全检查的通知")
    table = doc.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "学校", "第一中学"
    png = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(png, "PNG")
    png.seek(0)
    doc.add_picture(png)
    doc.save(path)
    return path


def test_docx_text_includes_paragraphs_and_tables(tmp_path):
    text = docx_text(_docx(tmp_path / "a.docx"), max_chars=10_000, max_unpacked_bytes=1 << 20).text
    assert "关于开展2024年春季学期安全检查的通知" in text
    assert "学校\t第一中学" in text


def test_docx_embedded_pictures_are_available(tmp_path):
    ((name, data),) = docx_images(_docx(tmp_path / "a.docx"), max_bytes=1 << 20)
    assert name.endswith(".png")
    assert Image.open(io.BytesIO(data)).size == (40, 30)


def test_corrupt_docx_is_reported(tmp_path):
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(MediaError, match="cannot read DOCX bad.docx"):
        docx_text(bad, max_chars=100, max_unpacked_bytes=100)


def test_legacy_doc_that_no_tool_reads_is_not_previewable(tmp_path):
    doc = tmp_path / "old.wps"
    doc.write_bytes(OLE2_MAGIC + bytes(4096))  # an OLE2 header and nothing a tool understands
    assert legacy_doc_text(doc) is None


def test_non_word_file_named_doc_is_corrupt(tmp_path):
    doc = tmp_path / "fake.doc"
    doc.write_text("plain text saved with the wrong extension")
    with pytest.raises(MediaError, match="not a Word 97-2003"):
        legacy_doc_text(doc)


def test_text_preview_collapses_whitespace_and_cuts():
    assert (
        text_preview("  各位老师：\n\n  请于周五前\t提交。 ", 100) == "各位老师： 请于周五前 提交。"
    )
    assert text_preview("一二三四五六七八九十", 5) == "一二三四…"
    assert len(text_preview("x" * 1000, 50)) == 50


def _cff_type1_pdf(text: str) -> bytes:
    """Returns a PDF whose font is an embedded CFF Type1 program (FontFile3 /Type1C) with no
    ToUnicode map and no /Encoding, as Acrobat's subset fonts are: pypdf needs fontTools to
    read its encoding."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.t2CharStringPen import T2CharStringPen
    from fontTools.ttLib import TTFont

    letters = sorted(set(text))
    names = [".notdef", *letters]
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(c): c for c in letters})
    strings = {}
    for name in names:
        pen = T2CharStringPen(600, None)
        pen.moveTo((50, 0)), pen.lineTo((550, 0)), pen.lineTo((300, 700)), pen.closePath()
        strings[name] = pen.getCharString()
    builder.setupCFF("ABCDEF+Test", {"FullName": "Test"}, strings, {})
    builder.setupHorizontalMetrics({n: (600, 50) for n in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Test", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    buffer = io.BytesIO()
    builder.save(buffer)
    cff = TTFont(io.BytesIO(buffer.getvalue())).getTableData("CFF ")
    ops = f"BT /F1 14 Tf 72 760 Td ({text}) Tj ET".encode()
    codes = [ord(c) for c in letters]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(ops) + ops + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /ABCDEF+Test /FirstChar %d /LastChar %d"
        b" /Widths [%s] /FontDescriptor 6 0 R >>"
        % (min(codes), max(codes), b" ".join(b"600" for _ in range(min(codes), max(codes) + 1))),
        b"<< /Type /FontDescriptor /FontName /ABCDEF+Test /Flags 32 /FontBBox [0 -200 1000 800]"
        b" /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 /FontFile3 7 0 R >>",
        b"<< /Subtype /Type1C /Length %d >>\nstream\n" % len(cff) + cff + b"\nendstream",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_a_pdf_with_an_embedded_cff_font_is_read_without_a_warning_per_font(tmp_path, caplog):
    path = tmp_path / "cff.pdf"
    path.write_bytes(_cff_type1_pdf("Summary of the week 2023"))
    with caplog.at_level("WARNING"):
        text = pdf_text(path).text
    assert "Summary of the week 2023" in text
    assert not [r for r in caplog.records if "fontTools" in r.getMessage()]


def test_a_pdf_of_100000_pages_is_read_up_to_the_page_cap_in_seconds(tmp_path):
    """Its document job was still running after 5 minutes and never settled."""
    pdf = tmp_path / "annex.pdf"
    pdf.write_bytes(many_page_pdf(100_000))
    started = time.monotonic()
    found = pdf_text(pdf, max_pages=200, max_chars=1_000_000)
    pdf_first_page_image(pdf, tmp_path / "thumb.jpg", 100)
    assert time.monotonic() - started < 30
    assert found.cut == "document_max_pages"
    assert found.text.count("Shared page of a very long annex") == 200
    assert Image.open(tmp_path / "thumb.jpg").size[1] == 100


def test_pdf_text_stops_at_the_character_cap(tmp_path):
    pdf = tmp_path / "annex.pdf"
    pdf.write_bytes(many_page_pdf(300))
    found = pdf_text(pdf, max_pages=1000, max_chars=5000)
    assert len(found.text) == 5000 and found.cut == "document_max_chars"


def test_a_pdf_job_past_its_deadline_is_stopped_with_the_limit_named(tmp_path):
    pdf = tmp_path / "annex.pdf"
    pdf.write_bytes(many_page_pdf(10))
    late = Deadline("media_job_seconds", 0.001)
    time.sleep(0.01)
    with pytest.raises(LimitExceeded) as stopped:
        pdf_text(pdf, deadline=late)
    assert stopped.value.limit == "media_job_seconds"
    assert stopped.value.staff.startswith("生成预览或提取文字超过0.001 秒的处理时限")
