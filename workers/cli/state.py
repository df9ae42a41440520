"""What the `mailroom` group hands to every command: the config file and a lazily opened context."""

from __future__ import annotations

import getpass
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline.errors import MailroomError
from workers.config import Config, find_config_path, load_config

if TYPE_CHECKING:  # workers.app loads SQLAlchemy; `mailroom --help` does not need it
    from workers.app import AppContext

log = logging.getLogger("mailroom")
# Commands that may start a new index (adding a campaign is setting one up); any other
# command finding none refuses to make one.
CREATES_INDEX = ("run", "scheduler", "worker", "ingest", "poll", "migrate", "campaign add")


class State:
    """The config file and the context, opened on first use and closed when the command ends."""

    def __init__(self, config_path: str | None, debug: bool):
        self.config_path, self.debug = config_path, debug
        self._ctx: AppContext | None = None

    def config(self) -> Config:
        """Returns the whole config, built and checked once (every section, every key)."""
        return load_config(find_config_path(self.config_path))

    def app(self, *, distributed: bool = False) -> AppContext:
        """Returns the context, opened once; `distributed`: jobs go to the [queue] broker."""
        if self._ctx is None:
            from workers.app import open_context, setup_logging

            config = self.config()
            setup_logging(config.log_level if not self.debug else "DEBUG")
            check_new_index(config, _command())
            self._ctx = open_context(config, distributed=distributed)
        return self._ctx

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()


def _command() -> str:
    """Returns the command being run, without the program's name ("triage list")."""
    ctx = click.get_current_context(silent=True)
    return " ".join(ctx.command_path.split()[1:]) if ctx else ""


def sqlite_file(database_url: str) -> Path | None:
    """Returns the file of a SQLite index URL, or None (another database, or in memory)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def where_from(config: Config) -> str:
    """Returns which config was used, as a command says it."""
    if config.path is not None:
        return f"config {config.path}"
    return f"no config file found (no --config, no $MAILROOM_CONFIG, no {Path.cwd()}/config.toml)"


def check_new_index(config: Config, command: str) -> None:
    """Refuses to start a new SQLite index unless the command is one that may make it.

    Run from another folder, `mailroom triage list` would find no config.toml, take the
    built-in defaults and quietly make an empty index and archive there ("triage is
    empty"). Any command but those of CREATES_INDEX (the service's and filing's) stops instead,
    naming the config and the index it looked for; those make it and say so in the log.
    """
    index = sqlite_file(config.storage.database_url)
    if index is None:
        _check_server_index(config, command)
        return
    if index.exists():
        return
    if command not in CREATES_INDEX:
        raise MailroomError(
            f"no index at {index} ({where_from(config)}): run mailroom in the folder of your "
            "config.toml, or pass --config FILE (or set MAILROOM_CONFIG); "
            "`mailroom migrate` makes a new, empty index"
        )
    log.warning(
        "making a new index at %s and archive at %s (%s)",
        index,
        config.storage.archive_dir,
        where_from(config),
    )


def _check_server_index(config: Config, command: str) -> None:
    """The same for a database server: an empty database (no tables yet) is a new index.

    A `database_url` naming the wrong database would otherwise get the tables made in
    it, and the command would answer from an empty index as if all were well.
    """
    from sqlalchemy.engine import make_url

    from storage.db import heads_in_database, make_engine

    url = make_url(config.storage.database_url)
    if url.get_backend_name() == "sqlite" or command in CREATES_INDEX:
        return
    engine = make_engine(config.storage.database_url)
    try:
        empty = not heads_in_database(engine)  # unreachable: IndexUnavailable, one line
    finally:
        engine.dispose()
    if empty:
        raise MailroomError(
            f"the database {url.render_as_string(hide_password=True)} ({where_from(config)}) "
            "has no mailroom index yet: check [storage] database_url, or run "
            "`mailroom migrate` to make a new, empty index there"
        )


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def by_option(help_text: str = "Who makes the change (kept in the index and the audit log)."):
    """The `--by NAME` option of commands that change decisions (default: the login name)."""
    return click.option(
        "--by", "actor", default=_default_actor, show_default="your user name", help=help_text
    )
