"""非材料 in the web UI: each message with its reason in Chinese, and the one-step way back."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storage.models import Message
from tests.conftest import LABELLED
from tests.web.conftest import csrf_of, open_site

NAMES = [
    "053-auto-reply.eml",
    "065-spam-invoice-unknown-sender.eml",
    "066-spam-training-ad-unsubscribe.eml",
    "067-chaoyang-manuscript-bulk-gateway.eml",
]


@pytest.fixture
def spam_site(tmp_path):
    ctx = open_site(tmp_path / "spam", [LABELLED / n for n in NAMES])
    yield ctx
    ctx.close()


def _pk(ctx, subject_start: str) -> int:
    with ctx.db.session() as session:
        return session.scalars(
            select(Message.id).where(Message.subject.startswith(subject_start))
        ).one()


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_not_material_messages_are_listed_with_their_reason_in_chinese(spam_site, client_for):
    html = client_for(spam_site, "viewer").get("/not-material").text
    text = _text(html)
    assert "非材料（3）" in text
    assert text.count("垃圾邮件或群发广告") == 2 and "自动回复" in text
    assert "代开发票" in text and "群发退订信头" in text  # the signals behind the verdict
    assert not re.search(r"\b(spam|auto_reply|header:)", text)  # codes stay in exports and logs
    assert '/material"' not in html  # a viewer has no button to change it
    assert "朝阳市活动周宣传稿" not in text  # a known unit's domain is never spam


def test_spam_stays_searchable(spam_site, client_for):
    html = client_for(spam_site, "viewer").get("/search", params={"q": "增值税发票"}).text
    assert "代开各类增值税发票" in html


def test_an_editor_moves_spam_back_in_one_step(spam_site, client_for):
    client = client_for(spam_site, "editor")
    pk = _pk(spam_site, "代开各类")
    page = client.get(f"/messages/{pk}").text
    assert "非材料：垃圾邮件或群发广告" in _text(page) and "这是材料" in page
    response = client.post(
        f"/messages/{pk}/material", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert response.status_code == 303
    with spam_site.db.session() as session:
        message = session.get(Message, pk)
        assert (message.status, message.is_material, message.flags) == ("triage", True, [])
    assert f'href="/messages/{pk}"' in client.get("/triage").text
    after = _text(client.get(f"/messages/{pk}").text)
    assert "已由人工改为材料" in after and "这是材料" not in after
    again = client.post(
        f"/messages/{pk}/material", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert again.status_code == 303  # a second click changes nothing
    assert "非材料（2）" in _text(client.get("/not-material").text)


def test_a_viewer_cannot_move_a_message_back(spam_site, client_for):
    client = client_for(spam_site, "viewer")
    pk = _pk(spam_site, "代开各类")
    token = csrf_of(client.get("/not-material").text)
    response = client.post(f"/messages/{pk}/material", data={"csrf_token": token})
    assert response.status_code == 403
    with spam_site.db.session() as session:
        assert session.get(Message, pk).status == "not_material"


def test_dashboard_counts_not_material_mail(spam_site, client_for):
    html = client_for(spam_site, "viewer").get("/").text
    assert re.search(r'href="/not-material"><b>3</b>', html)
