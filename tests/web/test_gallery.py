"""Pictures where people look: the message page's thumbnails, duplicates once, damage described."""

from __future__ import annotations

import re

from sqlalchemy import select

from storage.models import Item, Message
from tests.conftest import MAIL
from workers.sources.inbox import ingest_paths


def _message(ctx, subject_part: str) -> Message:
    with ctx.db.session() as session:
        message = session.scalars(
            select(Message).where(Message.subject.contains(subject_part)).order_by(Message.id)
        ).first()
        _ = message.items
        return message


def test_message_page_shows_a_thumbnail_of_every_photo(corpus_site, client_for):
    with corpus_site.db.session() as session:
        pk = session.scalar(
            select(Message.id).where(Message.source.contains("003-jinzhou-photos-subject-tag"))
        )
        photos = session.scalars(
            select(Item.id).where(
                Item.message_pk == pk, Item.media == "image", Item.role == "material"
            )
        ).all()
    client = client_for(corpus_site)
    html = client.get(f"/messages/{pk}").text
    assert len(photos) >= 2 and f"照片和视频（{len(photos)}）" in html
    for item_id in photos:
        assert f'src="/items/{item_id}/thumb"' in html
        thumb = client.get(f"/items/{item_id}/thumb")
        assert thumb.status_code == 200 and thumb.headers["content-type"].startswith("image/")


def test_a_photo_sent_again_is_shown_once_with_where_else_it_came(corpus_site, client_for):
    with corpus_site.db.session() as session:
        again = session.scalar(
            select(Message.id).where(Message.source.contains("043-jinzhou-photos-resent"))
        )
        first = session.scalar(
            select(Message.id).where(Message.source.contains("003-jinzhou-photos-subject-tag"))
        )
        copies = session.scalars(
            select(Item).where(Item.message_pk == again, Item.duplicate_of_id.is_not(None))
        ).all()
        roots = {c.duplicate_of_id for c in copies}
    assert copies
    html = client_for(corpus_site).get(f"/messages/{again}").text
    assert f'href="/messages/{first}"' in html.split("也见于", 1)[1]
    for root in roots:  # the first copy's thumbnail, once
        assert html.count(f'src="/items/{root}/thumb"') == 1
    grid = client_for(corpus_site).get("/photos?unit=jinzhou").text
    for copy in copies:
        assert f'value="{copy.id}"' not in grid  # the grid lists each photo once


def test_a_damaged_file_is_described_with_what_to_do_not_a_broken_picture(small_site, client_for):
    (outcome,) = ingest_paths(small_site, [MAIL / "damaged-attachment.eml"], label="t").outcomes
    with small_site.db.session() as session:
        bad = session.scalars(
            select(Item).where(Item.message_pk == outcome.message_pk, Item.status == "corrupt")
        ).one()
    client = client_for(small_site)
    html = client.get(f"/messages/{outcome.message_pk}").text
    assert f'src="/items/{bad.id}/thumb"' not in html
    assert "附件在传输中损坏，无法还原" in html and "请联系该单位重新发送这个文件" in html
    assert "Defect" not in html and "base64" not in html
    item_page = client.get(f"/items/{bad.id}").text
    assert 'id="photo"' not in item_page and "请联系该单位重新发送这个文件" in item_page
    grid = client.get("/photos").text
    cell = re.search(rf'value="{bad.id}".*?</li>', grid, re.DOTALL)[0]
    assert "<img" not in cell and "文件损坏" in cell
