"""Finding the archive password a sender wrote in the subject or the body."""

import time

import pytest

from pipeline.passwords import find_passwords


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("韩老师：\n附件为我市材料，解压密码：hdz0518，请查收。", ["hdz0518"]),
        ("解压密码:hdz0518。", ["hdz0518"]),  # half-width colon, full stop after
        ("文件已加密，密码：ｈｄｚ０５１８（小写）", ["hdz0518"]),  # full-width, from an IME
        ("压缩包密码为“Dl-2023”，谢谢", ["Dl-2023"]),
        ("口令【liaoning】", ["liaoning"]),
        ("密码 是 abc123", ["abc123"]),
        ("解压密码如下：\n\n   k8s!2023\n\n大连市教育局", ["k8s!2023"]),
        ("解压密码\nqwe123", ["qwe123"]),
        ("Password: Secret.2023.", ["Secret.2023", "Secret.2023."]),
        ("pwd=abc", ["abc"]),
        ("密码：另行告知", []),
        ("登录密码错误，请重试", []),
        ("韩老师，附件是我市的方案，请查收", []),
    ],
)
def test_passwords_in_the_body_are_found_as_people_write_them(body, expected):
    assert find_passwords("", body) == expected


def test_the_subject_comes_first_and_html_bodies_are_read():
    found = find_passwords(
        "活动周材料（解压密码：123456）", "", "<div>密码：</div><div>ab12cd</div>"
    )
    assert found == ["123456", "ab12cd"]


def test_a_hostile_body_is_scanned_in_linear_time():
    started = time.process_time()
    find_passwords("", "密码：" * 200_000)
    find_passwords("", ("密码" + " " * 60 + "\n") * 50_000)
    assert time.process_time() - started < 2  # quadratic scanning would take minutes


def test_crlf_line_ends_from_outlook_are_read_like_lf():
    body = "韩老师：\r\n\r\n附件是新闻稿，压缩包密码如下：\r\n\r\n“Cy#2023”\r\n\r\n朝阳市教育局"
    assert find_passwords("", body) == ["Cy#2023"]
