"""The mail-HTML cleaner: no data: links (the page would open sender-made HTML), inline pictures kept."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from web.security import sanitise_html
from workers.sources.inbox import ingest_paths

PIXEL = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@pytest.mark.parametrize(
    "link",
    [
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:text/html,<script>alert(1)</script>",
        " data:text/html,x",
        "da&#x09;ta:text/html,x",
        "data&#x0A;:text/html,x",
        "data:image/svg+xml,<svg onload=alert(1)>",
    ],
)
def test_data_links_are_dropped(link):
    cleaned = sanitise_html(f'<p><a href="{link}">点这里</a></p>')
    assert "点这里" in cleaned and "href" not in cleaned and "data" not in cleaned.lower()


def test_inline_pictures_and_web_links_stay():
    cleaned = sanitise_html(
        f'<img src="{PIXEL}" alt="图"><a href="https://www.ln.gov.cn/">链接</a>'
    )
    assert f'src="{PIXEL}"' in cleaned and 'href="https://www.ln.gov.cn/"' in cleaned


def test_message_page_shows_no_data_link(small_site, client_for, tmp_path):
    mail = EmailMessage()
    mail["From"] = "a@evil.example"
    mail["Subject"] = "通知"
    mail.set_content("纯文本")
    mail.add_alternative(
        f'<p><a href="data:text/html;base64,PHNjcmlwdD4=">查看</a><img src="{PIXEL}"></p>',
        subtype="html",
    )
    path = tmp_path / "data-link.eml"
    path.write_bytes(bytes(mail))
    pk = ingest_paths(small_site, [path], label="test").outcomes[0].message_pk
    html = client_for(small_site).get(f"/messages/{pk}").text
    body = html.split('class="mailbody">')[1].split("</div>")[0]
    assert "查看" in body and "data:text" not in body and f'src="{PIXEL}"' in body
