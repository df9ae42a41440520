"""Web UI fixtures: a site with the labelled corpus ingested, users, signed-in clients."""

from __future__ import annotations

import functools
import io
import re
import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

with warnings.catch_warnings():  # Starlette 1.x suggests httpx2; httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from storage import layout
from storage.models import Item
from storage.search import reindex_all
from storage.web_models import User, hash_password
from tests.conftest import LABELLED, write_config
from web.app import create_app
from web.server import web_server
from workers.app import AppContext, open_context
from workers.config import build_config, load_config
from workers.sources.inbox import ingest_paths

PASSWORD = "correct horse 7"
ROLES = {"viewer": "viewer", "editor": "editor", "admin": "admin"}


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per test run


def open_site(folder: Path, eml: list[Path], extra: str = "") -> AppContext:
    """Returns a context with these messages ingested, document text indexed, three users."""
    ctx = open_context(load_config(write_config(folder, extra)))
    ingest_paths(ctx, eml, label="test")
    with ctx.db.session() as session:
        fill_document_text(session, ctx)
        reindex_all(session)
        for name, role in ROLES.items():
            session.add(User(name=name, role=role, password_hash=password_hash()))
    return ctx


def queue_mail(folder: Path, count: int, newsletters: int = 0) -> list[Path]:
    """Writes count clue-less messages (they all go to triage), one a day back from
    2023-05-20, the last `newsletters` of them from a mailing list; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    start = datetime(2023, 5, 20, 9, tzinfo=UTC)
    for n in range(count):
        mail = EmailMessage()
        newsletter = n >= count - newsletters
        mail["From"] = (
            "周报 <news@lists.example.org>" if newsletter else f"user{n}@example{n % 7}.com"
        )
        mail["To"] = "zcc1.sjyt@ln.gov.cn"
        mail["Subject"] = f"{'行业周报' if newsletter else '来信'} 第{n}号"
        mail["Date"] = format_datetime(start - timedelta(hours=7 * n))
        mail["Message-ID"] = f"<queue-{n}@example.org>"
        mail.set_content("您好，请查收。")
        path = folder / f"{n:04d}.eml"
        path.write_bytes(bytes(mail))
        paths.append(path)
    return paths


def fill_document_text(session, ctx: AppContext) -> None:
    """Extracts document text as the media stage will, where it has not done so yet."""
    import docx
    from pypdf import PdfReader

    for item in session.scalars(select(Item).where(Item.media == "document", Item.text == "")):
        data = ctx.archive.abspath(item.blob_path).read_bytes() if item.blob_path else b""
        try:
            if item.name.lower().endswith(".docx"):
                item.text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
            elif data.startswith(b"%PDF"):
                item.text = "\n".join(
                    p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages
                )
        except Exception:
            continue


def make_mp4(path: Path, seconds: int = 3) -> Path:
    """Writes a small H.264 MP4 (faststart) with ffmpeg and returns its path."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size=320x240:rate=25:duration={seconds}",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-preset",
            "veryfast",
            "-movflags",
            "+faststart",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


def attach_web_video(ctx: AppContext, tmp: Path) -> int:
    """Gives the first video item a web_video (as the media stage would); returns its id."""
    data = make_mp4(tmp / "web.mp4").read_bytes()
    with ctx.db.session() as session:
        item = session.scalars(select(Item).where(Item.media == "video").order_by(Item.id)).first()
        if not item.web_video:
            item.web_video = ctx.archive.put_bytes(
                layout.derived_path(item.sha256, "web.mp4"), data
            )
        return item.id


@pytest.fixture(scope="session")
def corpus_site(tmp_path_factory) -> Iterator[AppContext]:
    """The labelled messages ingested once; read-only tests share it."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is not installed: run make test, which installs it")
    folder = tmp_path_factory.mktemp("corpus-site")
    ctx = open_site(folder, sorted(LABELLED.glob("*.eml")))
    ctx.video_item_id = attach_web_video(ctx, folder)
    yield ctx
    ctx.close()


@pytest.fixture
def small_site(tmp_path) -> Iterator[AppContext]:
    """A fresh site with a few messages (some in triage), for tests that change things."""
    names = [
        "003-jinzhou-photos-subject-tag.eml",
        "045-reply-quotes-notice-no-clue.eml",
        "048-weak-clue-venue-only.eml",
        "049-no-clue-at-all.eml",
        "047-conflict-subject-dalian-address-shenyang.eml",
    ]
    ctx = open_site(tmp_path / "small", [LABELLED / n for n in names])
    yield ctx
    ctx.close()


@pytest.fixture(scope="session")
def queue_template(tmp_path_factory) -> Path:
    """A site folder with 120 messages in triage, the 30 oldest from one mailing list."""
    folder = tmp_path_factory.mktemp("queue-template")
    ctx = open_site(folder / "site", queue_mail(folder / "mail", 120, newsletters=30))
    ctx.close()
    return folder / "site"


@pytest.fixture
def queue_site(queue_template, tmp_path) -> Iterator[AppContext]:
    """A fresh copy of the 120-message queue, for tests that change it."""
    shutil.copytree(queue_template, tmp_path / "queue")
    ctx = open_context(load_config(tmp_path / "queue" / "config.toml"))
    yield ctx
    ctx.close()


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "name": name, "password": password, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def client_for() -> Iterator[Callable[..., TestClient]]:
    """Returns a factory: client_for(ctx, role or None) gives an https client, signed in."""
    clients: list[TestClient] = []

    def factory(ctx: AppContext, role: str | None = "viewer") -> TestClient:
        client = TestClient(create_app(ctx), base_url="https://testserver")
        clients.append(client)
        return sign_in(client, role) if role else client

    yield factory
    for client in clients:
        client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(ctx: AppContext, **web) -> Iterator[tuple[str, object]]:
    """Serves ctx with uvicorn on a free loopback port, as `mailroom serve` does.

    Yields (base URL, the app); web overrides [web] settings (cookie_secure is off:
    plain http on loopback).
    """
    base = build_config({}, None, ctx.config.base_dir).web
    settings = replace(base, **{"cookie_secure": False, "port": free_port(), **web})
    app = create_app(ctx, settings)
    server = web_server(app, "127.0.0.1", settings.port, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        pytest.fail("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{settings.port}", app
    finally:
        server.should_exit = True
        thread.join(10)
