"""Encrypted zips (ZipCrypto, AES) and 7z archives opened with the passwords we know."""

import os

import py7zr

from pipeline.media.archive_formats import Password
from pipeline.media.archives import ArchiveLimits, list_and_extract
from tests.support import archive_files as af

LIMITS = ArchiveLimits(
    max_total_bytes=10_000_000,
    max_member_bytes=10_000_000,
    max_ratio=100,
    max_members=100,
    max_depth=2,
)
FILES = {"活动方案.docx": b"plan " * 500, "照片/开幕式.jpg": os.urandom(3000)}


def _open(archive, tmp_path, *passwords):
    return list_and_extract(archive, tmp_path / "out", LIMITS, passwords)


def _states(contents):
    return {m.name: (m.status, m.password_from) for m in contents.members}


def test_a_zipcrypto_zip_opens_with_the_password_from_the_body(tmp_path):
    archive = af.encrypted_zip(tmp_path, "材料.zip", FILES, "hdz0518", aes=False)
    contents = _open(archive, tmp_path, Password("wrong", "staff"), Password("hdz0518", "body"))
    assert _states(contents) == {
        "活动方案.docx": ("ok", "body"),
        "照片/开幕式.jpg": ("ok", "body"),
    }
    by_name = {m.name: m for m in contents.members}
    assert by_name["照片/开幕式.jpg"].path.read_bytes() == FILES["照片/开幕式.jpg"]


def test_an_aes_zip_opens_with_a_password_staff_typed(tmp_path):
    archive = af.encrypted_zip(tmp_path, "材料.zip", FILES, "Ln-2023!", aes=True)
    contents = _open(archive, tmp_path, Password("Ln-2023!", "staff"))
    assert set(_states(contents).values()) == {("ok", "staff")}


def test_a_chinese_password_set_on_chinese_windows_is_tried_in_gbk(tmp_path):
    import pyzipper

    archive = tmp_path / "gbk.zip"  # WinRAR on Chinese Windows: the password's GBK bytes
    with pyzipper.AESZipFile(archive, "w", encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword("辽宁二〇二三".encode("gbk"))
        zf.writestr("说明.txt", "活动周".encode())
    contents = _open(archive, tmp_path, Password("辽宁二〇二三", "body"))
    assert _states(contents) == {"说明.txt": ("ok", "body")}


def test_wrong_passwords_leave_the_members_encrypted_and_say_how_many_were_tried(tmp_path):
    archive = af.encrypted_zip(tmp_path, "材料.zip", FILES, "right", aes=True)
    contents = _open(archive, tmp_path, Password("one", "body"), Password("two", "staff"))
    assert {m.status for m in contents.members} == {"encrypted"}
    assert contents.members[0].error == "文件设有密码，已试过 2 个密码，都不正确"
    assert not any(p.is_file() for p in tmp_path.joinpath("out").rglob("*"))
    locked = _open(archive, tmp_path / "none")
    assert locked.members[0].error == "文件设有密码，邮件中没有找到解压密码"


def test_an_encrypted_7z_opens_with_the_right_password(tmp_path):
    archive = af.seven_zip(tmp_path / "a.7z", FILES, password="mima")
    contents = _open(archive, tmp_path, Password("nope", "body"), Password("mima", "body"))
    assert set(_states(contents).values()) == {("ok", "body")}


def test_a_7z_with_encrypted_names_is_encrypted_as_a_whole_until_a_password_opens_it(tmp_path):
    archive = af.seven_zip(tmp_path / "h.7z", FILES, password="mima", header_encryption=True)
    locked = _open(archive, tmp_path / "a")
    assert (locked.status, locked.members) == ("encrypted", [])
    opened = _open(archive, tmp_path / "b", Password("bad", "body"), Password("mima", "staff"))
    assert opened.status == "ok" and opened.names_password_from == "staff"
    assert set(_states(opened).values()) == {("ok", "staff")}


def test_a_plain_member_beside_encrypted_ones_needs_no_password(tmp_path):
    archive = tmp_path / "mixed.7z"
    with py7zr.SevenZipFile(archive, "w") as szf:
        szf.writestr(b"open text", "说明.txt")
    contents = _open(archive, tmp_path, Password("unused", "body"))
    assert _states(contents) == {"说明.txt": ("ok", None)}
