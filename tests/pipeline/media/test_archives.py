"""Archive unpacking and its guards, on zip, 7z and rar files built in the test."""

import struct
import subprocess
import zipfile
import zlib

import py7zr
import pytest

from pipeline.errors import ArchiveError
from pipeline.media.archives import list_and_extract

LIMITS = dict(max_total_bytes=10_000_000, max_ratio=100, max_members=100, max_depth=2)


def _unpack(archive, tmp_path, **kw):
    return list_and_extract(archive, tmp_path / "out", **{**LIMITS, **kw})


def _by_name(members):
    return {m.name: m for m in members}


def _zip(path, files, **kw):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, **kw) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _zip_with_raw_names(path, raw_names):
    """Write a zip whose names are raw bytes without the UTF-8 flag, as Windows tools do."""
    placeholders = {f"{i:0{len(raw)}d}"[: len(raw)]: raw for i, raw in enumerate(raw_names)}
    assert all(len(p) == len(r) for p, r in placeholders.items())
    _zip(path, {p: b"content of " + r for p, r in placeholders.items()})
    data = path.read_bytes()
    for placeholder, raw in placeholders.items():
        data = data.replace(placeholder.encode(), raw)  # local header and central directory
    path.write_bytes(data)
    return path


def test_gbk_names_without_utf8_flag_are_decoded(tmp_path):
    names = ["教育局/2024年工作总结.docx", "照片.jpg"]
    archive = _zip_with_raw_names(tmp_path / "win.zip", [n.encode("gbk") for n in names])
    members = _by_name(_unpack(archive, tmp_path))
    assert set(members) == set(names)
    m = members["教育局/2024年工作总结.docx"]
    assert m.status == "ok"
    assert m.path == tmp_path / "out" / "教育局" / "2024年工作总结.docx"
    assert m.path.read_bytes() == b"content of " + names[0].encode("gbk")


def test_utf8_names_without_flag_from_macos_are_decoded(tmp_path):
    archive = _zip_with_raw_names(tmp_path / "mac.zip", ["报告.pdf".encode()])
    assert [m.name for m in _unpack(archive, tmp_path)] == ["报告.pdf"]


def test_utf8_flagged_names_are_kept(tmp_path):
    archive = _zip(tmp_path / "u.zip", {"学生名单.xlsx": b"x", "plain.txt": b"y"})
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo("学生名单.xlsx").flag_bits & 0x800
    members = _by_name(_unpack(archive, tmp_path))
    assert members["学生名单.xlsx"].path.read_bytes() == b"x"


def test_ascii_names_keep_working(tmp_path):
    archive = _zip(tmp_path / "a.zip", {"docs/readme.txt": b"hello"})
    (m,) = _unpack(archive, tmp_path)
    assert (m.name, m.status, m.size, m.error) == ("docs/readme.txt", "ok", 5, None)
    assert m.path.read_bytes() == b"hello"


@pytest.mark.parametrize(
    "evil", ["../evil.txt", "a/../../evil.txt", "/etc/x", "C:\\Windows\\x.txt", "..\\evil.txt"]
)
def test_unsafe_names_are_rejected_and_nothing_escapes(tmp_path, evil):
    archive = _zip(tmp_path / "evil.zip", {evil: b"pwned", "fine.txt": b"ok"})
    members = _by_name(_unpack(archive, tmp_path))
    assert members[evil].status == "rejected_unsafe" and members[evil].path is None
    assert members["fine.txt"].status == "ok"
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["evil.zip", "fine.txt"]


def test_symlink_members_are_rejected(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("passwd")
        info.create_system, info.external_attr = 3, (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    (m,) = _unpack(archive, tmp_path)
    assert m.status == "rejected_unsafe" and m.error == "symbolic link"
    assert not (tmp_path / "out" / "passwd").is_symlink()


def test_zip_bomb_is_refused_before_extracting(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("zeros.bin", "w", force_zip64=True) as fh:
            for _ in range(50):
                fh.write(bytes(1 << 20))
    assert archive.stat().st_size < 200_000
    (m,) = _unpack(archive, tmp_path, max_total_bytes=1 << 40)  # only the ratio can stop it
    assert m.status == "too_large" and "expands" in m.error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_total_declared_size_limit(tmp_path):
    archive = _zip(tmp_path / "big.zip", {"a.bin": bytes(3000), "b.bin": bytes(3000)})
    members = _unpack(archive, tmp_path, max_total_bytes=5000)
    assert {m.status for m in members} == {"too_large"}
    assert "5000" in members[0].error


def test_too_many_members(tmp_path):
    archive = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(30)})
    members = _unpack(archive, tmp_path, max_members=10)
    assert len(members) == 30 and {m.status for m in members} == {"too_large"}


def test_small_highly_compressible_files_are_not_mistaken_for_bombs(tmp_path):
    archive = _zip(tmp_path / "sparse.zip", {"blank.txt": b" " * 100_000})
    (m,) = _unpack(archive, tmp_path)
    assert m.status == "ok"


def test_member_whose_declared_size_lies_is_not_extracted(tmp_path):
    archive = _zip(tmp_path / "liar.zip", {"big.bin": bytes(range(256)) * 400})
    data = bytearray(archive.read_bytes())
    cd = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 100)  # central directory: uncompressed size 100
    archive.write_bytes(bytes(data))
    (m,) = _unpack(archive, tmp_path)
    assert m.status == "corrupt" and m.path is None
    assert not (tmp_path / "out" / "big.bin").exists()


def test_encrypted_zip_members_are_marked_encrypted(tmp_path):
    src = tmp_path / "secret.txt"
    src.write_text("top secret")
    archive = tmp_path / "enc.zip"
    subprocess.run(["7zz", "a", "-bso0", "-psecret", "-tzip", archive, src], check=True)
    (m,) = _unpack(archive, tmp_path)
    assert (m.name, m.status, m.path) == ("secret.txt", "encrypted", None)


def test_damaged_member_is_corrupt_and_the_others_survive(tmp_path):
    archive = _zip(tmp_path / "d.zip", {"a.txt": b"A" * 5000 + bytes(range(256)), "b.txt": b"fine"})
    data = bytearray(archive.read_bytes())
    start = data.index(b"a.txt") + 5 + 10  # inside a.txt's deflate stream
    data[start : start + 8] = b"\xff" * 8
    archive.write_bytes(bytes(data))
    members = _by_name(_unpack(archive, tmp_path))
    assert members["a.txt"].status == "corrupt" and members["a.txt"].error
    assert members["b.txt"].status == "ok"


def test_truncated_archive_raises_archive_error(tmp_path):
    archive = _zip(tmp_path / "t.zip", {"a.txt": b"x" * 1000})
    archive.write_bytes(archive.read_bytes()[:60])
    with pytest.raises(ArchiveError, match="cannot open zip t.zip"):
        _unpack(archive, tmp_path)


def test_not_an_archive_raises_archive_error(tmp_path):
    f = tmp_path / "x.zip"
    f.write_bytes(b"hello")
    with pytest.raises(ArchiveError, match="not a zip, 7z or rar"):
        _unpack(f, tmp_path)


def test_repeated_names_do_not_overwrite_each_other(tmp_path):
    archive = tmp_path / "dup.zip"
    with zipfile.ZipFile(archive, "w") as zf, pytest.warns(UserWarning):
        zf.writestr("a.txt", b"first")
        zf.writestr("a.txt", b"second")
    members = _unpack(archive, tmp_path)
    assert [m.path.read_bytes() for m in members] == [b"first", b"second"]
    assert members[1].path.name == "a (2).txt"


def _nest(tmp_path, depth):
    inner = _zip(tmp_path / "level0.zip", {"deep.txt": b"bottom"})
    for level in range(1, depth + 1):
        inner = _zip(tmp_path / f"level{level}.zip", {inner.name: inner.read_bytes()})
    return inner


def test_nested_archives_are_unpacked_up_to_the_depth(tmp_path):
    outer = _nest(tmp_path, 2)  # level2.zip > level1.zip > level0.zip > deep.txt
    (l1,) = _unpack(outer, tmp_path, max_depth=1)  # open archives inside the archive, no deeper
    (l0,) = l1.nested
    assert l0.name == "level0.zip" and l0.status == "ok"
    assert l0.nested == []  # depth reached: kept as a file, not opened
    assert l0.path.is_file()

    (l1,) = _unpack(outer, tmp_path / "deeper", max_depth=2)
    (deep,) = l1.nested[0].nested
    assert deep.name == "deep.txt" and deep.path.read_bytes() == b"bottom"


def test_nested_archives_share_the_byte_budget(tmp_path):
    inner = _zip(tmp_path / "inner.zip", {"x.bin": bytes(range(256)) * 20})
    outer = _zip(
        tmp_path / "outer.zip", {"inner.zip": inner.read_bytes(), "y.bin": bytes(range(256)) * 20}
    )
    budget = (outer.stat().st_size + 5120) + 100  # outer members fit, the inner one does not
    (m_inner, m_y) = _unpack(outer, tmp_path, max_total_bytes=budget)
    assert m_y.status == "ok"
    assert [n.status for n in m_inner.nested] == ["too_large"]


def test_7z_archive_is_extracted(tmp_path):
    archive = tmp_path / "a.7z"
    with py7zr.SevenZipFile(archive, "w") as szf:
        szf.writestr("通知.txt".encode() * 100, "文件夹/通知.txt")
        szf.writestr(b"second", "b.txt")
    members = _by_name(_unpack(archive, tmp_path))
    assert members["文件夹/通知.txt"].path.read_bytes() == "通知.txt".encode() * 100
    assert members["b.txt"].status == "ok"


def test_7z_bomb_is_refused(tmp_path):
    archive = tmp_path / "bomb.7z"
    with py7zr.SevenZipFile(archive, "w") as szf:
        szf.writestr(bytes(20 << 20), "zeros.bin")
    (m,) = _unpack(archive, tmp_path, max_total_bytes=1 << 40)
    assert m.status == "too_large"


def test_encrypted_7z_members_are_marked_encrypted(tmp_path):
    archive = tmp_path / "enc.7z"
    with py7zr.SevenZipFile(archive, "w", password="secret") as szf:
        szf.writestr(b"hidden", "a.txt")
    (m,) = _unpack(archive, tmp_path)
    assert (m.name, m.status) == ("a.txt", "encrypted")


def test_7z_with_encrypted_names_is_one_encrypted_member(tmp_path):
    archive = tmp_path / "hidden.7z"
    with py7zr.SevenZipFile(archive, "w", password="secret", header_encryption=True) as szf:
        szf.writestr(b"hidden", "a.txt")
    (m,) = _unpack(archive, tmp_path)
    assert (m.name, m.status) == ("hidden.7z", "encrypted")


def _rar4(files):
    """Return a RAR 4 archive of stored (uncompressed) members, built by hand.

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


def test_rar_members_are_extracted_and_guarded(tmp_path):
    archive = tmp_path / "a.rar"
    archive.write_bytes(
        _rar4(
            [
                ("report.txt", b"stored text", 0),
                ("../evil.txt", b"x", 0),
                ("locked.txt", b"?", 0x04),
            ]
        )
    )
    members = _by_name(_unpack(archive, tmp_path))
    assert members["report.txt"].path.read_bytes() == b"stored text"
    assert members["../evil.txt"].status == "rejected_unsafe"
    assert members["locked.txt"].status == "encrypted"


def test_broken_rar_raises_archive_error(tmp_path):
    archive = tmp_path / "b.rar"
    archive.write_bytes(b"Rar!\x1a\x07\x00" + b"\x00" * 20)
    with pytest.raises(ArchiveError, match="cannot open rar b.rar"):
        _unpack(archive, tmp_path)
