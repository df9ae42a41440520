"""`mailroom user`: add, passwd, disable, enable, delete, list; prompts in Chinese."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from storage.models import AuditEntry
from storage.web_models import User, check_password
from workers.cli import cli


def run(app, *args, stdin: str | None = None):
    return CliRunner().invoke(cli, ["--config", str(app.config.path), *args], input=stdin)


def add(app, name: str, password: str = "a long password", role: str = "viewer"):
    result = run(
        app, "user", "add", name, "--role", role, "--password-stdin", stdin=password + "\n"
    )
    assert result.exit_code == 0, result.output
    return result


def account(app, name: str) -> User | None:
    with app.db.session() as session:
        return session.scalar(select(User).where(User.name == name))


def test_user_add_reads_the_password_from_stdin_and_hashes_it(app):
    add(app, "李老师", role="editor")
    user = account(app, "李老师")
    assert user.role == "editor" and user.password_hash.startswith("$argon2id$")
    assert check_password(user, "a long password")


def test_user_add_asks_for_the_password_twice_in_chinese(app):
    result = run(app, "user", "add", "zhang", stdin="pass-word-1\npass-word-1\n")
    assert result.exit_code == 0, result.output
    assert "密码: " in result.output and "再输入一次密码: " in result.output
    assert "Password" not in result.output and "已添加 zhang（viewer 查看者）" in result.output


def test_mistyped_second_password_creates_nothing(app):
    result = run(app, "user", "add", "zhang", stdin="pass-word-1\npass-word-2\n")
    assert result.exit_code == 1 and "两次输入的密码不一致" in str(result.exception)
    assert account(app, "zhang") is None


def test_user_add_refuses_short_passwords_and_existing_names(app):
    short = run(app, "user", "add", "x", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and "至少 8 个字符" in str(short.exception)
    add(app, "wang")
    again = run(app, "user", "add", "wang", "--password-stdin", stdin="password-2\n")
    assert again.exit_code == 1 and "--update" in str(again.exception)


def test_passwd_sets_a_new_password(app):
    add(app, "wang")
    result = run(app, "user", "passwd", "wang", stdin="new secret 1\nnew secret 1\n")
    assert result.exit_code == 0, result.output
    assert "密码: " in result.output and check_password(account(app, "wang"), "new secret 1")


def test_disable_enable_delete_and_list(app):
    add(app, "wang", role="editor")
    add(app, "li")
    assert run(app, "user", "disable", "li").exit_code == 0
    listing = run(app, "user", "list").output.splitlines()
    assert listing[0] == "用户名\t角色\t状态\t最近登录\t创建于"
    assert listing[1].startswith("li\tviewer 查看者\t已停用\t从未登录\t")
    assert listing[2].startswith("wang\teditor 编辑\t启用\t从未登录\t")
    assert run(app, "user", "enable", "li").exit_code == 0
    assert not account(app, "li").disabled
    assert run(app, "user", "delete", "li", stdin="n\n").exit_code == 1  # asked, said no
    assert account(app, "li") is not None
    assert run(app, "user", "delete", "li", "--yes").exit_code == 0
    assert account(app, "li") is None
    with app.db.session() as session:
        actions = [
            a.action
            for a in session.scalars(
                select(AuditEntry).where(AuditEntry.target == "user:li").order_by(AuditEntry.id)
            )
        ]
    assert actions == ["user_add", "user_disable", "user_enable", "user_delete"]


@pytest.mark.parametrize(
    "args", [["disable"], ["enable"], ["delete", "--yes"], ["passwd", "--password-stdin"]]
)
def test_an_unknown_name_is_one_chinese_line(app, args):
    result = run(app, "user", args[0], "nobody", *args[1:], stdin="long enough 1\n")
    assert result.exit_code == 1 and "没有名为 'nobody' 的账号" in str(result.exception)


@pytest.mark.parametrize(
    "command",
    [["user"], *(["user", c] for c in ("add", "passwd", "disable", "enable", "delete", "list"))],
)
def test_every_user_command_has_help_with_an_example(app, command):
    result = run(app, *command, "--help")
    assert result.exit_code == 0 and "Example:" in result.output
