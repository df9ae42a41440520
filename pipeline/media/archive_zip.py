"""Zip archives: the standard library, and pyzipper when entries are encrypted.

pyzipper reads both ZipCrypto (what Windows, WinRAR and 360压缩 write by default) and
WinZip AES (their strong option); the standard library reads no AES. Member names are
decoded as their authors wrote them (GBK from Chinese Windows tools, UTF-8 from macOS,
both without the UTF-8 flag).
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from pipeline.errors import ArchiveUnavailable
from pipeline.media.archive_formats import (
    CHUNK,
    Entry,
    Outcome,
    Password,
    Refused,
    SinkOpener,
    attempt,
    password_bytes,
)

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


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
        candidates = password_bytes(passwords)
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
            with attempt(open_sink, entry) as sink, self.zf.open(entry.handle, pwd=pwd) as src:
                while chunk := src.read(CHUNK):
                    sink.write(chunk)
        except ArchiveUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a bad password, a bad stream: this entry only
            return Outcome("failed", exc)
        return Outcome("ok")

    def close(self) -> None:
        self.zf.close()
