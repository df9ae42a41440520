"""Opening a fresh index from several processes at once migrates it once."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import inspect

from storage.db import Database, heads_on_disk

MIGRATE = "import sys; from storage.db import Database; Database(sys.argv[1]).migrate()"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_four_processes_migrating_a_fresh_index_at_once_all_succeed(backend, tmp_path, request):
    if backend == "postgres":
        url = request.getfixturevalue("postgres").create_database()
    else:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    procs = [
        subprocess.Popen([sys.executable, "-c", MIGRATE, url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    db = Database(url)
    try:
        assert {"messages", "items", "decisions"} <= set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()


def test_heads_read_from_the_files_match_what_alembic_applied(tmp_path):
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config, heads_in_database, heads_on_disk

    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert heads_in_database(db.engine) == set()
        db.migrate()
        script = ScriptDirectory.from_config(alembic_config(db.url))
        assert heads_on_disk() == set(script.get_heads()) == heads_in_database(db.engine)
        db.migrate()  # up to date: returns without touching the schema
        assert heads_in_database(db.engine) == heads_on_disk()
    finally:
        db.dispose()


@pytest.mark.parametrize("missing", sorted(heads_on_disk()))
def test_an_index_made_before_one_branchs_newest_migration_is_brought_up_to_date(missing, tmp_path):
    """An existing index: every migration branch applied but one (made by a mailroom from
    before that feature landed, e.g. without archive passwords or without the reliability
    tables); opening it applies the missing one and keeps the rest."""
    from alembic import command

    from storage.db import alembic_config, heads_in_database

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        cfg = alembic_config(db.url)
        with db.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            for head in heads_on_disk() - {missing}:
                command.upgrade(cfg, head)
        assert missing not in heads_in_database(db.engine)
        db.migrate()
        assert heads_in_database(db.engine) == heads_on_disk()
        tables = set(inspect(db.engine).get_table_names())
        assert {"archive_passwords", "source_status", "media_jobs", "messages"} <= tables
    finally:
        db.dispose()
