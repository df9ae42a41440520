"""`mailroom user add`, `mailroom serve`, and the [web] config section."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from pipeline.errors import ConfigError
from storage.web_models import User, check_password
from workers.cli import cli
from workers.config import build_config


def _run(app, *args, stdin: str | None = None):
    return CliRunner().invoke(cli, ["--config", str(app.config.path), *args], input=stdin)


def test_user_add_reads_the_password_from_stdin_and_hashes_it(app):
    result = _run(
        app,
        "user",
        "add",
        "李老师",
        "--role",
        "editor",
        "--password-stdin",
        stdin="a long password\n",
    )
    assert result.exit_code == 0, result.output
    with app.db.session() as session:
        user = session.scalars(select(User).where(User.name == "李老师")).one()
        assert user.role == "editor" and user.password_hash.startswith("$argon2id$")
        assert check_password(user, "a long password")


def test_user_add_prompts_for_the_password_twice(app):
    result = _run(app, "user", "add", "zhang", stdin="pass-word-1\npass-word-1\n")
    assert result.exit_code == 0, result.output
    assert "added zhang (viewer)" in result.output


def test_user_add_refuses_short_passwords_and_existing_names(app):
    assert _run(app, "user", "add", "x", "--password-stdin", stdin="short\n").exit_code != 0
    _run(app, "user", "add", "wang", "--password-stdin", stdin="password-1\n")
    again = _run(app, "user", "add", "wang", "--password-stdin", stdin="password-2\n")
    assert again.exit_code != 0


@pytest.mark.parametrize(
    "command",
    [["user"], ["user", "add"], ["user", "list"], ["serve"], ["search"], ["search", "reindex"]],
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
