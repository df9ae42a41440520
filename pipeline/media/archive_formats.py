"""What every archive reader shares: the entries it lists, the sinks it streams into.

The readers (archive_zip.py, archive_7z.py, archive_rar.py) never write by member
name: each pushes a chosen entry's bytes into a sink the caller opens
(pipeline/media/archives.py), so the caller's limits see every byte. Whatever a
reader library raises becomes ArchiveError (opening and listing) or the failure of
one entry; only the caller's own signals (`Refused`, ArchiveUnavailable for a
failing disk) pass through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

CHUNK = 1 << 16


@dataclass(frozen=True)
class Password:
    """A password to try, and where it came from: `body` (the message) or `staff`."""

    text: str
    source: str


@dataclass
class Entry:
    """One entry of an archive's listing, as its headers describe it."""

    index: int  # position in the listing: the same on every reading of the same bytes
    name: str
    size: int  # declared uncompressed size
    packed: int | None  # compressed size; None when the format does not say (solid 7z)
    is_dir: bool = False
    is_link: bool = False
    is_special: bool = False  # a device, pipe or socket
    encrypted: bool = False
    handle: object = None


class Refused(Exception):
    """Raised by a sink (or when opening one): this entry goes over a limit. Never retried."""

    def __init__(self, status: str, limit: str | None, reason: str):
        super().__init__(reason)
        self.status, self.limit, self.reason = status, limit, reason


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...  # complete: keep the file
    def discard(self) -> None: ...  # failed: remove what was written


SinkOpener = Callable[[Entry], Sink]


@dataclass
class Outcome:
    """What became of one chosen entry: extracted (with the password used), failed, locked."""

    state: str  # ok | failed | locked
    error: Exception | None = None
    password: Password | None = None
    tried: int = 0  # passwords tried on a locked entry


class Reader(Protocol):
    kind: str
    names_encrypted: bool  # the listing itself needs a password none of ours opened
    names_password: Password | None  # the password that opened an encrypted listing

    def entries(self) -> list[Entry]: ...
    def extract(
        self,
        todo: list[Entry],
        open_sink: SinkOpener,
        passwords: Sequence[Password],
        max_skipped: int,
    ) -> dict[int, Outcome]:
        """Streams the chosen entries into sinks; `max_skipped`: how many bytes of entries
        not chosen may be decompressed to reach a chosen one (a solid 7z)."""
        ...

    def close(self) -> None: ...


def describe(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


@contextmanager
def attempt(open_sink: SinkOpener, entry: Entry) -> Iterator[Sink]:
    """Opens a sink for one try at an entry; a try that raises leaves nothing behind."""
    sink = open_sink(entry)
    try:
        yield sink
    except BaseException:
        sink.discard()
        raise
    sink.close()


def password_bytes(passwords: Sequence[Password]) -> list[tuple[bytes, Password]]:
    """Returns each password as UTF-8 and, when different, GBK bytes (WinRAR on Chinese
    Windows encrypts zips with the local code page)."""
    out: list[tuple[bytes, Password]] = []
    for pw in passwords:
        for codec in ("utf-8", "gbk"):
            try:
                raw = pw.text.encode(codec)
            except UnicodeEncodeError:
                continue
            if (raw, pw) not in out and all(raw != r for r, _ in out):
                out.append((raw, pw))
    return out
