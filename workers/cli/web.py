"""`mailroom serve` and `mailroom search`: the web UI's commands (accounts: users.py).

`mailroom run` also serves the UI when `[web] enabled = true` (workers/service.py
starts uvicorn in a thread of that one process); `mailroom serve` serves the UI
only and never starts the scheduler.
"""

from __future__ import annotations

import logging

import click

from workers.cli.state import State

log = logging.getLogger(__name__)


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
    from workers.service import listen

    ctx = state.app()
    app = create_app(ctx)
    settings = app.state.settings
    host, port = host or settings.host, port or settings.port
    listener = listen(host, port)  # a port in use: one line and exit code 1, as `run`
    log.info("web UI on http://%s:%s", host, port)
    web_server(app, host, port).run(sockets=[listener])


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
