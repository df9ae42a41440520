"""The console command: ingest summary, JSON Lines exports, errors as one line, help text."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.conftest import MAIL, write_config
from workers.cli import cli

MAILROOM = str(Path(sys.executable).with_name("mailroom"))
MESSAGE_KEYS = [
    "message_id",
    "date",
    "from",
    "subject",
    "unit",
    "unit_name",
    "confidence",
    "campaign",
    "campaign_confidence",
    "is_material",
    "flags",
    "forwarded_from",
    "items",
    "raw_path",
    "error",
]
ITEM_KEYS = [
    "message_id",
    "name",
    "campaign",
    "kind",
    "media",
    "sha256",
    "size",
    "status",
    "error",
    "path",
    "duplicate_of",
    "container",
    "url",
    "thumbnail",
    "preview",
    "web_video",
    "password_from",
]


def run(site: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the real console command in a subprocess, configured by MAILROOM_CONFIG."""
    env = {**os.environ, "MAILROOM_CONFIG": str(site / "config.toml")}
    done = subprocess.run([MAILROOM, *args], capture_output=True, text=True, env=env, cwd=site)
    if check and done.returncode != 0:
        raise AssertionError(done.stderr)
    return done


def invoke(site: Path, *args: str):
    """Runs a command in this process (faster); returns click's result."""
    result = CliRunner().invoke(
        cli, list(args), env={"MAILROOM_CONFIG": str(site / "config.toml")}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result


def make_site(folder: Path, database_url: str = "sqlite:///data/mailroom.db") -> Path:
    write_config(folder, database_url=database_url)
    inbox = folder / "inbox"
    inbox.mkdir()
    for name in (
        "gbk-rfc2047-filename.eml",
        "qq-quoted-2047-and-2231.eml",
        "auto-reply.eml",
        "damaged-attachment.eml",
    ):
        shutil.copy(MAIL / name, inbox / name)
    return folder


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site folder with a config (SQLite index) and four messages in its inbox."""
    return make_site(tmp_path / "site")


@pytest.fixture(params=["sqlite", "postgres"])
def any_site(request, tmp_path: Path) -> Path:
    """The same site on SQLite and on the real PostgreSQL server."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres").create_database()
        return make_site(tmp_path / "site", url)
    return make_site(tmp_path / "site")


def test_ingest_prints_a_summary_and_exports_are_stable_json_lines(any_site):
    site = any_site
    out = run(site, "ingest", "inbox").stdout
    assert "messages: 4 read, 3 filed, 0 to triage, 1 not material" in out
    assert "照片(photo) 4" in out and "活动周方案(plan) 1" in out
    messages = [json.loads(line) for line in run(site, "export", "messages").stdout.splitlines()]
    assert [list(m) for m in messages] == [MESSAGE_KEYS] * 4
    by_id = {m["message_id"]: m for m in messages}
    plan = by_id["<gbk-1@test.mailroom>"]
    assert plan["date"] == "2023-05-16T09:12:30+08:00"
    assert (plan["unit"], plan["unit_name"], plan["items"]) == ("dalian", "大连市教育局", 1)
    assert plan["raw_path"].startswith("raw/") and (site / "archive" / plan["raw_path"]).exists()
    assert by_id["<auto@test.mailroom>"]["flags"] == ["auto_reply"]
    assert by_id["<auto@test.mailroom>"]["is_material"] is False
    items = [json.loads(line) for line in run(site, "export", "items").stdout.splitlines()]
    assert all(list(i) == ITEM_KEYS for i in items)
    broken = next(i for i in items if i["name"] == "broken.jpg")
    assert broken["status"] == "corrupt" and broken["error"]
    for item in items:
        assert (site / "archive" / item["path"]).is_file()
        assert item["kind"] in ("plan", "case", "manuscript", "photo", "video", "summary", "other")


def test_export_filters_by_day_and_unit(site):
    invoke(site, "ingest", str(site / "inbox"))

    def ids(*args):
        out = invoke(site, "export", "messages", *args).stdout
        return sorted(json.loads(line)["message_id"] for line in out.splitlines())

    assert ids("--unit", "dalian") == ["<gbk-1@test.mailroom>"]
    assert ids("--since", "2023-05-17") == []
    assert len(ids("--since", "2023-05-16", "--until", "2023-05-16")) == 4


def test_reingest_reports_everything_already_ingested(site):
    invoke(site, "ingest", str(site / "inbox"))
    out = invoke(site, "ingest", str(site / "inbox")).stdout
    assert "messages: 4 read, 0 filed" in out and "4 already ingested" in out


def test_a_bad_config_is_one_line_and_exit_code_1(site):
    (site / "config.toml").write_text("[storage]\ndatabase_url = 42\n", encoding="utf-8")
    done = run(site, "export", "messages", check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"mailroom: {site / 'config.toml'}: storage.database_url: must be a SQLAlchemy URL "
        "such as sqlite:///data/mailroom.db or postgresql+psycopg://user@host/db"
    ]


def test_config_option_overrides_the_environment(site, tmp_path):
    other = tmp_path / "other"
    write_config(other)
    invoke(site, "--config", str(other / "config.toml"), "ingest", str(site / "inbox"))
    assert (other / "data" / "mailroom.db").exists()
    assert (other / "archive" / "raw").is_dir()
    assert not (site / "archive").exists()


def all_commands(group: click.Group, prefix: str = ""):
    context = click.Context(group)  # list_commands/get_command: `mailroom` loads them lazily
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix}{name} ")


@pytest.mark.parametrize("name,command", list(all_commands(cli)))
def test_every_command_has_help_with_an_example(name, command):
    assert command.help, f"mailroom {name} has no help text"
    if not isinstance(command, click.Group):
        assert "Example:" in command.help, f"mailroom {name}'s help shows no example"


@pytest.mark.parametrize(
    "section,key",
    [
        ('[media]\nworkers = "two"\n', "media.workers"),
        (
            '[[mailbox]]\nname = "x"\nhost = "imap.example.cn"\nsecurity = "none"\nusername = "u"\n'
            'password_env = "P"\n',
            "mailbox[0].security",
        ),
    ],
)
def test_every_section_is_checked_when_mailroom_starts(site, section, key):
    with open(site / "config.toml", "a", encoding="utf-8") as handle:
        handle.write("\n" + section)
    done = run(site, "export", "messages", check=False)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"mailroom: {site / 'config.toml'}: {key}: ")
