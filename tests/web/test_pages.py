"""Every page renders in Chinese for a signed-in user; bad ids are 404; mail HTML is safe."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlalchemy import select

from storage.models import Item, Message
from workers.sources.inbox import ingest_paths


@pytest.mark.parametrize(
    "path, text",
    [
        ("/", "报送情况"),
        ("/browse", "浏览文件"),
        ("/browse?unit=dalian&kind=photo", "照片"),
        ("/browse?day=2023-05-15", "浏览文件"),
        ("/units", "沈阳市教育局"),
        ("/units/shenyang", "沈阳市教育局"),
        ("/photos", "打包下载"),
        ("/search", "搜索"),
        ("/search?q=活动周&status=filed", "找到"),
        ("/triage", "待分拣"),
        ("/reports", "的报送情况"),
    ],
)
def test_pages_render_for_a_viewer(corpus_site, client_for, path, text):
    response = client_for(corpus_site).get(path)
    assert response.status_code == 200
    assert text in response.text
    assert "Content-Security-Policy" in response.headers


def test_csp_forbids_inline_script(corpus_site, client_for):
    csp = client_for(corpus_site).get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]


def test_pages_hold_no_inline_script(corpus_site, client_for):
    client = client_for(corpus_site, "editor")
    for path in ("/", "/photos", "/triage", "/messages/1", "/items/1"):
        html = client.get(path).text
        assert "<script>" not in html and " onclick=" not in html


def test_dashboard_shows_the_tracker_with_late_and_missing(corpus_site, client_for):
    html = client_for(corpus_site).get("/").text
    assert "活动周方案" in html and "逾期" in html and "未报送" in html
    assert "待分拣" in html


def test_message_page_shows_sender_subject_items_and_evidence(corpus_site, client_for):
    with corpus_site.db.session() as session:
        message = session.scalars(
            select(Message).where(Message.status == "filed").order_by(Message.id)
        ).first()
        subject, sender, first_item = message.subject, message.from_addr, message.items[0].name
    html = client_for(corpus_site).get(f"/messages/{message.id}").text
    assert subject in html and sender in html and first_item in html
    assert "单位判断的依据" in html and "把握" in html


def test_item_page_of_a_photo_shows_a_preview(corpus_site, client_for):
    with corpus_site.db.session() as session:
        item = session.scalars(select(Item).where(Item.mime == "image/jpeg")).first()
    html = client_for(corpus_site).get(f"/items/{item.id}").text
    assert f'src="/items/{item.id}/preview"' in html and "下载原件" in html


def test_item_page_of_a_video_has_a_player(corpus_site, client_for):
    html = client_for(corpus_site).get(f"/items/{corpus_site.video_item_id}").text
    assert (
        f'<video id="player" controls preload="metadata" src="/items/{corpus_site.video_item_id}/video"'
        in html
    )


def test_item_page_of_a_document_shows_its_text(corpus_site, client_for):
    with corpus_site.db.session() as session:
        item = session.scalars(
            select(Item).where(Item.media == "document", Item.text != "")
        ).first()
    html = client_for(corpus_site).get(f"/items/{item.id}").text
    assert "提取的文字" in html


def test_photo_grid_loads_thumbnails_lazily(corpus_site, client_for):
    html = client_for(corpus_site).get("/photos").text
    assert html.count('loading="lazy"') >= 10
    assert 'type="checkbox" name="item"' in html


@pytest.mark.parametrize(
    "path",
    [
        "/items/..%2F..%2Fetc%2Fpasswd",
        "/items/%2Fetc%2Fpasswd/file",
        "/items/1%2F..%2F..%2Fraw",
        "/items/..%2Fraw/file",
        "/items/-1",
        "/items/0/file",
        "/items/99999999999999999999999/file",
        "/items/9999999/file",
        "/messages/abc",
        "/messages/..%2F1/raw",
        "/units/..%2F..%2Fetc",
        "/reports/file/..%2F..%2Fdata%2Fmailroom.db",
        "/reports/file/999",
        "/static/..%2F..%2Fapp.py",
    ],
)
def test_path_like_and_unknown_ids_are_404(corpus_site, client_for, path):
    response = client_for(corpus_site).get(path)
    assert response.status_code == 404
    assert "root:" not in response.text


def test_mail_html_renders_without_script_handlers_or_remote_images(
    small_site, client_for, tmp_path
):
    mail = EmailMessage()
    mail["From"] = "王老师 <wang@evil.example.com>"
    mail["To"] = "zcc1.sjyt@ln.gov.cn"
    mail["Subject"] = "活动周稿件"
    mail["Date"] = "Mon, 15 May 2023 10:00:00 +0800"
    mail.set_content("纯文本正文")
    mail.add_alternative(
        '<p>正文<script>alert("x")</script><img src="x" onerror="alert(1)">'
        '<img src="https://tracker.example.com/p.gif"><a href="javascript:alert(2)">链接</a>'
        '<div onmouseover="alert(3)">悬停</div></p>',
        subtype="html",
    )
    path = tmp_path / "xss.eml"
    path.write_bytes(bytes(mail))
    outcome = ingest_paths(small_site, [path], label="test").outcomes[0]
    html = client_for(small_site).get(f"/messages/{outcome.message_pk}").text
    body = html.split('class="mailbody">')[1].split("</div>")[0]
    assert "正文" in body
    for bad in (
        "<script",
        "alert(",
        "onerror",
        "onmouseover",
        "tracker.example.com",
        "javascript:",
    ):
        assert bad not in body
