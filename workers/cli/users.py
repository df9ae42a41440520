"""`mailroom user`: the web UI's accounts, for the office's administrator (prompts in Chinese).

Disabling, deleting or a new password ends every session of that account at once:
sessions are rows in the index (storage/web_models.py), so the next page the person
opens asks them to sign in. Every change is in the audit log, by "cli".
"""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from pipeline.errors import MailroomError
from storage.web_models import ROLES, User
from workers.cli.state import State

ROLE_LABELS = {"viewer": "查看者", "editor": "编辑", "admin": "管理员"}
ROLE_HELP = "viewer 只能查看；editor 还能分拣和改类别；admin 全部权限。"
MIN_PASSWORD = 8


@click.group()
def user() -> None:
    """Manage who may sign in to the web UI.

    Example: mailroom user add wang --role editor
    """


def _read_password(from_stdin: bool) -> str:
    """Returns a new password: one line of stdin, or typed twice at the 密码 prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True)
        if click.prompt("再输入一次密码", hide_input=True) != password:
            raise MailroomError("两次输入的密码不一致，账号没有改动。")
    if len(password) < MIN_PASSWORD:
        raise MailroomError(f"密码太短：至少 {MIN_PASSWORD} 个字符。")
    return password


def _find(session, name: str) -> User:
    row = session.scalar(select(User).where(User.name == name))
    if row is None:
        raise MailroomError(f"没有名为 {name!r} 的账号（mailroom user list 列出全部账号）。")
    return row


def _audit(session, action: str, name: str, data: dict | None = None) -> None:
    from storage.models import AuditEntry

    session.add(AuditEntry(actor="cli", action=action, target=f"user:{name}", data=data or {}))


PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input."
)


@user.command("add")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(ROLES), default="viewer", show_default=True, help=ROLE_HELP
)
@PASSWORD_STDIN
@click.option("--update", is_flag=True, help="Change the role and password of an existing user.")
@click.pass_obj
def user_add(state: State, name: str, role: str, password_stdin: bool, update: bool) -> None:
    """Create a web UI account (the password is asked for, or read with --password-stdin).

    Example: echo 's3cret-pass' | mailroom user add li --role viewer --password-stdin
    """
    from storage.web_models import hash_password, set_password

    name = name.strip()
    if not name or len(name) > 100:
        raise MailroomError("用户名应为 1 到 100 个字符。")
    password = _read_password(password_stdin)
    with state.app().db.session() as session:
        existing = session.scalar(select(User).where(User.name == name))
        if existing is not None and not update:
            raise MailroomError(f"账号 {name!r} 已存在；要改角色和密码请加 --update。")
        if existing is None:
            session.add(User(name=name, role=role, password_hash=hash_password(password)))
        else:
            existing.role = role
            set_password(session, existing, password)
        _audit(session, "user_update" if existing else "user_add", name, {"role": role})
    click.echo(f"{'已更新' if existing else '已添加'} {name}（{role} {ROLE_LABELS[role]}）")


@user.command("passwd")
@click.argument("name")
@PASSWORD_STDIN
@click.pass_obj
def user_passwd(state: State, name: str, password_stdin: bool) -> None:
    """Set a new password for an account; its open sessions end at once.

    Example: mailroom user passwd li
    """
    from storage.web_models import set_password

    password = _read_password(password_stdin)
    with state.app().db.session() as session:
        set_password(session, _find(session, name), password)
        _audit(session, "user_passwd", name)
    click.echo(f"已为 {name} 设置新密码；原有的登录已全部退出。")


@user.command("disable")
@click.argument("name")
@click.pass_obj
def user_disable(state: State, name: str) -> None:
    """Disable an account (someone who left): it cannot sign in, its sessions end now.

    Example: mailroom user disable li
    """
    from storage.web_models import set_disabled

    with state.app().db.session() as session:
        ended = set_disabled(session, _find(session, name), True)
        _audit(session, "user_disable", name, {"sessions_ended": ended})
    click.echo(f"已停用 {name}；结束了 {ended} 个登录。")


@user.command("enable")
@click.argument("name")
@click.pass_obj
def user_enable(state: State, name: str) -> None:
    """Enable a disabled account again (with its old password).

    Example: mailroom user enable li
    """
    from storage.web_models import set_disabled

    with state.app().db.session() as session:
        set_disabled(session, _find(session, name), False)
        _audit(session, "user_enable", name)
    click.echo(f"已启用 {name}。")


@user.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def user_delete(state: State, name: str, yes: bool) -> None:
    """Delete an account and end its sessions; the change log keeps its name.

    Example: mailroom user delete li --yes
    """
    from storage.web_models import delete_user

    with state.app().db.session() as session:
        row = _find(session, name)
        if not yes and not click.confirm(f"删除账号 {name}？（修改记录会保留）"):
            raise MailroomError("没有删除。")
        delete_user(session, row)
        _audit(session, "user_delete", name, {"role": row.role})
    click.echo(f"已删除 {name}。")


@user.command("list")
@click.pass_obj
def user_list(state: State) -> None:
    """List web UI accounts: name, role, state and last sign-in (local time).

    Example: mailroom user list
    """
    ctx = state.app()
    tz = ctx.campaign.tz
    click.echo("用户名\t角色\t状态\t最近登录\t创建于")
    with ctx.db.session() as session:
        for row in session.scalars(select(User).order_by(User.name)):
            last = (
                row.last_login_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
                if row.last_login_at
                else "从未登录"
            )
            click.echo(
                f"{row.name}\t{row.role} {ROLE_LABELS.get(row.role, '')}\t"
                f"{'已停用' if row.disabled else '启用'}\t{last}\t"
                f"{row.created_at.astimezone(tz):%Y-%m-%d}"
            )
