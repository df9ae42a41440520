"""Ingestion and export tests run on both index databases: SQLite and PostgreSQL."""

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def app(request, make_app):
    """An AppContext on SQLite, then on a fresh database of the real PostgreSQL server."""
    if request.param == "postgres":
        return make_app(database_url=request.getfixturevalue("postgres").create_database())
    return make_app()
