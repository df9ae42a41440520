"""Archive unpacking (zip, 7z, rar) with guards against unsafe names and zip bombs.

Every member becomes a `Member` with a status; only a broken archive as a whole
raises ArchiveError. Limits are checked on the declared sizes before anything is
written, and again on the bytes actually written while streaming.

Backends: zipfile (stdlib), py7zr, and rarfile. rarfile parses RAR headers in
Python and reads stored members itself; for compressed members it needs an
external tool. Debian's `7zip` package is built without the non-free RAR codec
and `unrar` is non-free, so we pin rarfile to `bsdtar` (libarchive-tools), which
reads RAR 4 and RAR 5 but not solid or encrypted RAR.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from pipeline.errors import ArchiveError

log = logging.getLogger(__name__)

OK, UNSAFE, TOO_LARGE, ENCRYPTED, CORRUPT = (
    "ok",
    "rejected_unsafe",
    "too_large",
    "encrypted",
    "corrupt",
)
RATIO_FLOOR_BYTES = 1 << 20  # a member smaller than this cannot be a bomb, whatever its ratio
CHUNK = 1 << 16
_MAGIC = {b"PK\x03\x04": "zip", b"PK\x05\x06": "zip", b"7z\xbc\xaf": "7z", b"Rar!": "rar"}
_DRIVE = re.compile(r"^[A-Za-z]:")
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass
class Member:
    """One file inside an archive and what became of it."""

    name: str  # decoded name, relative, as stored in the archive
    path: Path | None  # where it was extracted, None unless status is ok
    size: int  # declared uncompressed size
    status: str  # ok, rejected_unsafe, too_large, encrypted or corrupt
    error: str | None = None
    nested: list[Member] = field(default_factory=list)  # members of a nested archive


@dataclass
class _Entry:
    name: str
    size: int
    packed: int | None  # compressed size; None when the format does not say (solid 7z)
    is_dir: bool
    is_link: bool
    encrypted: bool
    handle: object


@dataclass
class _Limits:
    max_total_bytes: int
    max_ratio: float
    max_members: int
    max_depth: int
    bytes_left: int = 0
    members_left: int = 0


class _TooLarge(Exception):
    pass


def archive_kind(path: str | Path) -> str | None:
    """Return 'zip', '7z' or 'rar' from the file's first bytes, or None."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return _MAGIC.get(head)


def list_and_extract(
    archive_path: str | Path,
    dest_dir: str | Path,
    *,
    max_total_bytes: int,
    max_ratio: float,
    max_members: int,
    max_depth: int,
    depth: int = 0,
) -> list[Member]:
    """Return the archive's members after extracting the safe ones into `dest_dir`.

    A member that is itself an archive is unpacked into `<its path>.contents/` while
    `depth < max_depth`; the byte and member budgets are shared by all levels.
    Raises ArchiveError when the archive itself cannot be read.
    """
    limits = _Limits(max_total_bytes, max_ratio, max_members, max_depth)
    limits.bytes_left, limits.members_left = max_total_bytes, max_members
    return _unpack(Path(archive_path), Path(dest_dir), limits, depth)


def _unpack(archive: Path, dest: Path, limits: _Limits, depth: int) -> list[Member]:
    kind = archive_kind(archive)
    if kind is None:
        raise ArchiveError(f"{archive.name} is not a zip, 7z or rar archive")
    backend = {"zip": _ZipBackend, "7z": _SevenZipBackend, "rar": _RarBackend}[kind](archive)
    try:
        entries = [e for e in backend.entries() if not e.is_dir]
        if backend.headers_encrypted:
            return [Member(archive.name, None, 0, ENCRYPTED, "member names are encrypted")]
        refusal = _archive_refusal(entries, archive.stat().st_size, limits)
        if refusal:
            return [Member(e.name, None, e.size, TOO_LARGE, refusal) for e in entries]
        limits.members_left -= len(entries)
        members = _extract_all(backend, entries, dest.resolve(), limits)
    finally:
        backend.close()
    for member in members:
        _expand_nested(member, limits, depth)
    return members


def _archive_refusal(entries: list[_Entry], archive_size: int, limits: _Limits) -> str | None:
    """Return why the whole archive is refused (count, declared total, overall ratio), or None."""
    total = sum(e.size for e in entries)
    if len(entries) > limits.members_left:
        return f"{len(entries)} members, more than the {limits.members_left} allowed"
    if total > limits.bytes_left:
        return f"{total} bytes declared, more than the {limits.bytes_left} allowed"
    if total > RATIO_FLOOR_BYTES and total / max(1, archive_size) > limits.max_ratio:
        return f"expands {total / max(1, archive_size):.0f}x, more than {limits.max_ratio:g}x"
    return None


def _extract_all(backend, entries: list[_Entry], dest: Path, limits: _Limits) -> list[Member]:
    members, todo, taken = [], [], set()
    for entry in entries:
        member = _screen(entry, limits)
        members.append(member)
        if member.status == OK:
            member.path = _unique_target(dest, member.name, taken)
            todo.append((entry, member))
    backend.extract(todo, limits, dest)
    return members


def _screen(entry: _Entry, limits: _Limits) -> Member:
    """Return the member with its status decided from the headers alone."""
    problem = _unsafe_reason(entry)
    if problem:
        return Member(entry.name, None, entry.size, UNSAFE, problem)
    if entry.encrypted:
        return Member(entry.name, None, entry.size, ENCRYPTED, "password protected")
    if entry.packed and entry.size > RATIO_FLOOR_BYTES:
        ratio = entry.size / entry.packed
        if ratio > limits.max_ratio:
            reason = f"expands {ratio:.0f}x, more than {limits.max_ratio:g}x"
            return Member(entry.name, None, entry.size, TOO_LARGE, reason)
    return Member(entry.name, None, entry.size, OK)


def _unsafe_reason(entry: _Entry) -> str | None:
    name = entry.name
    if entry.is_link:
        return "symbolic link"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute path"
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        return "path goes outside the archive (..)"
    if "\0" in name or not [p for p in parts if p not in ("", ".")]:
        return "empty or invalid name"
    return None


def _unique_target(dest: Path, name: str, taken: set[Path]) -> Path:
    """Return a path inside `dest` for `name`; a repeated name gets ' (2)', ' (3)'..."""
    rel = PurePosixPath(*[p for p in re.split(r"[\\/]", name) if p not in ("", ".")])
    target = dest.joinpath(rel)
    if os.path.commonpath([dest, target]) != str(dest):  # belt and braces after _unsafe_reason
        raise ArchiveError(f"refusing to write {name!r} outside {dest}")
    n = 2
    while target in taken or target.exists():
        target = target.with_name(f"{rel.stem} ({n}){rel.suffix}")
        n += 1
    taken.add(target)
    return target


def _stream_to(src: BinaryIO, member: Member, limits: _Limits) -> None:
    """Copy `src` into member.path in chunks, never holding a whole member in memory."""
    with _CappedFile(member, limits) as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)


class _CappedFile:
    """A new file that refuses to grow past the member's declared size or the byte budget."""

    def __init__(self, member: Member, limits: _Limits):
        assert member.path is not None
        member.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(member.path, "xb")  # noqa: SIM115 - closed in close()
        self.member, self.limits, self.written = member, limits, 0

    def write(self, chunk: bytes) -> None:
        self.written += len(chunk)
        if self.written > self.member.size:
            raise _TooLarge("larger than its declared size")
        if self.written > self.limits.bytes_left:
            raise _TooLarge("total size limit reached while extracting")
        self.fh.write(chunk)

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()
            self.limits.bytes_left -= self.written

    def __enter__(self) -> _CappedFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _record_failure(member: Member, exc: Exception) -> None:
    """Mark a member whose extraction failed and remove the partial file."""
    if member.path is not None:
        member.path.unlink(missing_ok=True)
    member.path = None
    cause = exc.cause if isinstance(exc, _Stopped) else exc
    member.status = TOO_LARGE if isinstance(cause, _TooLarge) else CORRUPT
    member.error = str(exc) or type(exc).__name__


def _expand_nested(member: Member, limits: _Limits, depth: int) -> None:
    if member.status != OK or member.path is None or depth >= limits.max_depth:
        return
    if archive_kind(member.path) is None:
        return
    inner = member.path.with_name(member.path.name + ".contents")
    try:
        member.nested = _unpack(member.path, inner, limits, depth + 1)
    except ArchiveError as exc:
        member.status, member.error = CORRUPT, f"nested archive: {exc}"
        shutil.rmtree(inner, ignore_errors=True)


# --------------------------------------------------------------------------- zip


def decode_zip_name(info: zipfile.ZipInfo) -> str:
    """Return the member name as its author wrote it.

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
    """Return the Info-ZIP Unicode Path (0x7075) name when present and current."""
    extra, pos = info.extra, 0
    while pos + 4 <= len(extra):
        kind, size = (
            int.from_bytes(extra[pos : pos + 2], "little"),
            int.from_bytes(extra[pos + 2 : pos + 4], "little"),
        )
        body = extra[pos + 4 : pos + 4 + size]
        if kind == 0x7075 and len(body) > 5 and body[0] == 1:
            raw = info.orig_filename.encode("cp437", errors="replace")
            if int.from_bytes(body[1:5], "little") == zlib.crc32(raw):
                return body[5:].decode("utf-8", errors="replace")
        pos += 4 + size
    return None


class _ZipBackend:
    headers_encrypted = False

    def __init__(self, path: Path):
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise ArchiveError(f"cannot open zip {path.name}: {exc}") from exc

    def entries(self) -> Iterator[_Entry]:
        for info in self.zf.infolist():
            mode = info.external_attr >> 16
            is_link = info.create_system == 3 and stat.S_ISLNK(mode)
            yield _Entry(
                decode_zip_name(info),
                info.file_size,
                info.compress_size,
                info.is_dir(),
                is_link,
                bool(info.flag_bits & 0x1),
                info,
            )

    def extract(self, todo, limits: _Limits, dest: Path) -> None:
        for entry, member in todo:
            try:
                with self.zf.open(entry.handle) as src:
                    _stream_to(src, member, limits)
            except (_TooLarge, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                _record_failure(member, exc)
            except NotImplementedError as exc:  # compression method zipfile lacks
                _record_failure(member, exc)

    def close(self) -> None:
        self.zf.close()


# --------------------------------------------------------------------------- 7z


class _SevenZipBackend:
    def __init__(self, path: Path):
        import py7zr

        self.py7zr = py7zr
        self.path = path
        self.headers_encrypted = False
        try:
            self.szf = py7zr.SevenZipFile(path)
        except py7zr.PasswordRequired:
            self.headers_encrypted, self.szf = True, None
        except (py7zr.Bad7zFile, py7zr.exceptions.ArchiveError, OSError, EOFError) as exc:
            raise ArchiveError(f"cannot open 7z {path.name}: {exc}") from exc

    def entries(self) -> Iterator[_Entry]:
        if self.szf is None:
            return
        encrypted = self.szf.needs_password()
        for f in self.szf.list():
            # solid archives give no per-file compressed size; the overall ratio still applies
            yield _Entry(
                f.filename,
                f.uncompressed,
                f.compressed or None,
                f.is_directory,
                f.is_symlink,
                encrypted,
                f.filename,
            )

    def extract(self, todo, limits: _Limits, dest: Path) -> None:
        if not todo:
            return
        factory = _SevenZipWriters({entry.handle: member for entry, member in todo}, limits, dest)
        try:
            self.szf.extract(path=dest, targets=list(factory.by_name), factory=factory)
        except Exception as exc:  # noqa: BLE001 - py7zr raises many types; all mean "this failed"
            for sink in factory.sinks:
                if sink.out is not None:
                    sink.out.fh.close()
            for member in factory.unfinished():
                _record_failure(member, exc if member is factory.current else _Stopped(exc))

    def close(self) -> None:
        if self.szf is not None:
            self.szf.close()


class _Stopped(Exception):
    def __init__(self, cause: Exception):
        super().__init__(f"not extracted: the archive stopped at an earlier error ({cause})")
        self.cause = cause


class _SevenZipWriters:
    """py7zr writer factory: each member streams to disk through a `_CappedFile`."""

    def __init__(self, by_name: dict[str, Member], limits: _Limits, dest: Path):
        self.by_name, self.limits, self.prefix = by_name, limits, dest.as_posix() + "/"
        self.done: set[int] = set()
        self.current: Member | None = None
        self.sinks: list[_SevenZipSink] = []

    def create(self, filename: str) -> _SevenZipSink:
        self.current = self.by_name.get(filename.removeprefix(self.prefix))
        self.sinks.append(_SevenZipSink(self, self.current))
        return self.sinks[-1]

    def unfinished(self) -> list[Member]:
        return [m for m in self.by_name.values() if id(m) not in self.done]


class _SevenZipSink:
    """The file-like object py7zr pushes one member's bytes into."""

    def __init__(self, factory: _SevenZipWriters, member: Member | None):
        self.factory, self.member, self._size = factory, member, 0
        # member is None for a repeated name py7zr renamed to "name_1": not kept
        self.out = _CappedFile(member, factory.limits) if member else None

    def write(self, data) -> int:
        if self.out is not None:
            self.out.write(bytes(data))
        self._size += len(data)
        return len(data)

    def read(self, size=None) -> bytes:
        return b""

    def seek(self, offset, whence=0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self._size

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.factory.done.add(id(self.member))


# --------------------------------------------------------------------------- rar


@cache
def _pin_rar_tool() -> None:
    """Make rarfile use bsdtar: the only free RAR decoder Debian packages (see module doc)."""
    import rarfile

    try:
        rarfile.tool_setup(unrar=False, unar=False, sevenzip=False, sevenzip2=False, force=True)
    except rarfile.RarCannotExec:
        log.warning(
            "bsdtar not found: compressed RAR members cannot be read (apt libarchive-tools)"
        )


class _RarBackend:
    headers_encrypted = False

    def __init__(self, path: Path):
        import rarfile

        _pin_rar_tool()
        self.rarfile = rarfile
        try:
            self.rf = rarfile.RarFile(str(path), errors="strict")
        except rarfile.PasswordRequired:
            self.headers_encrypted, self.rf = True, None
        except (rarfile.Error, OSError) as exc:
            raise ArchiveError(f"cannot open rar {path.name}: {exc}") from exc
        if self.rf is not None and self.rf.needs_password() and not self.rf.infolist():
            self.headers_encrypted = True

    def entries(self) -> Iterator[_Entry]:
        if self.rf is None:
            return
        for info in self.rf.infolist():
            yield _Entry(
                info.filename,
                info.file_size,
                info.compress_size,
                info.is_dir(),
                info.is_symlink(),
                info.needs_password(),
                info,
            )

    def extract(self, todo, limits: _Limits, dest: Path) -> None:
        for entry, member in todo:
            try:
                with self.rf.open(entry.handle) as src:
                    _stream_to(src, member, limits)
            except (_TooLarge, self.rarfile.Error, OSError, EOFError) as exc:
                _record_failure(member, exc)

    def close(self) -> None:
        if self.rf is not None:
            self.rf.close()
