"""Local sources of raw mail: .eml files, folders of them, Maildir and mbox."""

from __future__ import annotations

import logging
import mailbox
from collections.abc import Iterator
from pathlib import Path

from workers.ingest_result import SourceRef

log = logging.getLogger(__name__)
_SKIP_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
# Files that are certainly not mail, e.g. notes kept beside exported messages.
_SKIP_SUFFIXES = {
    ".md",
    ".tsv",
    ".csv",
    ".json",
    ".toml",
    ".db",
    ".db-wal",
    ".db-shm",
    ".py",
    ".xlsx",
    ".log",
}


def is_maildir(path: Path) -> bool:
    return path.is_dir() and all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def is_mbox(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(5)
    return head == b"From " and path.suffix.lower() not in (".eml",)


def mail_files(path: Path) -> Iterator[Path]:
    """Yields every mail file or Maildir under path, in a stable order."""
    if is_maildir(path) or path.is_file():
        yield path
        return
    if not path.is_dir():
        return
    for child in sorted(path.iterdir()):
        if (
            child.name.startswith(".")
            or child.name in _SKIP_NAMES
            or child.suffix.lower() in _SKIP_SUFFIXES
            or child.name.endswith(("-wal", "-shm"))
        ):
            continue
        yield from mail_files(child)


def read_messages(path: Path) -> Iterator[tuple[bytes, SourceRef]]:
    """Yields (raw bytes, source) for each message in a file, Maildir or mbox."""
    if is_maildir(path):
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.keys()):
            yield box.get_bytes(key), SourceRef("maildir", f"{path}/{key}")
    elif is_mbox(path):
        box = mailbox.mbox(path, factory=None, create=False)
        for index, key in enumerate(box.keys()):
            yield box.get_bytes(key), SourceRef("mbox", f"{path}#{index + 1}")
    else:
        # Everything else is offered to the parser: it reads an Outlook .msg too, and
        # records what it cannot read (an empty file, no headers) with a reason.
        yield path.read_bytes(), SourceRef("file", str(path))
