"""Triage from the UI: assign unit and kinds, single and bulk; every change audited."""

from __future__ import annotations

import re

from sqlalchemy import select

from storage.models import AuditEntry, Item, Message, SenderAddress
from tests.web.conftest import csrf_of


def _triaged(ctx) -> list[Message]:
    with ctx.db.session() as session:
        rows = session.scalars(
            select(Message).where(Message.status == "triage").order_by(Message.id)
        ).all()
        for row in rows:
            _ = row.items
        return rows


def test_queue_lists_candidates_and_clues(small_site, client_for):
    html = client_for(small_site, "editor").get("/triage").text
    for message in _triaged(small_site):
        assert f'href="/messages/{message.id}"' in html
    assert "候选" in html or "说明" in html
    assert 'action="/triage/assign"' in html


def test_editor_assigns_one_message_with_kinds(small_site, client_for):
    client = client_for(small_site, "editor")
    page = client.get("/triage")
    message = next(
        m
        for m in _triaged(small_site)
        if any(i.role == "material" and i.blob_path for i in m.items)
    )
    item = next(i for i in message.items if i.role == "material" and i.blob_path)
    response = client.post(
        "/triage/assign",
        data={
            "csrf_token": csrf_of(page.text),
            "message": str(message.id),
            "unit": "dalian",
            f"kind_{item.id}": "case",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    with small_site.db.session() as session:
        row = session.get(Message, message.id)
        assert (row.unit_code, row.status) == ("dalian", "filed")
        moved = session.get(Item, item.id)
        assert moved.kind == "case" and "大连" in moved.path and "待分拣" not in moved.path
        assert small_site.archive.abspath(moved.path).is_file()
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.target == f"message:{message.id}")
        ).first()
        assert entry.actor == "editor" and entry.created_at is not None
        learned = session.get(SenderAddress, row.from_addr.lower())
        assert learned is None or learned.unit_code == "dalian"
    html = client.get(f"/messages/{message.id}").text
    assert "editor 人工确定" in html and "修改记录" in html


def test_editor_assigns_several_messages_at_once(small_site, client_for):
    client = client_for(small_site, "admin")
    pks = [str(m.id) for m in _triaged(small_site)][:2]
    response = client.post(
        "/triage/assign",
        data={"csrf_token": csrf_of(client.get("/triage").text), "message": pks, "unit": "yingkou"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with small_site.db.session() as session:
        for pk in pks:
            assert session.get(Message, int(pk)).unit_code == "yingkou"


def test_unknown_unit_is_a_clear_error(small_site, client_for):
    client = client_for(small_site, "editor")
    pk = _triaged(small_site)[0].id
    response = client.post(
        "/triage/assign",
        data={
            "csrf_token": csrf_of(client.get("/triage").text),
            "message": str(pk),
            "unit": "atlantis",
        },
    )
    assert response.status_code == 400
    assert "atlantis" in response.text


def test_editor_changes_an_item_kind(small_site, client_for):
    client = client_for(small_site, "editor")
    with small_site.db.session() as session:
        item = session.scalars(
            select(Item).where(Item.role == "material", Item.blob_path.is_not(None))
        ).first()
    page = client.get(f"/items/{item.id}")
    response = client.post(
        f"/items/{item.id}/kind",
        data={"csrf_token": csrf_of(page.text), "kind": "summary"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with small_site.db.session() as session:
        assert session.get(Item, item.id).kind == "summary"
        assert (
            session.scalars(select(AuditEntry).where(AuditEntry.target == f"item:{item.id}"))
            .first()
            .actor
            == "editor"
        )


# -- the queue at scale: pages, filters, bulk actions on all matching, undo --------------


def _status_counts(ctx) -> dict[str, int]:
    with ctx.db.session() as session:
        rows = session.scalars(select(Message.status)).all()
    return {s: rows.count(s) for s in set(rows)}


def test_queue_is_newest_first_in_pages_with_the_total(queue_site, client_for):
    client = client_for(queue_site, "viewer")
    first = client.get("/triage").text
    assert "待分拣（120）" in first and first.count('class="triage"') == 50
    assert "第 1 / 3 页" in first and 'href="/triage?page=3"' in first
    assert first.index("来信 第0号") < first.index("来信 第1号")  # newest first
    last = client.get("/triage?page=3").text
    assert last.count('class="triage"') == 20 and "行业周报 第119号" in last
    oldest = client.get("/triage?order=old").text
    assert oldest.index("行业周报 第119号") < oldest.index("行业周报 第118号")


def test_filters_show_the_matching_count_and_keep_across_pages(queue_site, client_for):
    client = client_for(queue_site, "viewer")
    html = client.get("/triage", params={"sender": "lists.example.org"}).text
    assert '<b id="matching">30</b>' in html and html.count('class="triage"') == 30
    dated = client.get("/triage", params={"from": "2023-05-19", "to": "2023-05-20", "order": "old"})
    assert dated.text.count('class="triage"') == 6  # 7 h apart from 05-20 17:00: six
    paged = client.get("/triage", params={"sender": "example", "page": 2}).text
    assert "sender=example" in paged and "第 2 / 3 页" in paged
    bad = client.get("/triage", params={"from": "2023-13-45"})
    assert bad.status_code == 400 and "日期格式不对" in bad.text


def test_bulk_dismiss_reaches_every_message_matching_the_filter_and_undoes(queue_site, client_for):
    client = client_for(queue_site, "editor")
    page = client.get("/triage", params={"sender": "lists.example.org"}).text
    response = client.post(
        "/triage/dismiss",
        data={
            "csrf_token": csrf_of(page),
            "scope": "all",
            "sender": "lists.example.org",
            "reason": "newsletter",
            "back": "/triage?sender=lists.example.org",
        },
    )
    assert response.status_code == 200
    assert "已把 30 封邮件标为不是材料（订阅的通讯或群发通知）" in response.text
    assert _status_counts(queue_site) == {"triage": 90, "not_material": 30}
    undo = re.search(r'action="/audit/(\d+)/undo"', response.text)
    assert undo, "the success message has its 撤销 button"
    back = client.post(
        f"/audit/{undo[1]}/undo", data={"csrf_token": csrf_of(response.text), "back": "/triage"}
    )
    assert back.status_code == 200 and "已撤销" in back.text
    assert _status_counts(queue_site) == {"triage": 120}


def test_bulk_assign_of_the_ticked_messages_only(queue_site, client_for):
    client = client_for(queue_site, "editor")
    page = client.get("/triage").text
    ticked = re.findall(r'name="message" value="(\d+)" form="bulkform"', page)[:3]
    response = client.post(
        "/triage/assign",
        data={
            "csrf_token": csrf_of(page),
            "scope": "selected",
            "message": ticked,
            "unit": "dalian",
        },
    )
    assert "已把 3 封邮件归入大连市教育局" in response.text
    assert _status_counts(queue_site) == {"triage": 117, "filed": 3}


def test_viewers_cannot_dismiss(queue_site, client_for):
    client = client_for(queue_site, "viewer")
    page = client.get("/triage").text
    response = client.post(
        "/triage/dismiss", data={"csrf_token": csrf_of(page), "scope": "all", "reason": "spam"}
    )
    assert response.status_code == 403
    assert _status_counts(queue_site) == {"triage": 120}


def test_each_change_shows_in_chinese_in_the_message_history_with_its_undo(small_site, client_for):
    client = client_for(small_site, "editor")
    message = _triaged(small_site)[0]
    page = client.get(f"/messages/{message.id}").text
    done = client.post(
        "/triage/assign",
        data={
            "csrf_token": csrf_of(page),
            "message": str(message.id),
            "unit": "yingkou",
            "back": "message",
        },
    )
    assert "已把邮件归入营口市教育局" in done.text
    assert "把单位从“待分拣”改为“营口市教育局”" in done.text
    audit = re.search(r'action="/audit/(\d+)/undo"', done.text)[1]
    for english in ("assign_unit", "assigned by", "{'before'"):
        assert english not in done.text
    undone = client.post(
        f"/audit/{audit}/undo",
        data={"csrf_token": csrf_of(done.text), "back": f"/messages/{message.id}"},
    )
    assert "已撤销" in undone.text and "已撤销</span>" in undone.text
    with small_site.db.session() as session:
        assert session.get(Message, message.id).status == "triage"
    again = client.post(
        f"/audit/{audit}/undo", data={"csrf_token": csrf_of(undone.text), "back": "/"}
    )
    assert again.status_code == 409 and "已经撤销过了" in again.text


def test_dismiss_from_the_message_page(small_site, client_for):
    client = client_for(small_site, "editor")
    message = _triaged(small_site)[0]
    page = client.get(f"/messages/{message.id}").text
    assert 'action="/triage/dismiss"' in page
    done = client.post(
        "/triage/dismiss",
        data={
            "csrf_token": csrf_of(page),
            "message": str(message.id),
            "reason": "other_business",
            "back": f"/messages/{message.id}",
        },
    )
    assert "已标为不是材料（其他业务来信）" in done.text
    assert "非材料：其他业务来信" in done.text
