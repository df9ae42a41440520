"""Fixtures for the worker tests (until tests/conftest.py imports them for everyone)."""

from tests.servers.conftest_dovecot import (  # noqa: F401
    dovecot,
    dovecot_tls,
    dovecot_without_move,
)
