"""Pytest fixtures that run a real Dovecot; imported by a conftest.py.

`dovecot` is a plain-text server (loopback only), `dovecot_tls` offers
STARTTLS on `.port` and implicit TLS on `.ssl_port` with a self-signed
certificate (trust it with `.cert`). Each test gets a fresh server and an
empty mailbox; teardown always stops it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.dovecot import DovecotServer, dovecot_available


def _run(**kwargs) -> Iterator[DovecotServer]:
    if not dovecot_available():
        pytest.fail("Dovecot is not installed: run make test, which installs dovecot-imapd")
    server = DovecotServer(**kwargs)
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A running plain-text Dovecot on a free loopback port, user alice/secret."""
    yield from _run()


@pytest.fixture
def dovecot_tls() -> Iterator[DovecotServer]:
    """A running Dovecot with STARTTLS (.port) and implicit TLS (.ssl_port)."""
    yield from _run(tls=True)


@pytest.fixture
def dovecot_without_move() -> Iterator[DovecotServer]:
    """A running plain-text Dovecot that does not announce the MOVE capability."""
    yield from _run(move_capability=False)
