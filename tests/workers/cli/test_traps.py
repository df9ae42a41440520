"""No silent traps: a taken web port stops `run` at once; no command quietly makes a new index."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import MAIL, write_config

MAILROOM = str(Path(sys.executable).with_name("mailroom"))


def mailroom(*args: str, cwd: Path, timeout: int = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MAILROOM_CONFIG"}
    return subprocess.run(
        [MAILROOM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_run_stops_at_start_with_one_line_when_the_web_port_is_taken(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path / "site",
            f"[web]\nenabled = true\ncookie_secure = false\nport = {port}\n",
        )
        result = mailroom("--config", str(config), "run", cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"mailroom: web UI: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr and "web UI on http" not in result.stderr


def test_serve_stops_with_the_same_line_when_its_port_is_taken(tmp_path):
    config = write_config(tmp_path / "site", "[web]\ncookie_secure = false\n")
    assert mailroom("--config", str(config), "migrate", cwd=tmp_path).returncode == 0
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = mailroom("--config", str(config), "serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"mailroom: web UI: cannot listen on 127.0.0.1:{port}")
    )
    assert "Traceback" not in result.stderr


def test_a_command_run_from_another_folder_refuses_to_make_an_index(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = mailroom("triage", "list", cwd=elsewhere)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert line.startswith(f"mailroom: no index at {elsewhere}/data/mailroom.db")
    assert "no config file found" in line and "--config" in line
    assert "triage is empty" not in result.stdout
    assert list(elsewhere.iterdir()) == []  # no data/, no archive/


def test_a_config_whose_index_file_is_missing_is_named_in_the_refusal(tmp_path):
    config = write_config(tmp_path / "site", database_url="sqlite:///moved/mailroom.db")
    result = mailroom("--config", str(config), "report", "tracker", cwd=tmp_path)
    assert result.returncode == 1
    assert f"no index at {tmp_path}/site/moved/mailroom.db" in result.stderr
    assert f"config {config}" in result.stderr
    assert not (tmp_path / "site" / "moved").exists()


def test_ingest_makes_a_new_index_and_says_so(tmp_path):
    config = write_config(tmp_path / "site")
    result = mailroom("--config", str(config), "ingest", str(MAIL / "auto-reply.eml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"making a new index at {tmp_path}/site/data/mailroom.db" in result.stderr
    assert f"config {config}" in result.stderr
    again = mailroom("--config", str(config), "triage", "list", cwd=tmp_path)
    assert again.returncode == 0 and "making a new index" not in again.stderr


def test_migrate_makes_the_index_that_other_commands_then_use(tmp_path):
    config = write_config(tmp_path / "site")
    made = mailroom("--config", str(config), "migrate", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "site" / "data" / "mailroom.db").is_file()
    assert f"({f'config {config}'})" in made.stdout
    listed = mailroom("--config", str(config), "triage", "list", cwd=tmp_path)
    assert listed.returncode == 0 and "triage is empty" in listed.stdout


def test_an_empty_postgresql_database_is_not_quietly_made_an_index(tmp_path, postgres):
    url = postgres.create_database()
    config = write_config(tmp_path / "site", database_url=url)
    refused = mailroom("--config", str(config), "triage", "list", cwd=tmp_path)
    assert refused.returncode == 1
    line = refused.stderr.strip()
    assert "has no mailroom index yet" in line and "mailroom migrate" in line
    assert f"config {config}" in line and "Traceback" not in refused.stderr
    assert mailroom("--config", str(config), "report", "tracker", cwd=tmp_path).returncode == 1

    assert mailroom("--config", str(config), "migrate", cwd=tmp_path).returncode == 0
    listed = mailroom("--config", str(config), "triage", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
