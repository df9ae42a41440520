"""The `mailroom` command: a thin layer over the pipeline, storage and workers."""

from __future__ import annotations

import gc
import importlib
import json
import logging
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.errors import MailroomError
from workers.commands import COMMANDS
from workers.config import find_config_path, load_config

if TYPE_CHECKING:  # workers.context loads SQLAlchemy; `mailroom --help` does not need it
    from workers.context import AppContext

log = logging.getLogger("mailroom")


class State:
    """What the group passes to commands: the config file and a lazily opened context."""

    def __init__(self, config_path: str | None, debug: bool):
        self.config_path, self.debug = config_path, debug
        self._ctx: AppContext | None = None

    def config(self):
        from workers.settings_check import check_all_sections

        config = load_config(find_config_path(self.config_path))
        check_all_sections(config)
        return config

    def app(self) -> AppContext:
        if self._ctx is None:
            from workers.context import open_context

            config = self.config()
            setup_logging(config.log_level if not self.debug else "DEBUG")
            self._ctx = open_context(config)
        return self._ctx


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for noisy in (
        "mailparser",
        "alembic",
        "pypdf",
        "imapclient",
        "apscheduler",
        "pypdf._reader",
        "pypdf._cmap",
    ):
        logging.getLogger(noisy).setLevel(logging.ERROR if "pypdf" in noisy else logging.WARNING)


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
    click_ctx.call_on_close(lambda: click_ctx.obj._ctx and click_ctx.obj._ctx.close())


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--no-wait",
    is_flag=True,
    help="Exit without making thumbnails and web videos; `mailroom run` makes them.",
)
@click.pass_obj
def ingest(state: State, paths: tuple[Path, ...], no_wait: bool) -> None:
    """Ingest .eml files, folders of them, Maildir folders and mbox files, once.

    Thumbnails, previews and web videos are made before it exits (unless --no-wait).

    Example: mailroom ingest ~/Downloads/mails/ archive.mbox
    """
    from contextlib import nullcontext

    from workers.folder_source import ingest_paths
    from workers.media_commands import media_summary
    from workers.media_jobs import serve_media

    ctx = state.app()
    with nullcontext() if no_wait else serve_media(ctx, finish=True):
        run = ingest_paths(ctx, list(paths), label="cli:" + " ".join(map(str, paths)))
    click.echo(summary_text(run.outcomes, ctx))
    click.echo(media_summary(ctx))
    if not run.outcomes:
        raise MailroomError("no mail found in " + ", ".join(map(str, paths)))


def summary_text(outcomes, ctx: AppContext) -> str:
    """Returns the human summary of an ingestion: messages, items by kind, problems."""
    statuses = Counter(o.status for o in outcomes)
    kinds: Counter[str] = Counter()
    for outcome in outcomes:
        kinds.update(outcome.kinds)
    lines = [
        f"messages: {len(outcomes)} read, {statuses['filed']} filed, "
        f"{statuses['triage']} to triage, {statuses['not_material']} not material, "
        f"{statuses['duplicate']} already ingested, {statuses['error']} failed"
    ]
    if kinds:
        parts = [f"{ctx.campaign.label(k)}({k}) {n}" for k, n in sorted(kinds.items())]
        lines.append(f"items: {sum(kinds.values())} — " + ", ".join(parts))
    for outcome in outcomes:
        if outcome.status == "error":
            lines.append(f"problem: {outcome.error}")
    return "\n".join(lines)


@cli.command()
@click.argument("what", type=click.Choice(["messages", "items"]))
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (local), inclusive.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (local), inclusive.")
@click.option("--unit", help="Only this unit code.")
@click.pass_obj
def export(state: State, what: str, since, until, unit: str | None) -> None:
    """Print messages or items as JSON Lines (one object per line; see README).

    Example: mailroom export items --since 2023-05-14 --unit dalian
    """
    from workers.export import export_items, export_messages

    ctx = state.app()
    rows = (export_messages if what == "messages" else export_items)(
        ctx, _day(since), _day(until), unit
    )
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))


def _day(value) -> date | None:
    return value.date() if value else None


@cli.command()
@click.pass_obj
def run(state: State) -> None:
    """Run the service: poll the inbox folder (and mailboxes) on a schedule until stopped.

    Example: mailroom --config /etc/mailroom/config.toml run
    """
    from workers.service import run_service

    run_service(state.app())


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
