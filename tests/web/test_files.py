"""Files by item id: Range for video, Chinese download names, unsafe types as downloads, zips."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from email.message import EmailMessage
from urllib.parse import quote

from sqlalchemy import select

from storage.models import Item
from tests.support.pdfs import pdf_with_pages
from tests.web.conftest import csrf_of
from workers.media import jobs as media_jobs
from workers.sources.inbox import ingest_paths


def test_video_answers_a_range_request_with_206_and_those_bytes(corpus_site, client_for):
    client = client_for(corpus_site)
    url = f"/items/{corpus_site.video_item_id}/video"
    whole = client.get(url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    part = client.get(url, headers={"Range": "bytes=100-299"})
    assert part.status_code == 206
    assert part.content == whole.content[100:300]
    assert part.headers["content-range"] == f"bytes 100-299/{len(whole.content)}"
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == whole.content[-50:]


def test_range_past_the_end_is_416(corpus_site, client_for):
    client = client_for(corpus_site)
    response = client.get(
        f"/items/{corpus_site.video_item_id}/video", headers={"Range": "bytes=99999999-"}
    )
    assert response.status_code == 416


def test_download_keeps_the_chinese_file_name(corpus_site, client_for):
    with corpus_site.db.session() as session:
        item = session.scalars(select(Item).where(Item.name.like("%.docx"))).first()
    response = client_for(corpus_site).get(f"/items/{item.id}/file")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(item.name, safe='')}" in disposition
    assert 'filename="' in disposition  # ASCII fallback for old clients
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_pdf_is_only_ever_a_download(corpus_site, client_for):
    # Chromium's PDF viewer would run the PDF's own JavaScript, sandbox CSP or not
    with corpus_site.db.session() as session:
        item = session.scalars(select(Item).where(Item.mime == "application/pdf")).first()
    for suffix in ("/file", "/file?inline=1"):
        response = client_for(corpus_site).get(f"/items/{item.id}{suffix}")
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment;")


def test_pdf_pages_are_served_by_number_only(small_site, client_for, tmp_path):
    mail = EmailMessage()
    mail["From"] = "a@example.com"
    mail["Subject"] = "方案"
    mail.set_content("见附件")
    pages = [[f"Page {n}"] for n in range(1, 5)]
    mail.add_attachment(
        pdf_with_pages(pages), maintype="application", subtype="pdf", filename="方案.pdf"
    )
    path = tmp_path / "pdf.eml"
    path.write_bytes(bytes(mail))
    ingest_paths(small_site, [path], label="test")
    settings = replace(small_site.config.media, pdf_pages=2)
    env = media_jobs.JobEnv(small_site.db, small_site.archive, settings)
    with small_site.db.session() as session:
        refs = media_jobs.pending(session)
    for ref in refs:
        media_jobs.run_job(env, ref.id)
    with small_site.db.session() as session:
        item = session.scalars(select(Item).where(Item.name == "方案.pdf")).one()
    client = client_for(small_site)
    html = client.get(f"/items/{item.id}").text
    assert "<iframe" not in html and f'src="/items/{item.id}/page/2"' in html
    assert "共 4 页，这里显示前 2 页" in html
    first = client.get(f"/items/{item.id}/page/1")
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    assert first.content[:3] == b"\xff\xd8\xff"
    for number in ("3", "0", "99999999999999999999"):
        assert client.get(f"/items/{item.id}/page/{number}").status_code == 404


def test_html_svg_and_script_attachments_are_only_downloads(small_site, client_for, tmp_path):
    mail = EmailMessage()
    mail["From"] = "a@example.com"
    mail["Subject"] = "附件"
    mail.set_content("见附件")
    mail.add_attachment(
        b"<html><script>alert(1)</script></html>",
        maintype="text",
        subtype="html",
        filename="页面.html",
    )
    mail.add_attachment(
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        maintype="image",
        subtype="svg+xml",
        filename="图.svg",
    )
    mail.add_attachment(b"alert(1)", maintype="application", subtype="javascript", filename="x.js")
    path = tmp_path / "unsafe.eml"
    path.write_bytes(bytes(mail))
    pk = ingest_paths(small_site, [path], label="test").outcomes[0].message_pk
    client = client_for(small_site)
    with small_site.db.session() as session:
        items = session.scalars(
            select(Item).where(Item.message_pk == pk, Item.blob_path.is_not(None))
        ).all()
        ids = [i.id for i in items if i.name.endswith((".html", ".svg", ".js"))]
    assert len(ids) == 3
    for item_id in ids:
        for suffix in ("/file", "/file?inline=1", "/preview", "/thumb"):
            response = client.get(f"/items/{item_id}{suffix}", follow_redirects=False)
            if response.status_code in (404, 307):
                continue  # no preview of it: nothing served at all
            assert response.headers["content-type"] == "application/octet-stream"
            assert response.headers["content-disposition"].startswith("attachment;")
            assert response.headers["x-content-type-options"] == "nosniff"


def test_selected_photos_download_as_one_zip(corpus_site, client_for):
    client = client_for(corpus_site)
    page = client.get("/photos")
    with corpus_site.db.session() as session:
        photos = session.scalars(
            select(Item).where(Item.media == "image", Item.role == "material").limit(3)
        ).all()
        names = {p.name for p in photos}
    response = client.post(
        "/photos/zip", data={"csrf_token": csrf_of(page.text), "item": [str(p.id) for p in photos]}
    )
    assert response.status_code == 200
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    members = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert len(members) == 3
    assert {m.split("/")[-1] for m in members} <= {n for n in names} | {
        m.split("/")[-1] for m in members if " (" in m
    }


def test_zip_without_csrf_token_is_forbidden(corpus_site, client_for):
    response = client_for(corpus_site).post("/photos/zip", data={"item": ["1"]})
    assert response.status_code == 403


def test_thumbnail_falls_back_to_a_placeholder_for_what_cannot_be_shown(corpus_site, client_for):
    with corpus_site.db.session() as session:
        heic = session.scalars(
            select(Item).where(Item.mime == "image/heic", Item.thumbnail.is_(None))
        ).first()
    if heic is None:
        return  # the media stage made thumbnails for every HEIC
    response = client_for(corpus_site).get(f"/items/{heic.id}/thumb", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"].endswith(".svg")


def test_raw_message_downloads_as_eml(corpus_site, client_for):
    response = client_for(corpus_site).get("/messages/1/raw")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert b"Subject:" in response.content or b"subject:" in response.content.lower()


def test_an_outlook_msg_is_downloaded_as_the_msg_it_came_as(tmp_path, client_for):
    from storage.models import Message
    from tests.conftest import LABELLED
    from tests.web.conftest import open_site

    source = LABELLED / "068-lntd-plan-outlook-msg.msg"
    ctx = open_site(tmp_path / "site", [source])
    try:
        with ctx.db.session() as session:
            message = session.scalars(select(Message)).one()
            pk, unit = message.id, message.unit_code
        assert unit == "lntd"
        response = client_for(ctx, "viewer").get(f"/messages/{pk}/raw")
        assert response.status_code == 200 and response.content == source.read_bytes()
        assert f"message-{pk}.msg" in response.headers["content-disposition"]
    finally:
        ctx.close()
