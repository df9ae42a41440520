"""workers.sources.imap.client against a real Dovecot: connecting, fetching, faults, after-actions."""

import datetime as dt
import time
from dataclasses import replace

import pytest

from pipeline.errors import MailboxError
from workers.config.mailboxes import AfterAction, MailboxConfig
from workers.sources.imap import client as imap_client


def make_raw(n: int, body: str = "请查收附件。") -> bytes:
    """Return a small realistic message with a Chinese subject (CRLF line ends)."""
    text = (
        f"From: =?UTF-8?B?5rW35reA5Yy65a6e6aqM5bCP5a2m?= <school{n}@example.cn>\r\n"
        f"To: zcc@example.cn\r\n"
        f"Subject: =?UTF-8?B?5rWL6K+V?= {n}\r\n"
        f"Message-ID: <msg{n}@example.cn>\r\n"
        f"Date: Mon, 4 Mar 2024 09:00:00 +0800\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n"
        f"{body} {n}\r\n"
    )
    return text.encode("utf-8")


def config_for(server, **overrides) -> MailboxConfig:
    cfg = MailboxConfig(
        name="test",
        host="127.0.0.1",
        port=server.port,
        security="none",
        username="alice",
        password_env="MAILROOM_IMAP_PASSWORD",
        timeout_seconds=10,
    )
    return replace(cfg, **overrides)


@pytest.fixture
def connected(dovecot):
    client = imap_client.connect(config_for(dovecot), "secret")
    yield client
    imap_client.close(client)


def test_appended_message_comes_back_byte_for_byte_with_its_internaldate(dovecot, connected):
    raw = make_raw(1) + b"8-bit GB18030 line: \xc4\xe3\xba\xc3\r\n"
    when = dt.datetime(2024, 3, 4, 9, 30, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    uid = dovecot.append("INBOX", raw, internaldate=when)
    state = imap_client.select(connected, config_for(dovecot), "INBOX")
    assert state.uidnext == uid + 1
    fetched = list(imap_client.fetch_messages(connected, [uid]))
    assert [(m.uid, m.raw) for m in fetched] == [(uid, raw)]
    assert fetched[0].internaldate == when
    assert fetched[0].internaldate.tzinfo == dt.UTC


def test_fetching_does_not_mark_messages_seen(dovecot, connected):
    uid = dovecot.append("INBOX", make_raw(1))
    imap_client.select(connected, config_for(dovecot), "INBOX", readonly=False)
    list(imap_client.fetch_messages(connected, [uid]))
    assert b"\\Seen" not in dovecot.flags("INBOX")[uid]


def test_many_messages_are_fetched_in_bounded_batches_in_uid_order(dovecot, connected):
    raws = [make_raw(n, body="x" * (n * 100)) for n in range(30)]
    uids = dovecot.append_many("INBOX", raws)
    imap_client.select(connected, config_for(dovecot), "INBOX")
    got = list(imap_client.fetch_messages(connected, uids, batch_size=4, max_batch_bytes=5000))
    assert [m.uid for m in got] == uids
    assert [m.raw for m in got] == raws


def test_new_uids_after_the_last_uid_is_empty_despite_star_matching(dovecot, connected):
    uids = dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])
    state = imap_client.select(connected, config_for(dovecot), "INBOX")
    # without UIDNEXT the server is asked, and its "n:*" matches the last message
    assert imap_client.new_uids(connected, "INBOX", uids[-1]) == []
    assert imap_client.new_uids(connected, "INBOX", uids[-1], state.uidnext) == []
    assert imap_client.new_uids(connected, "INBOX", uids[0]) == uids[1:]
    assert imap_client.new_uids(connected, "INBOX", 0, state.uidnext) == uids


def test_unsolicited_fetch_responses_are_ignored(dovecot, connected):
    uids = dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])
    imap_client.select(connected, config_for(dovecot), "INBOX")
    other = dovecot.client()
    other.select_folder("INBOX")
    other.add_flags(uids, [b"\\Flagged"])  # our session hears of it as untagged FETCHes
    other.logout()
    got = list(imap_client.fetch_messages(connected, [uids[1]]))
    assert [m.uid for m in got] == [uids[1]]


def test_implicit_tls_with_the_servers_certificate(dovecot_tls):
    cfg = config_for(
        dovecot_tls, port=dovecot_tls.ssl_port, security="ssl", ca_file=dovecot_tls.cert
    )
    uid = dovecot_tls.append("INBOX", make_raw(1))
    client = imap_client.connect(cfg, "secret")
    try:
        imap_client.select(client, cfg, "INBOX")
        assert [m.raw for m in imap_client.fetch_messages(client, [uid])] == [make_raw(1)]
    finally:
        imap_client.close(client)


def test_starttls_with_the_servers_certificate(dovecot_tls):
    cfg = config_for(dovecot_tls, security="starttls", ca_file=dovecot_tls.cert)
    client = imap_client.connect(cfg, "secret")
    try:
        assert imap_client.select(client, cfg, "INBOX").exists == 0
    finally:
        imap_client.close(client)


def test_untrusted_certificate_is_a_clear_tls_error(dovecot_tls):
    cfg = config_for(dovecot_tls, port=dovecot_tls.ssl_port, security="ssl")
    with pytest.raises(MailboxError, match=r"TLS certificate of 127\.0\.0\.1:\d+ is not trusted"):
        imap_client.connect(cfg, "secret")


def test_ssl_against_a_plain_port_is_a_clear_tls_error(dovecot):
    cfg = config_for(dovecot, security="ssl")
    with pytest.raises(MailboxError, match=r"TLS failure .* check \[mailbox\] security"):
        imap_client.connect(cfg, "secret")


def test_plain_text_against_a_tls_port_times_out_with_a_clear_line(dovecot_tls):
    cfg = config_for(dovecot_tls, port=dovecot_tls.ssl_port, timeout_seconds=1)
    with pytest.raises(MailboxError, match=r"did not answer within 1 s .*ssl vs starttls"):
        imap_client.connect(cfg, "secret")


def test_wrong_password_names_what_to_check(dovecot):
    with pytest.raises(MailboxError) as err:
        imap_client.connect(config_for(dovecot), "wrong")
    assert str(err.value).startswith(
        "cannot log in to 127.0.0.1 as alice: check MAILROOM_IMAP_PASSWORD"
    )
    assert "wrong" not in str(err.value)


def test_connection_refused_names_what_to_check(dovecot):
    dovecot.kill()
    with pytest.raises(MailboxError) as err:
        imap_client.connect(config_for(dovecot), "secret")
    assert str(err.value) == (
        f"cannot connect to 127.0.0.1:{dovecot.port}: "
        "check [mailbox] host/port and that the server is up"
    )


def test_missing_folder_names_the_folder_and_what_exists(dovecot, connected):
    dovecot.create_folder("Reports")
    with pytest.raises(imap_client.FolderMissingError) as err:
        imap_client.select(connected, config_for(dovecot), "Submissions")
    assert "folder 'Submissions' does not exist" in str(err.value)
    assert "INBOX, Reports" in str(err.value)


def test_connection_dropped_mid_fetch_is_a_connection_lost_error(dovecot, connected):
    uids = dovecot.append_many("INBOX", [make_raw(n) for n in range(5)])
    cfg = config_for(dovecot)
    imap_client.select(connected, cfg, "INBOX")
    messages = imap_client.fetch_messages(connected, uids, batch_size=2)
    with pytest.raises(imap_client.ConnectionLostError, match="dropped while fetching"):
        with imap_client.translate_errors(cfg, "fetching"):
            next(messages)
            dovecot.kill()
            list(messages)


@pytest.mark.parametrize(
    ("action", "flag"),
    [(AfterAction("seen"), b"\\Seen"), (AfterAction("flag", "$Filed"), b"$Filed")],
)
def test_after_action_sets_the_flag_on_just_those_messages(dovecot, connected, action, flag):
    uids = dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])
    imap_client.select(connected, config_for(dovecot), "INBOX", readonly=False)
    imap_client.apply_after_action(connected, "INBOX", uids[:2], action)
    flags = dovecot.flags("INBOX")
    assert [flag in flags[uid] for uid in uids] == [True, True, False]


@pytest.mark.parametrize("server", ["dovecot", "dovecot_without_move"])
def test_after_action_move_moves_just_those_messages(request, server):
    dovecot = request.getfixturevalue(server)
    cfg = config_for(dovecot)
    uids = dovecot.append_many("INBOX", [make_raw(n) for n in range(3)])
    client = imap_client.connect(cfg, "secret")
    try:
        assert (b"MOVE" in client.capabilities()) == (server == "dovecot")
        imap_client.select(client, cfg, "INBOX", readonly=False)
        imap_client.apply_after_action(client, "INBOX", uids[:2], AfterAction("move", "Filed"))
    finally:
        imap_client.close(client)
    assert list(dovecot.flags("INBOX")) == [uids[2]]
    assert len(dovecot.flags("Filed")) == 2


def test_uid_set_is_compact():
    assert imap_client.uid_set([7, 1, 2, 3, 9, 10]) == "1:3,7,9:10"


def test_a_huge_message_gets_a_batch_of_its_own():
    sizes = {1: 10, 2: 10, 3: 10_000, 4: 10}
    assert imap_client.plan_batches(sizes, batch_size=50, max_bytes=100) == [[1, 2], [3], [4]]


def test_client_identifies_itself_for_netease(dovecot, connected):
    # 163/126 answer SELECT with "Unsafe Login" unless the client sent ID first
    deadline = time.monotonic() + 5
    while "name=mailroom" not in dovecot.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "name=mailroom" in dovecot.log()
