"""Archive unpacking (zip, 7z, rar) within limits judged per member, per archive, per message.

`list_and_extract` reads an archive's listing (the central directory, for a zip)
and decides every member from its headers before anything is extracted: unsafe
names and links are `rejected_unsafe`; system junk (__MACOSX, .DS_Store, Thumbs.db,
~$ lock files) is skipped and counted; a member whose declared size or compression
ratio is over a limit is `too_large`; an encrypted one is tried with the passwords
given, else `encrypted`. The others are streamed into numbered files under the
destination (never by their names, so deep, repeated or hostile names cannot touch
the disk), through a sink that enforces the same limits on the bytes actually written
and on the wall clock. One bad member never spoils the others.

The budgets: `max_members` (refused before anything is read), `max_total_bytes` per
archive with its nested archives, `message_bytes_left` (what the message's own
budget leaves), `max_member_bytes`, `max_ratio` and `max_seconds`. Every refusal
names its limit (the [limits] key) and says so in Chinese for staff.

Raises ArchiveError when the archive cannot be listed (whatever the reader library
raised), and ArchiveUnavailable when the disk fails under it (full, read-only): the
machine's fault, tried again later.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ArchiveError, ArchiveUnavailable
from pipeline.media import archive_names as names
from pipeline.media.archive_7z import SevenZipReader
from pipeline.media.archive_formats import Entry, Outcome, Password, Reader, Refused, describe
from pipeline.media.archive_rar import RarReader
from pipeline.media.archive_zip import ZipReader, zip_entry_count
from pipeline.sniff import sniff

__all__ = ["ArchiveLimits", "Contents", "Member", "Password", "archive_kind", "list_and_extract"]

OK, UNSAFE, TOO_LARGE, ENCRYPTED, CORRUPT = (
    "ok",
    "rejected_unsafe",
    "too_large",
    "encrypted",
    "corrupt",
)
RATIO_FLOOR_BYTES = 1 << 20  # a member smaller than this cannot be a bomb, whatever its ratio
JUNK_NAMES_KEPT = 20  # junk names listed in the container's metadata (all are counted)
HEAD_BYTES = 8192  # kept from each member for sniffing its type
_MAGIC = {b"PK\x03\x04": "zip", b"PK\x05\x06": "zip", b"7z\xbc\xaf": "7z", b"Rar!": "rar"}
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
_READERS = {"zip": ZipReader, "7z": SevenZipReader, "rar": RarReader}


@dataclass(frozen=True)
class ArchiveLimits:
    """The [limits] that bound one archive (with its nested archives)."""

    max_total_bytes: int  # unpacked, per archive with its nested ones
    max_member_bytes: int
    max_ratio: float
    max_members: int
    max_depth: int
    message_bytes_left: int | None = None  # what the message's unpack budget leaves
    message_budget: int | None = None  # that budget as configured (named in refusals)
    max_seconds: float | None = None


@dataclass
class Member:
    """One file inside an archive and what became of it."""

    name: str  # the name it is filed under: decoded, folders flattened, repeats numbered
    path: Path | None  # where it was extracted, None unless status is ok
    size: int  # declared uncompressed size (the real size once extracted)
    status: str  # ok, rejected_unsafe, too_large, encrypted or corrupt
    error: str | None = None  # why not ok, in Chinese for staff
    limit: str | None = None  # the [limits] key that refused it
    detail: str | None = None  # the reader's own words (English), for logs and the index
    entry: int = 0  # position in the archive's listing: the same on every reading
    password_from: str | None = None  # body | staff, when a password opened it
    contents: Contents | None = None  # a nested archive's, once opened
    sha256: str | None = None  # of the extracted bytes (hashed while they streamed)
    head: bytes = b""  # their first HEAD_BYTES, for sniffing the type

    @property
    def nested(self) -> list[Member]:
        return self.contents.members if self.contents else []


@dataclass
class Contents:
    """What an archive held: its members, or why it was not opened as a whole."""

    members: list[Member] = field(default_factory=list)
    status: str = OK  # too_large (too many members) or encrypted (names encrypted)
    error: str | None = None
    limit: str | None = None
    junk: list[str] = field(default_factory=list)  # the first JUNK_NAMES_KEPT names
    junk_count: int = 0
    empty_folders: int = 0
    names_password_from: str | None = None


def archive_kind(path: str | Path) -> str | None:
    """Returns 'zip', '7z' or 'rar' from the file's first bytes, or None."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    return _MAGIC.get(head)


def list_and_extract(
    archive_path: str | Path,
    dest_dir: str | Path,
    limits: ArchiveLimits,
    passwords: Sequence[Password] = (),
) -> Contents:
    """Returns what the archive holds after extracting what may be extracted into `dest_dir`.

    A member that is itself an archive is opened too while the depth allows; all
    levels share the byte, member and time budgets.
    """
    budget = _Budget(limits)
    return _unpack(Path(archive_path), Path(dest_dir), budget, 0, tuple(passwords))


def _unpack(
    archive: Path, dest: Path, budget: _Budget, depth: int, passwords: tuple[Password, ...]
) -> Contents:
    kind = archive_kind(archive)
    if kind is None:
        raise ArchiveError(f"{archive.name} is not a zip, 7z or rar archive")
    declared = zip_entry_count(archive) if kind == "zip" else None
    if declared is not None and declared > 2 * budget.members_left:  # folders count here too
        return budget.too_many(declared)
    reader = open_reader(kind, archive, passwords)
    try:
        if reader.names_encrypted:
            return Contents(status=ENCRYPTED, error=_locked_reason(kind, len(passwords)))
        contents = _extract(reader, listed(reader, archive), dest, budget, passwords)
    finally:
        reader.close()
    if budget.disk_failed:  # a sink met a full disk while the reader was unwinding
        raise budget.disk_failed
    for member in contents.members:
        if member.status == OK and depth < budget.limits.max_depth:
            _open_nested(member, budget, depth, passwords)
    return contents


def open_reader(kind: str, path: Path, passwords: Sequence[Password]) -> Reader:
    """Returns a reader for a zip, 7z or rar file; raises ArchiveError when it cannot be read."""
    cls = _READERS[kind]
    try:
        return cls(path, passwords)
    except (ArchiveError, ArchiveUnavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - any reader error means "cannot be read"
        raise ArchiveError(f"cannot open {kind} {path.name}: {describe(exc)}") from exc


def listed(reader: Reader, path: Path) -> list[Entry]:
    """Returns the reader's entries; any reader error becomes ArchiveError."""
    try:
        return reader.entries()
    except Exception as exc:  # noqa: BLE001 - a listing that fails halfway is unreadable
        raise ArchiveError(f"cannot list {reader.kind} {path.name}: {describe(exc)}") from exc


def _extract(
    reader: Reader, entries: list[Entry], dest: Path, budget: _Budget, passwords
) -> Contents:
    files = [e for e in entries if not e.is_dir]
    if len(files) > budget.members_left:
        return budget.too_many(len(files))
    budget.members_left -= len(files)
    junk = [e for e in files if names.is_junk(e.name)]
    kept = [e for e in files if not names.is_junk(e.name)]
    contents = Contents(
        junk=[e.name for e in junk[:JUNK_NAMES_KEPT]],
        junk_count=len(junk),
        empty_folders=names.empty_folders(
            [e.name for e in entries if e.is_dir], [e.name for e in kept]
        ),
        names_password_from=reader.names_password.source if reader.names_password else None,
    )
    shown = names.numbered(_shown(e) for e in kept)
    contents.members = [_screen(e, name, budget) for e, name in zip(kept, shown, strict=True)]
    todo = {m.entry: m for m in contents.members if m.status == OK}
    if todo:
        dest.mkdir(parents=True, exist_ok=True)
        chosen = [e for e in kept if e.index in todo]
        opener = _SinkOpener(dest, budget, todo)
        outcomes = reader.extract(chosen, opener, passwords, budget.limits.max_total_bytes)
        for entry in chosen:
            _settle(todo[entry.index], outcomes.get(entry.index), reader.kind, passwords)
    return contents


def _shown(entry: Entry) -> str:
    """Returns the name a member is listed under; an unsafe one keeps its own, never used."""
    if names.unsafe_reason(entry.name, is_link=entry.is_link, is_special=entry.is_special):
        return entry.name[: names.MAX_NAME_CHARS]
    return names.shown_name(entry.name)


def _screen(entry: Entry, name: str, budget: _Budget) -> Member:
    """Returns the member with its status decided from the headers alone."""
    member = Member(name, None, entry.size, OK, entry=entry.index)
    problem = names.unsafe_reason(entry.name, is_link=entry.is_link, is_special=entry.is_special)
    if problem:
        member.status, member.error = UNSAFE, problem
        return member
    if entry.packed and entry.size > RATIO_FLOOR_BYTES:
        ratio = entry.size / entry.packed
        if ratio > budget.limits.max_ratio:
            return _refused(member, budget.ratio_refusal(ratio))
    refusal = budget.reserve(entry.size)
    return _refused(member, refusal) if refusal else member


def _refused(member: Member, refusal: Refused) -> Member:
    member.status, member.limit, member.error = refusal.status, refusal.limit, refusal.reason
    return member


def _settle(member: Member, outcome: Outcome | None, kind: str, passwords) -> None:
    """Records how the extraction of one chosen member ended."""
    outcome = outcome or Outcome("failed", ArchiveError("the reader skipped it"))
    if outcome.state == "ok":
        member.password_from = outcome.password.source if outcome.password else None
        return
    member.path = None
    if outcome.state == "locked":
        member.status, member.error = ENCRYPTED, _locked_reason(kind, outcome.tried)
    elif isinstance(outcome.error, Refused):
        _refused(member, outcome.error)
    else:
        member.status, member.error = CORRUPT, _corrupt_reason(outcome.error)
        member.detail = _detail(outcome.error)


def _open_nested(member: Member, budget: _Budget, depth: int, passwords) -> None:
    """Opens a member that is an archive itself; an unreadable one is kept, marked corrupt."""
    assert member.path is not None
    # by content and name: a .docx or .xlsx is a zip too, and must stay one file
    if archive_kind(member.path) is None or sniff(member.head, member.name).media != "archive":
        return
    try:
        member.contents = _unpack(
            member.path,
            member.path.with_name(member.path.name + ".d"),
            budget,
            depth + 1,
            passwords,
        )
    except ArchiveError as exc:
        member.status, member.error = CORRUPT, "内层压缩包已损坏，无法读取"
        member.detail = _detail(exc)


def _locked_reason(kind: str, tried: int) -> str:
    if kind == "rar":
        return "RAR 文件设有密码，本机的解压工具不能解密 RAR，请对方发送不加密的文件"
    if tried:
        return f"文件设有密码，已试过 {tried} 个密码，都不正确"
    return "文件设有密码，邮件中没有找到解压密码"


def _corrupt_reason(exc: BaseException | None) -> str:
    if isinstance(exc, NotImplementedError):
        return "使用了不支持的压缩方式，无法解压"
    return "文件已损坏，无法解压"


def _detail(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return (text.splitlines()[0] if text else type(exc).__name__)[:500]


def human_size(n: float) -> str:
    """Returns a size for staff: 512 B, 3.4 MB, 2.0 GB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


# --------------------------------------------------------------------------- budgets


class _Budget:
    """What one archive (with its nested ones) may still take: bytes, members, time."""

    def __init__(self, limits: ArchiveLimits):
        self.limits = limits
        self.archive_left = limits.max_total_bytes
        self.message_left = (
            limits.message_bytes_left if limits.message_bytes_left is not None else float("inf")
        )
        self.members_left = limits.max_members
        self.deadline = time.monotonic() + limits.max_seconds if limits.max_seconds else None
        self.disk_failed: ArchiveUnavailable | None = None
        self.lock = threading.Lock()  # py7zr may call sinks from its own thread

    def too_many(self, count: int) -> Contents:
        limit = self.limits.max_members
        reason = f"压缩包内有 {count} 个文件，超过上限 {limit} 个，未解压"
        return Contents(status=TOO_LARGE, error=reason, limit="max_archive_members")

    def ratio_refusal(self, ratio: float) -> Refused:
        reason = (
            f"压缩比 {ratio:.0f} 倍，超过上限 {self.limits.max_ratio:g} 倍（疑似压缩炸弹），未解压"
        )
        return Refused(TOO_LARGE, "max_archive_ratio", reason)

    def reserve(self, size: int) -> Refused | None:
        """Takes a member's declared size from the budgets; returns the refusal if it does not fit."""
        limits = self.limits
        if size > limits.max_member_bytes:
            reason = f"解压后 {human_size(size)}，超过单个文件上限 {human_size(limits.max_member_bytes)}，未解压"
            return Refused(TOO_LARGE, "max_archive_member_bytes", reason)
        with self.lock:
            if size > self.message_left and self.message_left <= self.archive_left:
                return Refused(
                    TOO_LARGE,
                    "max_message_unpack_bytes",
                    f"超过单封邮件解压上限 {human_size(limits.message_budget or limits.message_bytes_left or 0)}，未解压",
                )
            if size > self.archive_left:
                return Refused(
                    TOO_LARGE,
                    "max_archive_total_bytes",
                    f"超过单个压缩包解压上限 {human_size(limits.max_total_bytes)}，未解压",
                )
            self.archive_left -= size
            self.message_left -= size
        return None

    def refund(self, size: int) -> None:
        with self.lock:
            self.archive_left += size
            self.message_left += size

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Refused(
                TOO_LARGE,
                "max_archive_seconds",
                f"解压超过时间上限 {self.limits.max_seconds:g} 秒，未解压",
            )

    def disk_error(self, exc: OSError, path: Path) -> ArchiveUnavailable:
        failure = ArchiveUnavailable(
            f"cannot unpack into {path.parent}: {os.strerror(exc.errno or 0)} "
            "— free space on the archive's disk; the archive is unpacked again later"
        )
        self.disk_failed = failure
        return failure


class _SinkOpener:
    """Opens the numbered file a chosen member streams into."""

    def __init__(self, dest: Path, budget: _Budget, members: dict[int, Member]):
        self.dest, self.budget, self.members = dest, budget, members

    def __call__(self, entry: Entry) -> _Sink:
        self.budget.check_time()
        member = self.members[entry.index]
        member.path = self.dest / f"{entry.index:06d}"
        return _Sink(member, entry.size, self.budget)


class _Sink:
    """A new file that refuses to grow past its member's declared size or the clock.

    The declared size was reserved from the budgets when the member was screened, so
    holding the member to it keeps every budget; a failed member gives it back. The
    bytes are hashed and their head kept on the way, so nothing reads them again.
    """

    def __init__(self, member: Member, declared: int, budget: _Budget):
        assert member.path is not None
        self.member, self.path, self.declared, self.budget = member, member.path, declared, budget
        self.written, self.digest, self.head = 0, hashlib.sha256(), bytearray()
        try:
            self.fh = open(self.path, "xb")  # noqa: SIM115 - closed in close()/discard()
        except OSError as exc:
            raise self._translated(exc) from exc

    def write(self, data: bytes) -> None:
        self.written += len(data)
        if self.written > self.declared:
            raise Refused(CORRUPT, None, "实际大小比压缩包记录的大，已按损坏处理")
        self.budget.check_time()
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        self.digest.update(data)
        try:
            self.fh.write(data)
        except OSError as exc:
            raise self._translated(exc) from exc

    def close(self) -> None:
        try:
            self.fh.close()
        except OSError as exc:
            raise self._translated(exc) from exc
        self.member.size, self.member.head = self.written, bytes(self.head)
        self.member.sha256 = self.digest.hexdigest()

    def discard(self) -> None:
        """Removes the file (also after close: py7zr checks a CRC after closing)."""
        if not self.fh.closed:
            try:
                self.fh.close()
            except OSError:
                pass  # the bytes are being thrown away anyway
        self.path.unlink(missing_ok=True)
        self.member.sha256, self.member.head = None, b""
        self.budget.refund(self.declared)

    def _translated(self, exc: OSError) -> Exception:
        if exc.errno in _DISK_ERRNOS:
            return self.budget.disk_error(exc, self.path)
        return exc
