"""Archives built in the tests the way real tools write them: zip (stdlib, and 7-Zip's `7zz`
for ZipCrypto and AES passwords), 7z (py7zr), RAR 4 by hand, and a small real disk to fill."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import warnings
import zipfile
import zlib
from pathlib import Path

import py7zr


def zip_bytes(files: dict[str, bytes] | list[tuple[str, bytes]], *, stored: bool = False) -> bytes:
    """A zip of (name, bytes) members, deflated unless `stored`; repeats allowed in a list."""
    items = files.items() if isinstance(files, dict) else files
    buffer = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", method) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": repeats are what some tests want
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=(2023, 5, 17, 16, 2, 10))
            info.compress_type = method
            if name.endswith("/"):
                info.external_attr = 0o40755 << 16 | 0x10
            zf.writestr(info, data)
    return buffer.getvalue()


def zeros_member(zf: zipfile.ZipFile, name: str, mib: int) -> None:
    """Adds a member of `mib` MiB of zeros, streamed (deflate packs it ~1000:1)."""
    with zf.open(name, "w", force_zip64=True) as fh:
        for _ in range(mib):
            fh.write(bytes(1 << 20))


def encrypted_zip(folder: Path, name: str, files: dict[str, bytes], password: str, *, aes: bool):
    """A password-protected zip made by 7-Zip: ZipCrypto (what Windows and WinRAR's zip
    default to) or AES-256 (WinRAR and 7-Zip's strong option)."""
    src = folder / f"{name}.src"
    src.mkdir(parents=True)
    for member, data in files.items():
        (src / member).parent.mkdir(parents=True, exist_ok=True)
        (src / member).write_bytes(data)
    target = folder / name
    seven_zip = shutil.which("7zz") or shutil.which("7z")  # Debian's 7zip package: 7zz
    method = ["-mem=AES256"] if aes else ["-mem=ZipCrypto"]
    subprocess.run(
        [seven_zip, "a", "-bso0", "-bsp0", "-tzip", f"-p{password}", *method, str(target), "."],
        cwd=src,
        check=True,
    )
    return target


def seven_zip(path: Path, files: dict[str, bytes], **kw) -> Path:
    """A 7z archive (py7zr: LZMA2, solid); `password=`, `header_encryption=` as py7zr takes."""
    with py7zr.SevenZipFile(path, "w", **kw) as szf:
        for name, data in files.items():
            szf.writestr(data, name)
    return path


def rar4(files: list[tuple[str, bytes, int]]) -> bytes:
    """A RAR 4 archive of stored (uncompressed) members, built by hand.

    No free tool writes RAR; the block layout is from RARLAB's technote.txt.
    `files` holds (name, data, extra_flags); flag 0x04 marks a member encrypted.
    """

    def block(body):
        return struct.pack("<H", zlib.crc32(body) & 0xFFFF) + body

    out = b"Rar!\x1a\x07\x00" + block(struct.pack("<BHH", 0x73, 0, 13) + bytes(6))
    for name, data, flags in files:
        raw = name.encode()
        head = struct.pack(
            "<BHHIIBIIBBHI", 0x74, 0x8000 | flags, 32 + len(raw), len(data), len(data),
            2, zlib.crc32(data), 0x58A50000, 20, 0x30, len(raw), 0x20,
        )  # fmt: skip
        out += block(head + raw) + data
    return out + block(struct.pack("<BHH", 0x7B, 0x4000, 7))


def with_empty_name(files: dict[str, bytes], data: bytes) -> bytes:
    """A zip whose last member's name is empty (zipfile refuses to write one: patched in)."""
    raw = bytearray(zip_bytes([*files.items(), ("E", data)]))
    local = raw.rindex(b"PK\x03\x04")
    struct.pack_into("<H", raw, local + 26, 0)
    del raw[local + 30]
    central = raw.rindex(b"PK\x01\x02")
    struct.pack_into("<H", raw, central + 28, 0)
    del raw[central + 46]
    end = raw.rindex(b"PK\x05\x06")
    size, offset = struct.unpack_from("<II", raw, end + 12)
    struct.pack_into("<II", raw, end + 12, size - 1, offset - 1)
    return bytes(raw)


def claims_entries(count: int) -> bytes:
    """A 'zip' whose end record claims `count` entries over a central directory of junk:
    only a reader that trusts the end record before the directory can refuse it cleanly."""
    body = b"PK\x03\x04" + bytes(200)
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, 150, 4, 0)
    return body + eocd
