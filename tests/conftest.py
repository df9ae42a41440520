"""Shared fixtures: a real SQLite index and archive in a temp folder, test configs."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers.conftest_dovecot import (  # noqa: F401  (real Dovecot fixtures)
    dovecot,
    dovecot_tls,
    dovecot_without_move,
)
from tests.servers.postgres import PostgresServer
from tests.support.disks import tmpfs
from workers.app import AppContext, open_context
from workers.config import load_config

ROOT = Path(__file__).resolve().parents[1]  # the project
DATA = Path(__file__).parent / "data"
MAIL = DATA / "mail"
LABELLED = DATA / "labelled"
TEST_UNITS = LABELLED / "units.toml"


def write_config(
    folder: Path,
    extra: str = "",
    units_file: Path | None = TEST_UNITS,
    database_url: str = "sqlite:///data/mailroom.db",
) -> Path:
    """Writes a config.toml in folder (relative storage paths) and returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        "[storage]",
        'archive_dir = "archive"',
        f'database_url = "{database_url}"',
        "[source]",
        'inbox_dir = "inbox"',
    ]
    text = "\n".join(lines) + "\n"
    if units_file is not None:
        text = f'units_file = "{units_file}"\n' + text
    path = folder / "config.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., AppContext]]:
    """Returns a factory of AppContexts on fresh temp storage; all are closed afterwards."""
    opened: list[AppContext] = []

    def factory(
        extra: str = "",
        units_file: Path | None = TEST_UNITS,
        folder: Path | None = None,
        database_url: str | None = None,
    ) -> AppContext:
        path = write_config(
            folder or tmp_path / f"site{len(opened)}",
            extra,
            units_file,
            database_url or "sqlite:///data/mailroom.db",
        )
        ctx = open_context(load_config(path))
        opened.append(ctx)
        return ctx

    yield factory
    for ctx in opened:
        ctx.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs), unmounted afterwards: a disk that fills on demand."""
    with tmpfs(tmp_path / "small-disk", "1m") as mount:
        yield mount


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on a loopback port for the whole test session."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def database(request) -> str:
    """The index the `app` fixture opens: sqlite, or both in turn for `both_databases` tests."""
    return getattr(request, "param", "sqlite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_databases"
    ):
        metafunc.parametrize("database", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def app(make_app, database, request) -> AppContext:
    """An AppContext with the test unit registry, a temp index and a temp archive.

    The index is SQLite; tests marked `both_databases` run again on a fresh database
    of the real PostgreSQL server.
    """
    if database == "postgres":
        return make_app(database_url=request.getfixturevalue("postgres").create_database())
    return make_app()


@pytest.fixture
def mail_copy(tmp_path: Path) -> Callable[[str], Path]:
    """Copies a file from tests/data/mail into a temp folder and returns the copy."""

    def copy(name: str) -> Path:
        target = tmp_path / "in" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MAIL / name, target)
        return target

    return copy


@contextmanager
def broker_jobs(ctx: AppContext) -> Iterator[AppContext]:
    """Sends ctx's jobs to its [queue] broker while the block runs, as `mailroom scheduler` does."""
    from workers.jobs.celery import CeleryJobs, make_celery

    previous = ctx.jobs
    ctx.jobs = CeleryJobs(make_celery(ctx.config.queue), ctx.config.queue)
    try:
        yield ctx
    finally:
        ctx.jobs = previous


def send_task_twice(ctx: AppContext, kind: str, **ids) -> None:
    """Delivers one job twice through the broker, as a redelivery would."""
    from workers.jobs import QUEUE_OF, TASK_OF

    for _ in range(2):
        ctx.jobs.app.send_task(TASK_OF[kind], kwargs=ids, queue=QUEUE_OF[kind])
