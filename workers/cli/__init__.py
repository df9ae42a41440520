"""The `mailroom` command: a thin layer over the pipeline, storage and workers.

Each command group lives in a module of this package and is imported only when
used (`LazyGroup`), so `mailroom --help` and a quick `poll --once` do not load
the modules of every other command. `COMMANDS` is the table of them:
tests/workers/cli/test_startup.py checks it against the real commands.
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys

import click

from pipeline.errors import MailroomError
from workers.cli.state import State

log = logging.getLogger("mailroom")

# name -> ("module:attribute", one-line summary = the first sentence of its docstring)
COMMANDS: dict[str, tuple[str, str]] = {
    "archive": (
        "workers.cli.scale:archive_group",
        "The archive's files and its readable folder view.",
    ),
    "campaign": (
        "workers.cli.campaign:campaign",
        "Campaigns: add one from a notice, list, show, edit, open and close them.",
    ),
    "eval": (
        "workers.cli.eval:eval_",
        "Ingest labelled mail into a throwaway index and print the accuracy table.",
    ),
    "export": (
        "workers.cli.ingest:export",
        "Print messages or items as JSON Lines (one object per line; see README).",
    ),
    "ingest": (
        "workers.cli.ingest:ingest",
        "Ingest .eml files, folders of them, Maildir folders and mbox files, once.",
    ),
    "media": (
        "workers.cli.media:media",
        "Thumbnails, previews and web videos: the derivative job queue.",
    ),
    "migrate": (
        "workers.cli.migrate:migrate",
        "Make a new index and archive, or bring an existing index's tables up to date.",
    ),
    "poll": (
        "workers.cli.poll:poll",
        "Fetch new mail from the [[mailbox]] accounts in config and file it.",
    ),
    "queue": (
        "workers.cli.scale:queue_group",
        "The background job queue of a multi-machine set-up.",
    ),
    "report": (
        "workers.cli.report:report",
        "Daily reports, the submission tracker, receipts and reminders.",
    ),
    "run": (
        "workers.cli.run:run",
        "Run the service: poll the inbox folder (and mailboxes) on a schedule until stopped.",
    ),
    "scheduler": (
        "workers.cli.scale:scheduler",
        "Run the one scheduler of a multi-machine set-up: polls and reports, no web UI.",
    ),
    "search": ("workers.cli.web:search", "Maintain the search index."),
    "serve": (
        "workers.cli.web:serve",
        "Serve the web UI only (no polling or scheduled jobs; `mailroom run` does those).",
    ),
    "status": (
        "workers.cli.status:status",
        "One screen of health: polls, mail waiting and why, media jobs, free disk.",
    ),
    "triage": (
        "workers.cli.triage:triage",
        "Messages whose unit is unclear: list, assign a unit, dismiss, undo.",
    ),
    "user": ("workers.cli.users:user", "Manage who may sign in to the web UI."),
    "worker": (
        "workers.cli.scale:worker",
        "Run background jobs from the broker ([queue] broker_url) until stopped.",
    ),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used.

    `lazy` maps a name to ("module:attribute", one-line summary); listing the
    commands (`mailroom --help`) shows the summaries and imports nothing, so
    every command starts without loading the modules of all the others.
    """

    def __init__(self, *args, lazy: dict[str, tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name][0].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        with formatter.section("Commands"):
            formatter.write_dl([(name, self._short_help(ctx, name, limit)) for name in names])

    def _short_help(self, ctx: click.Context, name: str, limit: int) -> str:
        if name in self.lazy:  # shortened exactly as click shortens the command's own help
            return click.Command(name, help=self.lazy[name][1]).get_short_help_str(limit)
        return self.get_command(ctx, name).get_short_help_str(limit)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    envvar="MAILROOM_CONFIG",
    help="Config file (default: $MAILROOM_CONFIG, then ./config.toml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(click_ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """mailroom files the material units email in into an archive you can browse.

    Example: mailroom ingest ./inbox && mailroom export messages
    """
    click_ctx.obj = State(config_path, debug)
    click_ctx.call_on_close(click_ctx.obj.close)


def main() -> None:
    """Entry point: known errors become one line and exit code 1."""
    debug = "--debug" in sys.argv
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MailroomError as exc:
        if debug:
            raise
        click.echo(f"mailroom: {exc}", err=True)
        sys.exit(1)
    finally:
        # The command is done and its context closed. Without this the interpreter's
        # exit walks every object SQLAlchemy and the models made, a few times over
        # (~0.2 s of a 1 s `mailroom poll --once`); frozen objects are skipped.
        gc.freeze()
