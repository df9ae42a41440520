"""The [[mailbox]] tables: defaults, validation errors that name the key, passwords."""

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from workers.config.mailboxes import AfterAction, parse_mailboxes, resolve_password

BASE = {
    "name": "official",
    "host": "imap.example.cn",
    "username": "zcc@example.cn",
    "password_env": "MAILROOM_IMAP_PASSWORD",
}


def parse(tmp_path: Path, **overrides):
    table = {**BASE, **overrides}
    table = {k: v for k, v in table.items() if v is not None}
    return parse_mailboxes([table], file="config.toml", base_dir=tmp_path)[0]


def test_minimal_mailbox_gets_the_documented_defaults(tmp_path):
    cfg = parse(tmp_path)
    assert (cfg.port, cfg.security, cfg.folders) == (993, "ssl", ("INBOX",))
    assert cfg.after == AfterAction("none")
    assert (cfg.poll_interval_seconds, cfg.batch_size, cfg.idle, cfg.timeout_seconds) == (
        300, 50, False, 60,
    )  # fmt: skip


def test_starttls_defaults_to_port_143(tmp_path):
    assert parse(tmp_path, security="starttls").port == 143


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "::1", "localhost"])
def test_plain_text_is_allowed_for_loopback(tmp_path, host):
    assert parse(tmp_path, host=host, security="none").security == "none"


def test_plain_text_to_a_remote_host_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse(tmp_path, security="none")
    assert err.value.key == "mailbox[0].security"
    assert "loopback" in err.value.problem


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"security": "tls"}, "mailbox[0].security"),
        ({"port": 0}, "mailbox[0].port"),
        ({"port": "993"}, "mailbox[0].port"),
        ({"after": "delete"}, "mailbox[0].after"),
        ({"after": "flag:has space"}, "mailbox[0].after"),
        ({"after": "move:INBOX"}, "mailbox[0].after"),
        ({"folders": []}, "mailbox[0].folders"),
        ({"host": None}, "mailbox[0].host"),
        ({"password_env": None}, "mailbox[0].password_env"),
        ({"password_file": "pw.txt"}, "mailbox[0].password_env"),
        ({"password": "hunter2"}, "mailbox[0].password"),
        ({"hostname": "x"}, "mailbox[0].hostname"),
        ({"idle": "yes"}, "mailbox[0].idle"),
    ],
)
def test_bad_values_raise_config_error_naming_the_key(tmp_path, override, key):
    with pytest.raises(ConfigError) as err:
        parse(tmp_path, **override)
    assert err.value.key == key
    assert err.value.file == "config.toml"
    assert "hunter2" not in str(err.value)


def test_after_actions_are_parsed(tmp_path):
    assert parse(tmp_path, after="seen").after == AfterAction("seen")
    assert parse(tmp_path, after="flag:$Filed").after == AfterAction("flag", "$Filed")
    assert parse(tmp_path, after="move:Filed/2024").after == AfterAction("move", "Filed/2024")


def test_mailbox_written_as_a_single_table_is_explained(tmp_path):
    with pytest.raises(ConfigError, match=r"\[\[mailbox\]\]"):
        parse_mailboxes(BASE, file="config.toml", base_dir=tmp_path)


def test_two_accounts_with_one_name_are_refused(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_mailboxes([BASE, BASE], file="config.toml", base_dir=tmp_path)
    assert err.value.key == "mailbox[1].name"


def test_password_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILROOM_IMAP_PASSWORD", "s3cret")
    assert resolve_password(parse(tmp_path)) == "s3cret"


def test_missing_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("MAILROOM_IMAP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="MAILROOM_IMAP_PASSWORD"):
        resolve_password(parse(tmp_path))


def test_relative_password_file_is_read_next_to_the_config(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "imap.txt").write_text("授权码abc\n", encoding="utf-8")
    cfg = parse(tmp_path, password_env=None, password_file="secrets/imap.txt")
    assert cfg.password_file == tmp_path / "secrets" / "imap.txt"
    assert resolve_password(cfg) == "授权码abc"


def test_missing_password_file_is_named(tmp_path):
    cfg = parse(tmp_path, password_env=None, password_file="nope.txt")
    with pytest.raises(ConfigError) as err:
        resolve_password(cfg)
    assert "nope.txt" in str(err.value)
