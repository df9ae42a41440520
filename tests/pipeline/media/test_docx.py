"""DOCX text read as a stream: a part that inflates to gigabytes costs a few megabytes."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from pipeline.budget import Deadline
from pipeline.errors import MediaError
from pipeline.media.docx import _read_text, docx_images, docx_text
from tests.support.hostile_media import inflating_docx
from tests.support.measure import measured
from tests.support.media_files import docx_file


def test_a_docx_inflating_to_gigabytes_of_text_stops_at_the_character_cap(tmp_path):
    """1.5 MB whose document.xml inflates to 1.5 GiB took 3.1 GiB of memory (256 MiB here;
    the full size runs in bench/bench_limits.py)."""
    path = inflating_docx(tmp_path / "bomb.docx", 256 * 1024**2, level=1)
    found = measured(
        f"docx_text({str(path)!r}, max_chars=1_000_000, max_unpacked_bytes=64 * 1024**2).cut",
        setup="from pipeline.media.docx import docx_text",
    )
    assert found["value"] == "'document_max_chars'"
    assert found["grown_mib"] < 60 and found["seconds"] < 20


def test_a_docx_of_formatting_without_text_stops_at_the_unpacked_byte_cap(tmp_path):
    path = inflating_docx(tmp_path / "bomb.docx", 64 * 1024**2, text=False, level=1)
    found = measured(
        f"docx_text({str(path)!r}, max_chars=1_000_000, max_unpacked_bytes=4 * 1024**2)",
        setup="from pipeline.media.docx import docx_text",
    )
    assert found["value"] == "DocText(text='', cut='document_max_unpacked_bytes')"
    assert found["grown_mib"] < 60 and found["seconds"] < 20


def test_paragraphs_tables_breaks_and_tabs_read_as_python_docx_reads_them(tmp_path):
    import docx

    doc = docx.Document()
    doc.add_paragraph("关于开展活动周的通知")
    run = doc.add_paragraph().add_run("第一行")
    run.add_break()
    run.add_text("第二行\t附表")
    table = doc.add_table(rows=2, cols=2)
    for r, row in enumerate((("单位", "大连市教育局"), ("联系人", "王芳"))):
        for c, value in enumerate(row):
            table.rows[r].cells[c].text = value
    doc.add_paragraph("大连市教育局")
    doc.save(tmp_path / "a.docx")
    found = docx_text(tmp_path / "a.docx", max_chars=10_000, max_unpacked_bytes=1 << 20)
    assert found.cut is None
    with zipfile.ZipFile(tmp_path / "a.docx") as package:  # the streaming path, for big parts
        xml = package.read("word/document.xml")
    streamed = _read_text(io.BytesIO(xml), 10_000, 1 << 20, Deadline.none())
    assert streamed == found
    assert found.text.splitlines() == [
        "关于开展活动周的通知",
        "第一行",
        "第二行\t附表",
        "单位\t大连市教育局",
        "联系人\t王芳",
        "大连市教育局",
    ]


def test_the_character_cap_cuts_the_text(tmp_path):
    path = tmp_path / "a.docx"
    path.write_bytes(docx_file("大连市职业教育活动周 " * 500))
    found = docx_text(path, max_chars=100, max_unpacked_bytes=1 << 20)
    assert len(found.text) == 100 and found.cut == "document_max_chars"


def _with_pictures(sizes: list[int]) -> bytes:
    """A DOCX package holding PNG pictures of these byte sizes under word/media/."""
    buffer = io.BytesIO()
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "PNG")
    with (
        zipfile.ZipFile(io.BytesIO(docx_file("图"))) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package,
    ):
        for info in source.infolist():
            if not info.filename.startswith("word/media/"):
                package.writestr(info, source.read(info))
        for n, size in enumerate(sizes, start=1):
            package.writestr(f"word/media/image{n}.png", png.getvalue().ljust(size, b"\0"))
    return buffer.getvalue()


def test_pictures_are_read_within_their_byte_budget(tmp_path):
    path = tmp_path / "p.docx"
    path.write_bytes(_with_pictures([1000, 2000, 50_000, 1000]))
    names = [name for name, _ in docx_images(path, max_bytes=10_000)]
    assert names == ["image1.png", "image2.png"]  # the third would pass the budget: no more
    assert len(docx_images(path, max_bytes=1 << 20)) == 4


def test_a_broken_docx_is_a_media_error(tmp_path):
    path = tmp_path / "bad.docx"
    path.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(MediaError, match="cannot read DOCX bad.docx"):
        docx_text(path, max_chars=100, max_unpacked_bytes=100)
