"""A machine that fails (index unreachable, archive disk full) is one line saying what to check.

Real failures, no mocks: a PostgreSQL URL at a port nobody listens on, and an
archive on a 1 MiB tmpfs mounted for the test (`small_disk`, tests/conftest.py).
"""

from __future__ import annotations

import socket

from starlette.testclient import TestClient

from tests.conftest import MAIL, write_config
from tests.support import media_files as files
from tests.workers.cli.test_ingest_and_export import run


def closed_port() -> int:
    """Returns a loopback port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_index_that_cannot_be_reached_is_one_line_naming_the_setting(tmp_path):
    port = closed_port()
    url = f"postgresql+psycopg://mailroom:hunter2@127.0.0.1:{port}/mailroom"
    write_config(tmp_path, database_url=url)
    done = run(tmp_path, "export", "messages", check=False)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(
        f"mailroom: cannot use the index at postgresql+psycopg://mailroom:***@127.0.0.1:{port}"
        "/mailroom: "
    )
    assert "refused" in line and "check [storage] database_url" in line
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


def test_a_full_archive_disk_is_one_line_and_records_nothing_against_the_message(
    tmp_path, small_disk
):
    folder = tmp_path / "site"
    write_config(folder)
    config = folder / "config.toml"
    config.write_text(
        config.read_text().replace('archive_dir = "archive"', f'archive_dir = "{small_disk}"')
    )
    big = files.message("大连市活动周视频", [("开幕式.mp4", b"\0" * 2_000_000, "video/mp4")])
    (folder / "big.eml").write_bytes(big)
    done = run(folder, "ingest", "--no-wait", str(folder / "big.eml"), check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"mailroom: cannot write to the archive at {small_disk}: the disk is full — "
        "free space there or move [storage] archive_dir"
    )
    exported = run(folder, "export", "messages").stdout
    assert exported == ""  # not an error row: the message is not at fault, it is tried again

    (folder / "small.eml").write_bytes((MAIL / "gbk-rfc2047-filename.eml").read_bytes())
    assert run(folder, "ingest", "--no-wait", str(folder / "small.eml")).returncode == 0


def test_the_web_ui_says_in_chinese_that_the_index_is_unavailable(make_app, postgres):
    from storage.web_models import User
    from tests.web.conftest import password_hash, sign_in
    from web.app import create_app

    url = postgres.create_database()
    ctx = make_app(database_url=url)
    with ctx.db.session() as session:
        session.add(User(name="viewer", role="viewer", password_hash=password_hash()))
    app = create_app(ctx)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        sign_in(client, "viewer")
        postgres.drop_database(url)  # the database goes away under the running UI
        page = client.get("/")
    assert page.status_code == 503
    assert "归档或索引暂时无法使用" in page.text and "请联系管理员" in page.text
    assert "postgresql" not in page.text and "Error" not in page.text
