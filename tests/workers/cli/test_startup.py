"""`mailroom` starts without loading what the command does not use, and lists every command.

The commands live in their own modules and are imported when used
(workers/commands.py), so these tests check that the table of commands matches
the real ones and that the heavy libraries stay out of a bare start. They check
what is imported, not how long it takes (test machines are too noisy to time).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from workers.cli import COMMANDS, cli

# Loaded only by the commands (or the parts of a command) that need them.
HEAVY = [
    "sqlalchemy",
    "alembic",
    "storage.models",
    "pipeline.parse",
    "mailparser",
    "zhconv",
    "pkg_resources",
    "PIL",
    "apscheduler",
    "celery",
    "starlette",
    "uvicorn",
    "imapclient",
    "workers.imap_commands",
    "workers.web_commands",
]


def run_python(code: str, folder: Path) -> tuple[str, list[str]]:
    """Runs code in a fresh interpreter; returns its output and the HEAVY modules it loaded."""
    report = f"import json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    output, _, loaded = done.stdout.rstrip("\n").rpartition("\n")
    return output, json.loads(loaded)


def test_importing_the_cli_loads_no_heavy_library(tmp_path):
    assert run_python("import workers.cli", tmp_path)[1] == []


def test_mailroom_help_lists_every_command_without_importing_any(tmp_path):
    output, loaded = run_python(
        "from workers.cli import cli\n"
        "cli.main(['--help'], prog_name='mailroom', standalone_mode=False)",
        tmp_path,
    )
    assert loaded == []
    listed = [line.split()[0] for line in output.split("Commands:\n", 1)[1].splitlines()]
    assert listed == sorted(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_lazy_command_is_the_command_its_entry_names(name):
    module, _, attribute = COMMANDS[name][0].partition(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    assert command.name == name
    summary = COMMANDS[name][1]
    assert command.help.startswith(summary), f"{name}: the summary is not its help's first line"
    for width in (30, 45, 60, 200):  # the listing shortens both alike at any width
        assert click.Command(name, help=summary).get_short_help_str(width) == (
            command.get_short_help_str(width)
        )


@pytest.mark.parametrize("width", [60, 80, 200])
def test_help_is_the_same_as_with_every_command_imported(width):
    context = click.Context(cli)
    eager = click.Group(
        name=cli.name,
        commands={name: cli.get_command(context, name) for name in cli.list_commands(context)},
        params=cli.params,
        help=cli.help,
        context_settings=cli.context_settings,
    )
    settings = {"terminal_width": width, "max_content_width": width}
    lazy_help = CliRunner().invoke(cli, ["--help"], prog_name="mailroom", **settings)
    eager_help = CliRunner().invoke(eager, ["--help"], prog_name="mailroom", **settings)
    assert lazy_help.exit_code == 0, lazy_help.output
    assert lazy_help.output == eager_help.output


def every_command_path(group: click.Group, prefix: tuple[str, ...] = ()):
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from every_command_path(command, (*prefix, name))


@pytest.mark.parametrize("path", list(every_command_path(cli)), ids=" ".join)
def test_every_command_shows_its_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="mailroom")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: mailroom {' '.join(path)} ")


def test_mailroom_run_schedules_each_of_its_jobs_by_name(app):
    # No job registers itself by being imported: the scheduler's table names them all.
    import threading

    from workers.scheduler import build_scheduler, close_all
    from workers.service import RUN_JOBS

    stop, closers = threading.Event(), []
    scheduler = build_scheduler(app, stop, RUN_JOBS, closers)
    try:
        jobs = {job.id for job in scheduler.get_jobs()}
        assert jobs == {"cleanup", "inbox", "media-resubmit", "report-daily", "report-tick"}
    finally:
        stop.set()
        close_all(closers)
