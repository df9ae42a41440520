"""`mailroom serve`, `mailroom search` and the [web] config section (accounts: tests/workers/cli)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipeline.errors import ConfigError
from workers.cli import cli
from workers.config import build_config


def _run(app, *args, stdin: str | None = None):
    return CliRunner().invoke(cli, ["--config", str(app.config.path), *args], input=stdin)


@pytest.mark.parametrize(
    "command",
    [["serve"], ["search"], ["search", "reindex"]],
)
def test_every_web_command_has_help_with_an_example(app, command):
    result = _run(app, *command, "--help")
    assert result.exit_code == 0 and "Example:" in result.output


def test_web_settings_have_working_defaults(tmp_path):
    settings = build_config({}, None, tmp_path).web
    assert (settings.enabled, settings.host, settings.port) == (False, "127.0.0.1", 8080)
    assert settings.cookie_secure and settings.secret_key_file == tmp_path / "data/web-secret.key"


@pytest.mark.parametrize(
    "web, key",
    [
        ({"port": "80"}, "web.port"),
        ({"cookie_secure": False, "host": "0.0.0.0"}, "web.cookie_secure"),
        ({"colour": "blue"}, "web.colour"),
        ({"session_hours": 0}, "web.session_hours"),
    ],
)
def test_bad_web_settings_name_the_key(tmp_path, web, key):
    with pytest.raises(ConfigError) as error:
        build_config({"web": web}, None, tmp_path)
    assert error.value.key == key


def test_secret_key_file_is_made_once_and_private(tmp_path, monkeypatch):
    from web.secret import secret_key

    monkeypatch.delenv("MAILROOM_WEB_SECRET", raising=False)
    settings = build_config({}, None, tmp_path).web
    first = secret_key(settings)
    assert secret_key(settings) == first and len(first) >= 32
    assert (settings.secret_key_file.stat().st_mode & 0o777) == 0o600
