"""Archive unpacking and its guards, on zip, 7z and rar files built in the test."""

import io
import os
import random
import struct
import time
import zipfile

import pytest

from pipeline.errors import ArchiveError, ArchiveUnavailable
from pipeline.media.archives import ArchiveLimits, list_and_extract
from tests.support import archive_files as af
from tests.support.disks import tmpfs

LIMITS = dict(
    max_total_bytes=10_000_000,
    max_member_bytes=10_000_000,
    max_ratio=100,
    max_members=100,
    max_depth=2,
)


def _contents(archive, tmp_path, passwords=(), **kw):
    limits = ArchiveLimits(**{**LIMITS, **kw})
    return list_and_extract(archive, tmp_path / "out", limits, passwords)


def _unpack(archive, tmp_path, passwords=(), **kw):
    return _contents(archive, tmp_path, passwords, **kw).members


def _by_name(members):
    return {m.name: m for m in members}


def _write(path, data):
    path.write_bytes(data)
    return path


def _zip_with_raw_names(path, raw_names):
    """Writes a zip whose names are raw bytes without the UTF-8 flag, as Windows tools do."""
    placeholders = {f"{i:0{len(raw)}d}"[: len(raw)]: raw for i, raw in enumerate(raw_names)}
    assert all(len(p) == len(r) for p, r in placeholders.items())
    data = af.zip_bytes({p: b"content of " + r for p, r in placeholders.items()})
    for placeholder, raw in placeholders.items():
        data = data.replace(placeholder.encode(), raw)  # local header and central directory
    return _write(path, data)


def _files_under(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


# -- names ------------------------------------------------------------------------------


def test_gbk_names_without_utf8_flag_are_decoded(tmp_path):
    names = ["教育局/2024年工作总结.docx", "照片.jpg"]
    archive = _zip_with_raw_names(tmp_path / "win.zip", [n.encode("gbk") for n in names])
    members = _by_name(_unpack(archive, tmp_path))
    assert set(members) == set(names)
    m = members["教育局/2024年工作总结.docx"]
    assert m.status == "ok" and m.path.parent == tmp_path / "out"
    assert m.path.read_bytes() == b"content of " + names[0].encode("gbk")


def test_utf8_names_without_flag_from_macos_are_decoded(tmp_path):
    archive = _zip_with_raw_names(tmp_path / "mac.zip", ["报告.pdf".encode()])
    assert [m.name for m in _unpack(archive, tmp_path)] == ["报告.pdf"]


def test_utf8_flagged_and_ascii_names_are_kept(tmp_path):
    archive = _write(
        tmp_path / "u.zip", af.zip_bytes({"学生名单.xlsx": b"x", "docs/readme.txt": b"hello"})
    )
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo("学生名单.xlsx").flag_bits & 0x800
    members = _by_name(_unpack(archive, tmp_path))
    assert members["学生名单.xlsx"].path.read_bytes() == b"x"
    readme = members["docs/readme.txt"]
    assert (readme.status, readme.size, readme.error) == ("ok", 5, None)


@pytest.mark.parametrize(
    "evil", ["../evil.txt", "a/../../evil.txt", "/etc/x", "C:\\Windows\\x.txt", "..\\evil.txt"]
)
def test_unsafe_names_are_rejected_and_nothing_escapes(tmp_path, evil):
    archive = _write(tmp_path / "evil.zip", af.zip_bytes({evil: b"pwned", "fine.txt": b"ok"}))
    members = _by_name(_unpack(archive, tmp_path))
    assert members[evil].status == "rejected_unsafe" and members[evil].path is None
    assert "已拒收" in members[evil].error
    assert members["fine.txt"].status == "ok"
    assert [p.read_bytes() for p in _files_under(tmp_path / "out")] == [b"ok"]
    assert _files_under(tmp_path) == [tmp_path / "evil.zip", members["fine.txt"].path]


def test_symlink_members_are_rejected(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("passwd")
        info.create_system, info.external_attr = 3, (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    (m,) = _unpack(archive, tmp_path)
    assert m.status == "rejected_unsafe" and m.error == "符号链接，已拒收"
    assert not any(p.is_symlink() for p in tmp_path.rglob("*"))


def test_a_member_with_an_empty_name_is_rejected_and_recorded(tmp_path):
    archive = _write(tmp_path / "e.zip", af.with_empty_name({"照片.jpg": b"photo"}, b"no name"))
    members = _unpack(archive, tmp_path)
    assert [(m.name, m.status, m.error) for m in members] == [
        ("照片.jpg", "ok", None),
        ("", "rejected_unsafe", "文件名为空，已拒收"),
    ]


def test_repeated_names_are_numbered_and_each_is_kept(tmp_path):
    archive = _write(
        tmp_path / "dup.zip", af.zip_bytes([("a.txt", f"copy {n}".encode()) for n in range(1001)])
    )
    members = _unpack(archive, tmp_path, max_members=2000)
    assert [m.name for m in members[:3]] == ["a.txt", "a (2).txt", "a (3).txt"]
    assert members[-1].name == "a (1001).txt"
    assert len({m.name for m in members}) == 1001
    assert [m.path.read_bytes() for m in members[:2]] == [b"copy 0", b"copy 1"]


def test_a_path_of_two_thousand_folders_is_flattened(tmp_path):
    deep = "/".join(f"d{n}" for n in range(1990)) + "/报告.docx"
    archive = _write(tmp_path / "deep.zip", af.zip_bytes({deep: b"deep", "封面.jpg": b"jpg"}))
    members = _by_name(_unpack(archive, tmp_path))
    (name,) = [n for n in members if n.endswith("报告.docx")]
    assert name == "d0/d1/…/d1987/d1988/d1989/报告.docx"
    assert members[name].status == "ok" and members[name].path.read_bytes() == b"deep"


def test_system_junk_is_skipped_and_counted_and_empty_folders_too(tmp_path):
    files = {
        "照片/开幕式.jpg": b"photo",
        "__MACOSX/照片/._开幕式.jpg": b"\x00\x05\x16\x07 AppleDouble",
        "照片/.DS_Store": b"Bud1",
        "照片/Thumbs.db": b"\xd0\xcf\x11\xe0",
        "desktop.ini": b"[.ShellClassInfo]",
        "~$活动方案.docx": b"lock",
        "活动方案.docx": b"docx",
        "空文件夹/": b"",
        "照片/": b"",
    }
    contents = _contents(_write(tmp_path / "mac.zip", af.zip_bytes(files)), tmp_path)
    assert sorted(m.name for m in contents.members) == ["活动方案.docx", "照片/开幕式.jpg"]
    assert contents.junk_count == 5 and "desktop.ini" in contents.junk
    assert contents.empty_folders == 1
    assert len(_files_under(tmp_path / "out")) == 2


# -- limits -----------------------------------------------------------------------------


def _photo_and_zeros(path, mib=20):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("封面.jpg", os.urandom(60_000))
        af.zeros_member(zf, "zeros.bin", mib)
    return path


def test_one_bomb_member_is_too_large_and_the_photo_beside_it_is_extracted(tmp_path):
    archive = _photo_and_zeros(tmp_path / "bomb.zip")
    assert archive.stat().st_size < 200_000
    members = _by_name(
        _unpack(archive, tmp_path, max_total_bytes=1 << 40, max_member_bytes=1 << 40)
    )
    zeros, photo = members["zeros.bin"], members["封面.jpg"]
    assert (zeros.status, zeros.limit, zeros.path) == ("too_large", "max_archive_ratio", None)
    assert "压缩比" in zeros.error and "超过上限 100 倍" in zeros.error
    assert photo.status == "ok" and photo.path.stat().st_size == 60_000
    assert _files_under(tmp_path / "out") == [photo.path]


def test_a_member_over_the_member_limit_is_too_large_the_others_are_kept(tmp_path):
    big, small = os.urandom(300_000), os.urandom(1000)
    archive = _write(tmp_path / "m.zip", af.zip_bytes({"大视频.mp4": big, "小.jpg": small}))
    members = _by_name(_unpack(archive, tmp_path, max_member_bytes=200_000))
    assert members["大视频.mp4"].limit == "max_archive_member_bytes"
    assert "超过单个文件上限" in members["大视频.mp4"].error
    assert members["小.jpg"].path.read_bytes() == small


def test_members_fill_the_archive_budget_in_order_and_the_rest_are_refused(tmp_path):
    data = {f"{n}.bin": os.urandom(3000) for n in range(3)}
    members = _unpack(
        _write(tmp_path / "t.zip", af.zip_bytes(data)), tmp_path, max_total_bytes=7000
    )
    assert [m.status for m in members] == ["ok", "ok", "too_large"]
    assert members[2].limit == "max_archive_total_bytes"
    assert members[2].error.startswith("超过单个压缩包解压上限")


def test_the_message_budget_is_named_in_chinese_when_it_is_the_one_hit(tmp_path):
    data = {f"{n}.bin": os.urandom(3000) for n in range(3)}
    archive = _write(tmp_path / "t.zip", af.zip_bytes(data))
    members = _unpack(archive, tmp_path, message_bytes_left=4000, message_budget=5000)
    assert [m.status for m in members] == ["ok", "too_large", "too_large"]
    assert members[1].limit == "max_message_unpack_bytes"
    assert members[1].error == "超过单封邮件解压上限 4.9 KB，未解压"


def test_too_many_members_are_refused_as_a_whole_without_items(tmp_path):
    archive = _write(tmp_path / "many.zip", af.zip_bytes({f"f{i}.txt": b"x" for i in range(30)}))
    contents = _contents(archive, tmp_path, max_members=10)
    assert (contents.status, contents.limit, contents.members) == (
        "too_large",
        "max_archive_members",
        [],
    )
    assert contents.error == "压缩包内有 30 个文件，超过上限 10 个，未解压"
    assert not (tmp_path / "out").exists()


def test_the_member_count_is_refused_from_the_end_record_before_the_directory_is_read(tmp_path):
    archive = _write(tmp_path / "claims.zip", af.claims_entries(60_000))
    contents = _contents(archive, tmp_path, max_members=2000)
    assert contents.status == "too_large" and "60000 个文件" in contents.error
    with pytest.raises(zipfile.BadZipFile):  # its directory is junk: it was never read
        zipfile.ZipFile(archive)


def test_a_real_zip_of_100000_empty_members_is_refused_at_once_by_the_shipped_limit(tmp_path):
    """Issue 18's row: it was still being worked on after 5 minutes."""
    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(100_000):
            zf.writestr(f"{i}.txt", b"")
    started = time.monotonic()
    contents = _contents(path, tmp_path, max_members=2000)  # the shipped max_archive_members
    seconds = time.monotonic() - started
    assert (contents.status, contents.limit, contents.members) == (
        "too_large",
        "max_archive_members",
        [],
    )
    assert "100000 个文件" in contents.error and not (tmp_path / "out").exists()
    assert seconds < 5, f"took {seconds:.1f} s"  # read from the end record: well under 1 ms


def test_small_highly_compressible_files_are_not_mistaken_for_bombs(tmp_path):
    archive = _write(tmp_path / "sparse.zip", af.zip_bytes({"blank.txt": b" " * 100_000}))
    (m,) = _unpack(archive, tmp_path)
    assert m.status == "ok"


def test_a_member_whose_declared_size_lies_is_not_extracted(tmp_path):
    data = bytearray(af.zip_bytes({"big.bin": bytes(range(256)) * 400}))
    cd = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 100)  # central directory: uncompressed size 100
    (m,) = _unpack(_write(tmp_path / "liar.zip", bytes(data)), tmp_path)
    assert m.status == "corrupt" and m.path is None and m.detail
    assert _files_under(tmp_path / "out") == []


def test_unpacking_past_the_time_limit_is_refused_with_the_limit_named(tmp_path):
    archive = _write(tmp_path / "slow.zip", af.zip_bytes({"a.txt": b"a", "b.txt": b"b"}))
    members = _unpack(archive, tmp_path, max_seconds=1e-9)
    assert {(m.status, m.limit) for m in members} == {("too_large", "max_archive_seconds")}
    assert members[0].error == "解压超过时间上限 1e-09 秒，未解压"


# -- broken archives ---------------------------------------------------------------------


def test_a_damaged_member_is_corrupt_and_the_others_survive(tmp_path):
    data = bytearray(af.zip_bytes({"a.txt": b"A" * 5000 + bytes(range(256)), "b.txt": b"fine"}))
    start = data.index(b"a.txt") + 5 + 10  # inside a.txt's deflate stream
    data[start : start + 8] = b"\xff" * 8
    members = _by_name(_unpack(_write(tmp_path / "d.zip", bytes(data)), tmp_path))
    assert members["a.txt"].status == "corrupt" and members["a.txt"].error == "文件已损坏，无法解压"
    assert members["a.txt"].detail  # the reader's own words, for the log
    assert members["b.txt"].status == "ok"


def test_a_truncated_archive_raises_archive_error(tmp_path):
    archive = _write(tmp_path / "t.zip", af.zip_bytes({"a.txt": b"x" * 1000})[:60])
    with pytest.raises(ArchiveError, match="cannot open zip t.zip"):
        _unpack(archive, tmp_path)


def test_not_an_archive_raises_archive_error(tmp_path):
    with pytest.raises(ArchiveError, match="not a zip, 7z or rar"):
        _unpack(_write(tmp_path / "x.zip", b"hello"), tmp_path)


def test_a_7z_with_a_damaged_header_raises_archive_error(tmp_path):
    archive = af.seven_zip(tmp_path / "h.7z", {"a.txt": b"text " * 200, "b.txt": b"more"})
    data = bytearray(archive.read_bytes())
    data[-20:-10] = b"\x00" * 10  # the (packed) header sits at the end
    with pytest.raises(ArchiveError, match="cannot (open|list) 7z h.7z"):
        _unpack(_write(archive, bytes(data)), tmp_path)


def test_mutated_archives_raise_only_archive_error(tmp_path):
    """A few hundred mutations in the test; bench/bench_archive_fuzz.py runs a thousand."""
    seeds = [
        af.zip_bytes({"a/照片.jpg": bytes(range(256)) * 40, "b.txt": b"hello " * 300}),
        af.seven_zip(
            tmp_path / "s.7z", {"a.txt": b"hello " * 300, "b.bin": os.urandom(2000)}
        ).read_bytes(),
        af.rar4([("r.txt", b"stored text" * 50, 0), ("s.txt", b"abc" * 100, 0)]),
    ]
    rng = random.Random(14)
    for n in range(150):
        data = bytearray(seeds[n % 3])
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        archive = _write(tmp_path / f"m{n}", bytes(data))
        try:
            _unpack(archive, tmp_path / f"o{n}")
        except ArchiveError:
            pass
    assert all(p.is_relative_to(tmp_path) for p in tmp_path.rglob("*"))


def test_a_disk_that_fills_while_unpacking_raises_archive_unavailable(tmp_path):
    archive = _write(tmp_path / "big.zip", af.zip_bytes({"a.bin": os.urandom(3_000_000)}))
    with tmpfs(tmp_path / "disk", "1m") as disk, pytest.raises(ArchiveUnavailable) as exc:
        list_and_extract(archive, disk / "out", ArchiveLimits(**LIMITS))
    assert "free space on the archive's disk" in str(exc.value)


# -- nesting and formats ----------------------------------------------------------------


def _nest(tmp_path, depth):
    inner = _write(tmp_path / "level0.zip", af.zip_bytes({"deep.txt": b"bottom"}))
    for level in range(1, depth + 1):
        inner = _write(
            tmp_path / f"level{level}.zip", af.zip_bytes({inner.name: inner.read_bytes()})
        )
    return inner


def test_nested_archives_are_unpacked_up_to_the_depth(tmp_path):
    outer = _nest(tmp_path, 2)  # level2.zip > level1.zip > level0.zip > deep.txt
    (l1,) = _unpack(outer, tmp_path, max_depth=1)  # open archives inside the archive, no deeper
    (l0,) = l1.nested
    assert l0.name == "level0.zip" and l0.status == "ok"
    assert l0.nested == [] and l0.contents is None  # depth reached: kept as a file
    assert l0.path.is_file()

    (l1,) = _unpack(outer, tmp_path / "deeper", max_depth=2)
    (deep,) = l1.nested[0].nested
    assert deep.name == "deep.txt" and deep.path.read_bytes() == b"bottom"


def test_nested_archives_share_the_byte_budget(tmp_path):
    inner = af.zip_bytes({"x.bin": os.urandom(5000)})
    outer = _write(
        tmp_path / "outer.zip", af.zip_bytes({"inner.zip": inner, "y.bin": os.urandom(5000)})
    )
    budget = len(inner) + 5000 + 100  # the outer members fit, the inner one's does not
    (m_inner, m_y) = _unpack(outer, tmp_path, max_total_bytes=budget)
    assert m_y.status == "ok"
    assert [(n.status, n.limit) for n in m_inner.nested] == [
        ("too_large", "max_archive_total_bytes")
    ]


def test_a_nested_archive_that_cannot_be_read_is_kept_and_marked_corrupt(tmp_path):
    outer = _write(tmp_path / "o.zip", af.zip_bytes({"坏的.zip": b"PK\x03\x04 not really"}))
    (m,) = _unpack(outer, tmp_path)
    assert (m.status, m.error) == ("corrupt", "内层压缩包已损坏，无法读取")
    assert m.path.is_file() and m.detail


def test_a_7z_archive_is_extracted(tmp_path):
    archive = af.seven_zip(
        tmp_path / "a.7z", {"文件夹/通知.txt": "通知".encode() * 100, "b.txt": b"x"}
    )
    members = _by_name(_unpack(archive, tmp_path))
    assert members["文件夹/通知.txt"].path.read_bytes() == "通知".encode() * 100
    assert members["b.txt"].status == "ok"


def test_a_7z_bomb_member_is_refused_and_its_neighbour_kept(tmp_path):
    archive = af.seven_zip(
        tmp_path / "bomb.7z", {"封面.jpg": os.urandom(5000), "zeros.bin": bytes(20 << 20)}
    )
    members = _by_name(_unpack(archive, tmp_path, max_total_bytes=1 << 40))
    assert members["zeros.bin"].status == "too_large"
    assert members["封面.jpg"].status == "ok"


def test_a_7z_member_behind_a_refused_one_in_a_solid_block_is_not_decompressed(tmp_path):
    archive = af.seven_zip(
        tmp_path / "solid.7z", {"zeros.bin": bytes(30 << 20), "after.txt": b"late"}
    )
    members = _by_name(
        _unpack(archive, tmp_path, max_member_bytes=10 << 20, max_total_bytes=20 << 20)
    )
    assert members["zeros.bin"].status == "too_large"
    assert members["after.txt"].status == "too_large" and "固实压缩包" in members["after.txt"].error


def test_7z_members_with_repeated_names_are_each_kept(tmp_path):
    archive = tmp_path / "dup.7z"
    import py7zr

    with py7zr.SevenZipFile(archive, "w") as szf:
        szf.writestr(b"first", "a.txt")
        szf.writestr(b"second", "a.txt")
    members = _unpack(archive, tmp_path)
    assert [(m.name, m.path.read_bytes()) for m in members] == [
        ("a.txt", b"first"),
        ("a (2).txt", b"second"),
    ]


def test_rar_members_are_extracted_and_guarded(tmp_path):
    files = [
        ("report.txt", b"stored text", 0),
        ("../evil.txt", b"x", 0),
        ("locked.txt", b"?", 0x04),
    ]
    members = _by_name(_unpack(_write(tmp_path / "a.rar", af.rar4(files)), tmp_path))
    assert members["report.txt"].path.read_bytes() == b"stored text"
    assert members["../evil.txt"].status == "rejected_unsafe"
    assert members["locked.txt"].status == "encrypted" and "RAR" in members["locked.txt"].error


def test_a_broken_rar_raises_archive_error(tmp_path):
    archive = _write(tmp_path / "b.rar", b"Rar!\x1a\x07\x00" + b"\x00" * 20)
    with pytest.raises(ArchiveError, match="cannot open rar b.rar"):
        _unpack(archive, tmp_path)


def test_zip_entry_count_reads_zip64_end_records(tmp_path):
    from pipeline.media.archive_zip import zip_entry_count

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for n in range(70_000):  # over 65,535: the count lives in the zip64 record
            zf.writestr(f"{n}", b"")
    archive = _write(tmp_path / "z64.zip", buffer.getvalue())
    assert zip_entry_count(archive) == 70_000
    assert _contents(archive, tmp_path).status == "too_large"


def test_a_docx_inside_a_zip_stays_one_file(tmp_path):
    from tests.support import media_files as files

    archive = _write(tmp_path / "d.zip", af.zip_bytes({"稿件.docx": files.docx_file("新闻稿")}))
    (m,) = _unpack(archive, tmp_path)
    assert m.status == "ok" and m.contents is None  # a zip by its bytes, a document by its kind
