"""Charset labels from mail headers: only text encodings are ever used to decode."""

from __future__ import annotations

import base64

import pytest

from pipeline.charsets import codec_for, decode_bytes, decode_encoded_words
from pipeline.parse import parse_message

# Python's codec registry answers for names that are no charset: codecs.lookup("zlib"),
# "base64", "rot13" and "undefined" all succeed, and decoding text with them fails.
HOSTILE = ["undefined", "zlib", "base64", "rot13", "hex", "bz2", "uu", "idna", "punycode",
           "unicode_escape", "raw-unicode-escape", "x\x00y"]  # fmt: skip


@pytest.mark.parametrize("label", HOSTILE)
def test_a_label_naming_no_text_encoding_is_unknown(label):
    assert codec_for(label) is None
    assert decode_bytes("沈阳市教育局".encode("gb18030"), label) == "沈阳市教育局"


def test_real_charsets_and_their_aliases_still_resolve():
    assert codec_for("GB2312") == "gb18030"
    assert codec_for('"utf-8"') == "utf-8"
    assert codec_for("big5") == "big5hkscs"
    assert codec_for("utf-7") == "utf-7"


def test_an_encoded_word_labelled_base64_is_decoded_by_the_fallback():
    word = base64.b64encode("活动周方案".encode()).decode()
    assert decode_encoded_words(f"=?base64?B?{word}?=") == "活动周方案"


def _message(body_charset: str, subject_charset: str, filename_charset: str) -> bytes:
    subject = base64.b64encode("大连市教育局活动周稿件".encode()).decode()
    photo = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 64).decode()
    name = "%E7%85%A7%E7%89%87.jpg"  # 照片.jpg, UTF-8 percent-encoded (RFC 2231)
    return (
        "From: =?utf-8?B?5aSn6L+e?= <xc@dl.edu.example.cn>\r\n"
        "To: zcc@example.cn\r\n"
        f"Subject: =?{subject_charset}?B?{subject}?=\r\n"
        "Message-ID: <charset-1@example.cn>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\n"
        f'Content-Type: text/plain; charset="{body_charset}"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "您好，附件是活动照片，请查收。\r\n"
        "--b1\r\n"
        f"Content-Type: image/jpeg; name*={filename_charset}''{name}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; filename*={filename_charset}''{name}\r\n\r\n"
        f"{photo}\r\n"
        "--b1--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("body", "subject", "filename"),
    [("undefined", "utf-8", "utf-8"), ("zlib", "base64", "rot13"), ("utf-8", "undefined", "zlib")],
)
def test_a_message_with_crafted_charset_names_is_parsed_whole(body, subject, filename):
    msg = parse_message(_message(body, subject, filename))
    assert msg.subject == "大连市教育局活动周稿件"
    assert msg.body_text.strip() == "您好，附件是活动照片，请查收。"
    assert [p.filename for p in msg.parts] == ["照片.jpg"]
    assert msg.parts[0].payload.startswith(b"\xff\xd8")
