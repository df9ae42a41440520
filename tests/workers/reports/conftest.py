"""Fixtures for the reports tests: the labelled corpus in an index, and a real SMTP receiver."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import LABELLED, write_config
from workers.app import AppContext, open_context
from workers.config import load_config
from workers.ingest import Ingestor
from workers.sources.files import read_messages


def ingest_files(ctx: AppContext, paths: list[Path]) -> None:
    """Ingests .eml files into ctx the way the CLI does."""
    ingestor = Ingestor(ctx, "test")
    for path in paths:
        for raw, source in read_messages(path):
            ingestor.ingest(raw, source)
    ingestor.finish()


@pytest.fixture(scope="session")
def corpus_site(tmp_path_factory) -> Path:
    """A folder with config.toml, index and archive holding the labelled messages."""
    folder = tmp_path_factory.mktemp("corpus-site")
    ctx = open_context(load_config(write_config(folder)))
    try:
        ingest_files(ctx, sorted(LABELLED.glob("*.eml")))
    finally:
        ctx.close()
    return folder


@pytest.fixture
def corpus_app(corpus_site: Path, tmp_path: Path) -> Iterator[Callable[..., AppContext]]:
    """Returns a factory: a fresh copy of the corpus site with extra TOML appended to its config."""
    opened: list[AppContext] = []

    def factory(extra: str = "") -> AppContext:
        site = tmp_path / f"site{len(opened)}"
        shutil.copytree(corpus_site, site)
        config = site / "config.toml"
        config.write_text(config.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
        ctx = open_context(load_config(config))
        opened.append(ctx)
        return ctx

    yield factory
    for ctx in opened:
        ctx.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    """What the SMTP receiver got: envelopes and parsed messages."""

    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [
                message_from_bytes(data, policy=default_policy) for _, _, data in self.envelopes
            ]


class _Handler:
    def __init__(self, received: Received):
        self.received = received

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.received.lock:
            self.received.envelopes.append(
                (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 OK"


@dataclass
class SmtpServer:
    port: int
    received: Received
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(_Handler(self.received), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def toml(self) -> str:
        return (
            f'[smtp]\nhost = "127.0.0.1"\nport = {self.port}\nsecurity = "none"\n'
            f'from = "zcc1.sjyt@ln.gov.cn"\n'
        )


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP receiver (aiosmtpd) on a free loopback port, started."""
    server = SmtpServer(free_port(), Received())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A free loopback port with nothing listening yet; .start() brings the server up."""
    server = SmtpServer(free_port(), Received())
    yield server
    server.stop()
