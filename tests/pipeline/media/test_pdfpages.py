"""A PDF's pages drawn as JPEGs by poppler, capped, numbered, and counted."""

from __future__ import annotations

import pytest
from PIL import Image

from pipeline.errors import MediaError
from pipeline.media.pdfpages import page_count, render_pages
from tests.support.pdfs import pdf_with_pages


def test_pages_are_drawn_in_order_up_to_the_cap(tmp_path):
    pdf = tmp_path / "方案.pdf"
    pdf.write_bytes(pdf_with_pages([[f"Page {n}"] for n in range(1, 13)], "app.alert('x')"))
    drawn = render_pages(pdf, tmp_path / "pages", size=300, max_pages=10)
    assert drawn.page_count == 12 and page_count(pdf) == 12
    assert [f.name for f in drawn.files] == [f"{n:03d}.jpg" for n in range(1, 11)]
    for f in drawn.files:
        with Image.open(f) as im:
            assert im.format == "JPEG" and max(im.size) == 300 and im.size[0] < im.size[1]
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == [f.name for f in drawn.files]
    first = drawn.files[0].stat().st_mtime_ns
    again = render_pages(pdf, tmp_path / "pages", size=300, max_pages=10)
    assert again.files == drawn.files and drawn.files[0].stat().st_mtime_ns == first  # kept


def test_a_broken_pdf_is_a_media_error_and_leaves_nothing(tmp_path):
    pdf = tmp_path / "bad.pdf"
    pdf.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(MediaError, match="bad.pdf"):
        render_pages(pdf, tmp_path / "pages", size=300, max_pages=10)
    assert not (tmp_path / "pages").exists() or not any((tmp_path / "pages").iterdir())
