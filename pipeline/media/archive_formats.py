"""The three archive formats behind one interface: list the entries, stream the chosen ones.

- zip: the standard library; pyzipper when entries are encrypted (ZipCrypto and AES).
- 7z: py7zr, passwords included (also when the names themselves are encrypted).
- rar: rarfile, which parses RAR headers in Python and reads stored members itself;
  for compressed members it needs an external tool. Debian's `7zip` package is built
  without the non-free RAR codec and `unrar` is non-free, so rarfile is pinned to
  `bsdtar` (libarchive-tools), which reads RAR 4 and 5 but not solid or encrypted RAR:
  an encrypted RAR member stays `encrypted` whatever password is known.

A reader never writes by member name: it pushes each chosen entry's bytes into a sink
the caller opens (pipeline/media/archives.py), so the caller's limits see every byte.
Whatever a reader library raises becomes ArchiveError (opening and listing) or the
failure of one entry; only the caller's own signals (`Refused`, ArchiveUnavailable
for a failing disk) pass through.
"""

from __future__ import annotations

import logging
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from pipeline.errors import ArchiveError, ArchiveUnavailable

log = logging.getLogger(__name__)
CHUNK = 1 << 16
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


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


def open_reader(kind: str, path: Path, passwords: Sequence[Password]) -> Reader:
    """Returns a reader for a zip, 7z or rar file; raises ArchiveError when it cannot be read."""
    cls = {"zip": ZipReader, "7z": SevenZipReader, "rar": RarReader}[kind]
    try:
        return cls(path, passwords)
    except (ArchiveError, ArchiveUnavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - any reader error means "cannot be read"
        raise ArchiveError(f"cannot open {kind} {path.name}: {_describe(exc)}") from exc


def listed(reader: Reader, path: Path) -> list[Entry]:
    """Returns the reader's entries; any reader error becomes ArchiveError."""
    try:
        return reader.entries()
    except Exception as exc:  # noqa: BLE001 - a listing that fails halfway is unreadable
        raise ArchiveError(f"cannot list {reader.kind} {path.name}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


@contextmanager
def _attempt(open_sink: SinkOpener, entry: Entry) -> Iterator[Sink]:
    """Opens a sink for one try at an entry; a try that raises leaves nothing behind."""
    sink = open_sink(entry)
    try:
        yield sink
    except BaseException:
        sink.discard()
        raise
    sink.close()


def _password_bytes(passwords: Sequence[Password]) -> list[tuple[bytes, Password]]:
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


# --------------------------------------------------------------------------- zip


def zip_entry_count(path: Path) -> int | None:
    """Returns the entry count of a zip's end-of-central-directory record, or None.

    Read from the last bytes of the file before zipfile parses a central directory
    that may list 100,000 entries.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 65557))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    count = int.from_bytes(tail[at + 10 : at + 12], "little")
    locator = at - 20
    if count == 0xFFFF and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        offset = int.from_bytes(tail[locator + 8 : locator + 16], "little")
        with open(path, "rb") as fh:
            fh.seek(offset)
            record = fh.read(56)
        if record[:4] == b"PK\x06\x06":
            return int.from_bytes(record[32:40], "little")
    return count


def decode_zip_name(info: zipfile.ZipInfo) -> str:
    """Returns the member name as its author wrote it.

    zipfile decodes names without the UTF-8 flag (bit 11) as cp437. Windows and
    Chinese zip tools write them in the local code page (GBK); macOS writes UTF-8
    without the flag. So: take back the raw bytes and try UTF-8, then GB18030
    when it yields CJK characters, else keep cp437.
    """
    if info.flag_bits & 0x800:
        return info.filename
    unicode_extra = _unicode_path_extra(info)
    if unicode_extra:
        return unicode_extra
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    if raw.isascii():
        return info.filename
    for codec in ("utf-8", "gb18030"):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if codec == "utf-8" or _CJK.search(text):
            return text
    return info.filename


def _unicode_path_extra(info: zipfile.ZipInfo) -> str | None:
    """Returns the Info-ZIP Unicode Path (0x7075) name when present and current."""
    extra, pos = info.extra, 0
    while pos + 4 <= len(extra):
        kind = int.from_bytes(extra[pos : pos + 2], "little")
        size = int.from_bytes(extra[pos + 2 : pos + 4], "little")
        body = extra[pos + 4 : pos + 4 + size]
        if kind == 0x7075 and len(body) > 5 and body[0] == 1:
            raw = info.orig_filename.encode("cp437", errors="replace")
            if int.from_bytes(body[1:5], "little") == zlib.crc32(raw):
                return body[5:].decode("utf-8", errors="replace")
        pos += 4 + size
    return None


class ZipReader:
    kind = "zip"
    names_encrypted = False
    names_password = None

    def __init__(self, path: Path, passwords: Sequence[Password]):
        self.zf = zipfile.ZipFile(path)
        if any(info.flag_bits & 0x1 for info in self.zf.infolist()):
            import pyzipper  # ZipCrypto and WinZip AES; the standard library reads no AES

            self.zf.close()
            self.zf = pyzipper.AESZipFile(path)
        self.last_good: Password | None = None

    def entries(self) -> list[Entry]:
        return [self._entry(n, info) for n, info in enumerate(self.zf.infolist())]

    @staticmethod
    def _entry(index: int, info: zipfile.ZipInfo) -> Entry:
        mode = info.external_attr >> 16 if info.create_system == 3 else 0
        special = bool(mode) and (
            stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
        )
        return Entry(
            index,
            decode_zip_name(info),
            info.file_size,
            info.compress_size,
            is_dir=info.filename.endswith(("/", "\\")),  # ZipInfo.is_dir() fails on ""
            is_link=bool(mode) and stat.S_ISLNK(mode),
            is_special=special,
            encrypted=bool(info.flag_bits & 0x1),
            handle=info,
        )

    def extract(
        self,
        todo: list[Entry],
        open_sink: SinkOpener,
        passwords: Sequence[Password],
        max_skipped: int,
    ) -> dict[int, Outcome]:
        candidates = _password_bytes(passwords)
        return {entry.index: self._one(entry, open_sink, candidates) for entry in todo}

    def _one(self, entry: Entry, open_sink: SinkOpener, candidates) -> Outcome:
        if not entry.encrypted:
            return self._try(entry, open_sink, None)
        # the password that opened the last member first: one archive, one password
        ordered = sorted(candidates, key=lambda c: c[1] != self.last_good)
        for raw, pw in ordered:
            outcome = self._try(entry, open_sink, raw)
            if outcome.state == "ok":
                self.last_good = outcome.password = pw
                return outcome
            if isinstance(outcome.error, Refused):
                return outcome
        return Outcome("locked", tried=len({pw for _, pw in candidates}))

    def _try(self, entry: Entry, open_sink: SinkOpener, pwd: bytes | None) -> Outcome:
        try:
            with _attempt(open_sink, entry) as sink, self.zf.open(entry.handle, pwd=pwd) as src:
                while chunk := src.read(CHUNK):
                    sink.write(chunk)
        except ArchiveUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a bad password, a bad stream: this entry only
            return Outcome("failed", exc)
        return Outcome("ok")

    def close(self) -> None:
        self.zf.close()


# --------------------------------------------------------------------------- 7z


class SevenZipReader:
    """py7zr, whose extraction is told to write each chosen entry into our sinks.

    py7zr names its outputs after the member names (and renames repeats `name_0`),
    so before extracting, every chosen entry is given a synthetic name of its index:
    repeated, very long or very deep names then never reach py7zr's path handling.
    The archive is opened from a file object, which makes py7zr read its folders one
    after another instead of in threads: an error then stops at the member it hit.
    """

    kind = "7z"

    def __init__(self, path: Path, passwords: Sequence[Password]):
        import py7zr

        self.py7zr, self.path = py7zr, path
        self.names_encrypted, self.names_password = False, None
        self.handles: list = []
        try:
            self.szf = self._open(None)
        except py7zr.PasswordRequired:
            self.szf = self._open_with(passwords)

    def _open(self, password: str | None):
        handle = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        self.handles.append(handle)
        return self.py7zr.SevenZipFile(handle, password=password)

    def _open_with(self, passwords: Sequence[Password]):
        for pw in passwords:
            try:
                szf = self._open(pw.text)
            except Exception:  # noqa: BLE001,S112 - a wrong password fails in many ways
                continue
            self.names_password = pw
            return szf
        self.names_encrypted = True
        return None

    def entries(self) -> list[Entry]:
        if self.szf is None:
            return []
        encrypted = self.szf.needs_password()
        return [
            Entry(
                n,
                f.filename or "",
                f.uncompressed or 0,
                f.compressed or None,
                is_dir=f.is_directory,
                is_link=f.is_symlink or f.is_junction,
                is_special=f.is_socket,
                encrypted=encrypted and not f.emptystream,
                handle=f,
            )
            for n, f in enumerate(self.szf.files)
        ]

    def extract(
        self,
        todo: list[Entry],
        open_sink: SinkOpener,
        passwords: Sequence[Password],
        max_skipped: int,
    ) -> dict[int, Outcome]:
        late = self._behind_too_much(todo, max_skipped)
        outcomes = {index: Outcome("failed", _behind_refusal(max_skipped)) for index in late}
        todo = [e for e in todo if e.index not in late]
        if not todo:
            return outcomes
        if not any(e.encrypted for e in todo):
            return {**outcomes, **self._run(self.szf, todo, open_sink, None).results()}
        known = [self.names_password] if self.names_password else list(passwords)
        for pw in known:
            writers = self._run(self._open(pw.text), todo, open_sink, pw)
            if any(writers.outcomes.get(e.index, _NONE).state == "ok" for e in todo if e.encrypted):
                return {**outcomes, **writers.results()}
            writers.discard_closed()  # a wrong password: what it made is not the member
        return {**outcomes, **{e.index: Outcome("locked", tried=len(known)) for e in todo}}

    def _behind_too_much(self, todo: list[Entry], max_skipped: int) -> set[int]:
        """Returns the chosen entries py7zr could reach only by decompressing more than
        max_skipped bytes of entries not chosen before them in the same solid block
        (it decompresses those to check their CRC, and nothing of ours sees it)."""
        chosen = {e.index for e in todo}
        skipped: dict[int, int] = {}
        late: set[int] = set()
        for n, f in enumerate(self.szf.files):
            folder = f.folder
            if folder is None:
                continue
            key = id(folder)
            if n in chosen and skipped.get(key, 0) <= max_skipped:
                continue
            if n in chosen:
                late.add(n)
            skipped[key] = skipped.get(key, 0) + (f.uncompressed or 0)
        return late

    def _run(self, szf, todo, open_sink, pw: Password | None) -> _SevenZipWriters:
        writers = _SevenZipWriters(todo, open_sink, szf.files, pw)
        try:
            szf.extract(path=None, targets=writers.targets, factory=writers)
        except ArchiveUnavailable:
            writers.discard_open()
            raise
        except Exception as exc:  # noqa: BLE001 - py7zr raises many types; all mean "this failed"
            writers.discard_open()
            writers.fail_unfinished(exc)
        finally:
            szf.close()
        return writers

    def close(self) -> None:
        for handle in self.handles:
            handle.close()


_NONE = Outcome("failed")


def _behind_refusal(max_skipped: int) -> Refused:
    reason = (
        "在固实压缩包中排在过大的文件之后，解开它须先解压超过上限的数据"
        f"（{max_skipped // (1 << 20)} MB），未解压"
    )
    return Refused("too_large", "max_archive_total_bytes", reason)


class _SevenZipWriters:
    """py7zr writer factory: each chosen entry streams into a sink of ours.

    A sink that refuses (a limit) becomes a null writer, so py7zr goes on with the
    next member instead of stopping the whole archive.
    """

    def __init__(self, todo: list[Entry], open_sink: SinkOpener, files, pw: Password | None):
        self.open_sink, self.password = open_sink, pw
        self.by_name: dict[str, Entry] = {}
        for entry in todo:
            name = f"mailroom-member-{entry.index}"
            files[entry.index]._file_info["filename"] = name  # see SevenZipReader
            self.by_name[name] = entry
        self.targets = list(self.by_name)
        self.outcomes: dict[int, Outcome] = {}
        self.open: dict[int, _SevenZipWriter] = {}
        self.closed: dict[int, Sink] = {}

    def create(self, filename: str) -> _SevenZipWriter:
        entry = self.by_name[filename.rsplit("/", 1)[-1]]
        writer = _SevenZipWriter(self, entry)
        self.open[entry.index] = writer
        return writer

    def results(self) -> dict[int, Outcome]:
        for entry in self.by_name.values():  # a target py7zr never opened
            self.outcomes.setdefault(entry.index, Outcome("failed", ArchiveError("not found")))
        return {
            index: Outcome(o.state, o.error, self.password if o.state == "ok" else None)
            for index, o in self.outcomes.items()
        }

    def discard_open(self) -> None:
        for writer in list(self.open.values()):
            writer.abandon()

    def discard_closed(self) -> None:
        for sink in self.closed.values():
            sink.discard()
        self.closed.clear()

    def fail_unfinished(self, exc: Exception) -> None:
        """The archive stopped: the entry being read failed, those after it were never read."""
        # py7zr checks a member's CRC after closing its writer: undo that member
        failed = self.by_name.get(str(exc.args[2])) if len(exc.args) == 3 else None
        if failed is not None and failed.index in self.closed:
            self.closed.pop(failed.index).discard()
            self.outcomes[failed.index] = Outcome("failed", exc)
        stopped = ArchiveError(f"not read: the archive stopped at an earlier error ({exc})")
        for entry in self.by_name.values():
            if entry.index not in self.outcomes:
                self.outcomes[entry.index] = Outcome("failed", stopped)


class _SevenZipWriter:
    """The file-like object py7zr pushes one member's bytes into."""

    def __init__(self, factory: _SevenZipWriters, entry: Entry):
        self.factory, self.entry, self.size_ = factory, entry, 0
        try:
            self.sink: Sink | None = factory.open_sink(entry)
        except Refused as refusal:
            self.sink = None
            factory.outcomes[entry.index] = Outcome("failed", refusal)

    def write(self, data) -> int:
        if self.sink is not None:
            try:
                self.sink.write(bytes(data))
            except Refused as refusal:
                self.abandon()
                self.factory.outcomes[self.entry.index] = Outcome("failed", refusal)
            except BaseException as exc:
                self.factory.outcomes[self.entry.index] = Outcome("failed", exc)
                raise
        self.size_ += len(data)
        return len(data)

    def abandon(self) -> None:
        if self.sink is not None:
            self.sink.discard()
            self.sink = None
        self.factory.open.pop(self.entry.index, None)

    def read(self, size=None) -> bytes:
        return b""

    def seek(self, offset, whence=0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self.size_

    def close(self) -> None:
        if self.sink is not None:
            self.sink.close()
            self.factory.closed[self.entry.index] = self.sink
            self.sink = None
            self.factory.outcomes.setdefault(self.entry.index, Outcome("ok"))
        self.factory.open.pop(self.entry.index, None)


# --------------------------------------------------------------------------- rar


@cache
def _pin_rar_tool() -> None:
    """Makes rarfile use bsdtar: the only free RAR decoder Debian packages (see module doc)."""
    import rarfile

    try:
        rarfile.tool_setup(unrar=False, unar=False, sevenzip=False, sevenzip2=False, force=True)
    except rarfile.RarCannotExec:
        log.warning(
            "bsdtar not found: compressed RAR members cannot be read (apt libarchive-tools)"
        )


class RarReader:
    kind = "rar"
    names_password = None

    def __init__(self, path: Path, passwords: Sequence[Password]):
        import rarfile

        _pin_rar_tool()
        self.names_encrypted = False
        try:
            self.rf = rarfile.RarFile(str(path), errors="strict")
        except rarfile.PasswordRequired:
            self.names_encrypted, self.rf = True, None
        if self.rf is not None and self.rf.needs_password() and not self.rf.infolist():
            self.names_encrypted = True

    def entries(self) -> list[Entry]:
        if self.rf is None:
            return []
        return [
            Entry(
                n,
                info.filename,
                info.file_size,
                info.compress_size,
                is_dir=info.is_dir(),
                is_link=info.is_symlink(),
                encrypted=info.needs_password(),
                handle=info,
            )
            for n, info in enumerate(self.rf.infolist())
        ]

    def extract(
        self,
        todo: list[Entry],
        open_sink: SinkOpener,
        passwords: Sequence[Password],
        max_skipped: int,
    ) -> dict[int, Outcome]:
        outcomes = {}
        for entry in todo:
            if entry.encrypted:  # bsdtar cannot decrypt RAR, whatever the password
                outcomes[entry.index] = Outcome("locked", tried=0)
                continue
            try:
                with _attempt(open_sink, entry) as sink, self.rf.open(entry.handle) as src:
                    while chunk := src.read(CHUNK):
                        sink.write(chunk)
            except ArchiveUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - this entry only
                outcomes[entry.index] = Outcome("failed", exc)
            else:
                outcomes[entry.index] = Outcome("ok")
        return outcomes

    def close(self) -> None:
        if self.rf is not None:
            self.rf.close()
