"""Triage from the UI: assign unit and kinds, single and bulk; every change audited."""

from __future__ import annotations

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
