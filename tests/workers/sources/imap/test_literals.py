"""A server that sends a body shorter than the RFC822.SIZE it announced, through a real
TCP proxy in front of a real Dovecot (tests/servers/imap_proxy.py): fetched again, and
filed flagged `truncated` when it keeps happening — never silently short."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from sqlalchemy import select

from storage.models import Item, Message
from tests.servers.imap_proxy import ShorteningProxy
from tests.support import media_files as files
from tests.workers.sources.imap.test_client import config_for, make_raw
from tests.workers.sources.imap.test_poller import poll, records
from workers.sources.imap import client as imap_client

CUT = 20_000


@pytest.fixture
def photo_mail() -> bytes:
    """A message whose photo is cut when its body is (like the 94,851-byte one reported),
    with CRLF line ends, as IMAP sends it back."""
    raw = files.message("大连市活动周照片", [("合影.jpg", files.jpeg(1600, 1200), "image/jpeg")])
    return raw.replace(b"\n", b"\r\n")


def proxied(dovecot, times, cut=CUT):
    return ShorteningProxy(dovecot.port, uid=2, cut=cut, times=times).start()


def fetch_all(dovecot, port) -> list[imap_client.FetchedMessage]:
    cfg = replace(config_for(dovecot), port=port)
    client = imap_client.connect(cfg, "secret")
    try:
        imap_client.select(client, cfg, "INBOX")
        return list(imap_client.fetch_messages(client, [1, 2, 3]))
    finally:
        imap_client.close(client)


def test_a_body_cut_short_once_is_fetched_again_whole(dovecot, photo_mail, caplog):
    raws = [make_raw(1), photo_mail, make_raw(3)]
    dovecot.append_many("INBOX", raws)
    proxy = proxied(dovecot, times=1)
    caplog.set_level(logging.WARNING)
    try:
        fetched = fetch_all(dovecot, proxy.port)
    finally:
        proxy.close()
    assert proxy.shortened == 1
    assert [m.raw for m in fetched] == raws  # byte for byte, the short one replaced
    assert [m.declared_size for m in fetched] == [None, None, None]
    assert f"UID 2 came with {len(photo_mail) - CUT} bytes, but the server announced" in caplog.text


def test_a_body_longer_than_announced_once_is_fetched_again(dovecot, photo_mail):
    raws = [make_raw(1), photo_mail, make_raw(3)]
    dovecot.append_many("INBOX", raws)
    proxy = proxied(dovecot, times=1, cut=-500)
    try:
        fetched = fetch_all(dovecot, proxy.port)
    finally:
        proxy.close()
    assert proxy.shortened == 1
    assert [m.raw for m in fetched] == raws and fetched[1].declared_size is None


def test_a_body_always_cut_short_is_kept_with_the_size_announced(dovecot, photo_mail):
    dovecot.append_many("INBOX", [make_raw(1), photo_mail, make_raw(3)])
    proxy = proxied(dovecot, times=None)
    try:
        fetched = fetch_all(dovecot, proxy.port)
    finally:
        proxy.close()
    assert proxy.shortened == imap_client.SIZE_TRIES
    short = fetched[1]
    assert short.raw == photo_mail[: len(photo_mail) - CUT]
    assert short.declared_size == len(photo_mail)


def test_the_poller_files_a_message_the_server_keeps_cutting_flagged_truncated(
    dovecot, photo_mail, tmp_path, monkeypatch
):
    from tests.workers.sources.imap.test_poller import write_config
    from workers.app import open_context
    from workers.config import load_config

    dovecot.append_many("INBOX", [make_raw(1), photo_mail, make_raw(3)])
    proxy = proxied(dovecot, times=None)
    monkeypatch.setenv("MAILROOM_IMAP_PASSWORD", "secret")
    ctx = open_context(load_config(write_config(tmp_path, proxy)))
    try:
        summary = poll(ctx, ctx.config.mailboxes[0])
        assert (summary.fetched, summary.errors) == (3, [])
        with ctx.db.session() as session:
            message = session.scalar(select(Message).where(Message.subject == "大连市活动周照片"))
            assert "truncated" in message.flags
            assert f"the server sent {len(photo_mail) - CUT} of the {len(photo_mail)} bytes" in (
                message.error
            )
            photo = session.scalar(select(Item).where(Item.name == "合影.jpg"))
            assert photo is not None  # what came is filed, flagged, not dropped
        assert all(r.status != "retry" for r in records(ctx))
    finally:
        ctx.close()
        proxy.close()
