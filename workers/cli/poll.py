"""`mailroom poll`: poll the configured IMAP mailboxes now (once, or until stopped)."""

from __future__ import annotations

import signal
import threading

import click

from pipeline.errors import ConfigError, MailboxError
from workers.cli.state import State
from workers.config.mailboxes import resolve_password


@click.command()
@click.option("--once", is_flag=True, help="Poll every mailbox once and exit (for cron and tests).")
@click.option("--account", "accounts", multiple=True, metavar="NAME",
              help="Only the [[mailbox]] with this name (repeatable).")  # fmt: skip
@click.option(
    "--no-wait",
    is_flag=True,
    help="Do not make thumbnails and web videos here; `mailroom run` makes them.",
)
@click.pass_obj
def poll(state: State, once: bool, accounts: tuple[str, ...], no_wait: bool) -> None:
    """Fetch new mail from the [[mailbox]] accounts in config and file it.

    Without --once it keeps polling at each account's poll_interval_seconds
    until Ctrl-C; `mailroom run` does the same alongside the other jobs.

    Example: MAILROOM_IMAP_PASSWORD=... mailroom poll --once
    """
    from workers.sources.imap.poller import poll_account
    from workers.upkeep.sweep import sweep_if_due, swept_run

    ctx = state.app()
    configs = [c for c in ctx.config.mailboxes if not accounts or c.name in accounts]
    if not configs:
        raise ConfigError(ctx.config.label, "mailbox", "no [[mailbox]] to poll (see README: IMAP)")
    click.get_current_context().with_resource(swept_run(ctx))  # what a killed run left
    if not no_wait:  # derivatives are made while polling; --once finishes them before exiting
        from workers.media.pool import serve_media

        click.get_current_context().with_resource(serve_media(ctx, finish=once))
    stop = threading.Event()
    if not once:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    problems: list[str] = []
    while True:
        sweep_if_due(ctx)  # polling for days without `mailroom run`: hourly, as it does
        for cfg in configs:
            if stop.is_set():
                break
            try:
                summary = poll_account(ctx, cfg, resolve_password(cfg), stop=stop)
            except MailboxError as exc:
                problems.append(f"{cfg.name}: {exc}")
                continue
            click.echo(summary.text())
            problems += [f"{cfg.name}: {e}" for e in summary.errors]
            if summary.low_disk:  # nothing was fetched: whoever runs it must make room
                problems.append(f"{cfg.name}: {summary.skipped}")
        if once or stop.wait(min(c.poll_interval_seconds for c in configs)):
            break
        problems.clear()
    if problems:
        raise MailboxError(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems, first: {problems[0]}"
        )
