"""`mailroom poll --once` on a mailbox with nothing new loads only what polling needs.

Checked by the modules a real run imports (not by timing it, which a busy test
machine would make flaky): the decoders, the web server, the broker client,
Alembic and the ingestion code belong to other commands, or to filing a message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, TEST_UNITS
from tests.workers.sources.imap.test_client import make_raw

NOT_FOR_AN_UNCHANGED_POLL = [
    "alembic",
    "zhconv",
    "pkg_resources",
    "PIL",
    "mailparser",
    "charset_normalizer",
    "pipeline.media.video",
    "pipeline.media.images",
    "apscheduler",
    "celery",
    "starlette",
    "uvicorn",
    "workers.web_commands",
    "workers.report_commands",
    "workers.ingest",  # filing: the parser, classifier and search index
    "pipeline.parse",
    "workers.reports.mailer",
]


def poll_once(config: Path) -> tuple[str, list[str]]:
    """Runs `mailroom poll --once`; returns its output and the listed modules it imported."""
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: print(json.dumps([m for m in {NOT_FOR_AN_UNCHANGED_POLL!r} "
        "if m in sys.modules])))\n"
        "from workers.cli import main\n"
        "main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--config", str(config), "poll", "--once"],
        cwd=config.parent, capture_output=True, text=True, timeout=120,
        env={**os.environ, "MAILROOM_IMAP_PASSWORD": "secret", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    output, _, loaded = done.stdout.rstrip("\n").rpartition("\n")
    return output, json.loads(loaded)


def test_polling_an_unchanged_mailbox_loads_no_decoder_web_or_broker_library(tmp_path, dovecot):
    config = tmp_path / "config.toml"
    config.write_text(
        f'units_file = "{TEST_UNITS}"\n'
        '[storage]\narchive_dir = "archive"\ndatabase_url = "sqlite:///index.db"\n'
        "[[mailbox]]\n"
        f'name = "official"\nhost = "127.0.0.1"\nport = {dovecot.port}\nsecurity = "none"\n'
        'username = "alice"\npassword_env = "MAILROOM_IMAP_PASSWORD"\n',
        encoding="utf-8",
    )
    dovecot.append("INBOX", make_raw(1))
    first, _ = poll_once(config)
    assert "1 new" in first
    again, loaded = poll_once(config)
    assert "0 new" in again
    assert loaded == []
