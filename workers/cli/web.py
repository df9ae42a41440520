"""`mailroom user`, `mailroom serve` and `mailroom search`: the web UI's commands.

`mailroom run` also serves the UI when `[web] enabled = true` (workers/service.py
starts uvicorn in a thread of that one process); `mailroom serve` serves the UI
only and never starts the scheduler.
"""

from __future__ import annotations

import logging
import sys

import click
from sqlalchemy import select

from pipeline.errors import MailroomError
from storage.web_models import ROLES, User, hash_password, set_password
from workers.cli.state import State

log = logging.getLogger(__name__)


@click.group()
def user() -> None:
    """Manage who may sign in to the web UI.

    Example: mailroom user add wang --role editor
    """


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="viewer",
    show_default=True,
    help="viewer reads; editor also triages; admin does everything.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--update", is_flag=True, help="Change the role and password of an existing user.")
@click.pass_obj
def user_add(state: State, name: str, role: str, password_stdin: bool, update: bool) -> None:
    """Create a web UI account (the password is asked for, or read with --password-stdin).

    Example: echo 's3cret-pass' | mailroom user add li --role viewer --password-stdin
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise MailroomError("a user name is 1 to 100 characters")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise MailroomError("the password is too short: use at least 8 characters")
    ctx = state.app()
    with ctx.db.session() as session:
        existing = session.scalar(select(User).where(User.name == name))
        if existing is not None and not update:
            raise MailroomError(f"user {name!r} exists; add --update to change role and password")
        if existing is None:
            session.add(User(name=name, role=role, password_hash=hash_password(password)))
        else:
            existing.role = role
            set_password(session, existing, password)
        from storage.models import AuditEntry

        session.add(
            AuditEntry(
                actor="cli",
                action="user_update" if existing else "user_add",
                target=f"user:{name}",
                data={"role": role},
            )
        )
    click.echo(f"{'updated' if existing else 'added'} {name} ({role})")


@user.command("list")
@click.pass_obj
def user_list(state: State) -> None:
    """List web UI accounts and their roles.

    Example: mailroom user list
    """
    with state.app().db.session() as session:
        for row in session.scalars(select(User).order_by(User.name)):
            click.echo(f"{row.name}\t{row.role}\t{row.created_at:%Y-%m-%d}")


@click.command()
@click.option("--host", help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default: [web] port, 8080).")
@click.pass_obj
def serve(state: State, host: str | None, port: int | None) -> None:
    """Serve the web UI only (no polling or scheduled jobs; `mailroom run` does those).

    Example: mailroom serve --host 127.0.0.1 --port 8080
    """
    from web.app import create_app
    from web.server import web_server

    ctx = state.app()
    app = create_app(ctx)
    settings = app.state.settings
    web_server(app, host or settings.host, port or settings.port).run()


@click.group()
def search() -> None:
    """Maintain the search index.

    Example: mailroom search reindex
    """


@search.command("reindex")
@click.pass_obj
def search_reindex(state: State) -> None:
    """Rebuild the search index from every message and item in the index.

    Example: mailroom search reindex
    """
    from storage.search import reindex_all

    with state.app().db.session() as session:
        count = reindex_all(session)
    click.echo(f"indexed {count} documents")
