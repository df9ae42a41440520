"""`mailroom run`: the service on one machine."""

from __future__ import annotations

import click

from workers.cli.state import State


@click.command()
@click.pass_obj
def run(state: State) -> None:
    """Run the service: poll the inbox folder (and mailboxes) on a schedule until stopped.

    Example: mailroom --config /etc/mailroom/config.toml run
    """
    from workers.service import run_service

    run_service(state.app())
