"""`mailroom migrate`: make the index (or bring its tables up to date) and the archive folder."""

from __future__ import annotations

import click

from workers.cli.state import State, where_from


@click.command()
@click.pass_obj
def migrate(state: State) -> None:
    """Make a new index and archive, or bring an existing index's tables up to date.

    Every command also updates the tables itself; only this one (and run, ingest,
    poll) may make a new index.

    Example: mailroom --config /etc/mailroom/config.toml migrate
    """
    ctx = state.app()
    click.echo(f"index {ctx.db.engine.url.render_as_string()} is up to date")
    click.echo(f"archive {ctx.config.storage.archive_dir} ({where_from(ctx.config)})")
