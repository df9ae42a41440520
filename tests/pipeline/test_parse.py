"""Decoding real Chinese mail: headers, file names, bodies, nesting and broken input."""

from __future__ import annotations

import pytest

from pipeline.charsets import decode_encoded_words, guess_decode, header_to_text
from pipeline.errors import ParseError
from pipeline.parse import parse_message
from tests.conftest import DATA, MAIL

CORPUS = DATA / "corpus"


def parse(folder, name):
    return parse_message((folder / name).read_bytes())


def test_gbk_rfc2047_subject_sender_and_filename_are_decoded():
    msg = parse(MAIL, "gbk-rfc2047-filename.eml")
    assert msg.subject == "【大连市教育局】活动周方案"
    assert msg.from_name == "大连市教育局 王芳"
    assert msg.from_addr == "wangfang@163.com"
    assert [p.filename for p in msg.parts] == ["大连市职业教育活动周方案.docx"]
    assert msg.body_text.startswith("您好，附件是我市活动周方案")


def test_rfc2047_inside_quoted_param_and_rfc2231_continuations_are_decoded():
    msg = parse(MAIL, "qq-quoted-2047-and-2231.eml")
    assert [p.filename for p in msg.parts] == [
        "活动照片1.jpg",
        "锦州市职业教育活动周开幕式现场照片（第一组）.jpg",
    ]
    assert all(p.payload.startswith(b"\xff\xd8") for p in msg.parts)


def test_raw_8bit_gb18030_headers_and_gb2312_label_on_gbk_body():
    msg = parse(MAIL, "raw-8bit-gb18030-headers.eml")
    assert msg.subject == "盘锦市教育局活动周稿件：朱镕基学校开放日"  # 镕 is not in GB2312
    assert msg.from_name == "盘锦市教育局"
    assert msg.parts[0].filename == "盘锦活动周新闻稿.txt"
    assert "王玥老师" in msg.body_text  # 玥 is GBK-only


def test_raw_big5_subject_is_read_as_big5():
    msg = parse(MAIL, "big5-raw-subject.eml")
    assert msg.subject == "瀋陽市教育局活動週總結"
    assert "總結見下" in msg.body_text  # labelled us-ascii, really Big5


def test_qq_enterprise_raw_8bit_headers_from_the_wild():
    msg = parse(CORPUS, "flanker-charset-gb2312.eml")
    assert msg.subject == "提示：您的企业成员暂时无法登录邮件客户端"
    assert msg.from_name == "腾讯企业邮箱"


def test_raw_8bit_gbk_filename_without_any_encoding():
    msg = parse(CORPUS, "enmime-mime-bad-8bit-filename.raw")
    assert [p.filename for p in msg.parts] == ["管理.doc"]


def test_long_rfc2231_japanese_filename():
    msg = parse(CORPUS, "mikel-japanese-attachment-long-name.eml")
    assert msg.parts[0].filename == "かきくけこ" * 5 + ".txt"


def test_inline_images_are_parts_and_forwarded_message_is_walked_into():
    msg = parse(MAIL, "inline-images-and-forwarded.eml")
    names = [p.filename for p in msg.parts]
    assert names[1] == "image001.png"
    assert msg.parts[0].content_id == "photo1@x" and msg.parts[0].forwarded_index is None
    assert len(msg.forwarded) == 1
    inner = msg.forwarded[0]
    assert inner.subject == "铁岭市活动周典型案例"
    assert inner.from_addr == "liming@sina.com" and "铁岭市教育局职成科" in inner.body_text
    nested = [p for p in msg.parts if p.forwarded_index == 0]
    # The nested part had no file name: it is named from its sniffed type (a PDF).
    assert [p.filename for p in nested] == ["附件3.pdf"] and not nested[0].named


def test_damaged_base64_part_keeps_its_bytes_and_says_why():
    msg = parse(MAIL, "damaged-attachment.eml")
    good, broken = msg.parts
    assert good.error is None
    assert broken.error and "base64" in broken.error.lower()


def test_text_before_headers_and_smtp_envelope_lines_are_skipped():
    assert parse(CORPUS, "demisto-text-before-headers.eml").subject == "test bcc"
    assert parse(CORPUS, "demisto-smtp-envelope-headers.eml").subject == "Test Smtp Email"


def test_thousands_of_nested_multiparts_do_not_crash():
    msg = parse(CORPUS, "mimekit-stack-overflow.txt")
    assert msg.subject == "Message Subject"


def test_unterminated_nested_multipart_parses():
    msg = parse(CORPUS, "stalwart-malformed-001.eml")
    assert "CloseBoundaryNotFoundDefect" in msg.defects


def test_path_in_attachment_name_is_reduced_to_the_base_name():
    msg = parse(CORPUS, "php-m0027-traversal.eml")
    assert [p.filename for p in msg.parts] == ["1234.txt"]


def test_an_outlook_msg_file_is_read_like_an_email():
    msg = parse(CORPUS, "demisto-outlook-utf-subject.msg")
    assert msg.subject.startswith("[TESTING] 🔒 ✔ Votre colis est disponible")
    assert msg.from_addr == "mobi777@gmail.com"
    assert msg.message_id == "<5c530c1b.1c69fb81.bd826.0eff@mx.google.com>"
    assert msg.received_at.isoformat() == "2019-01-31T14:54:35+00:00"  # its transport headers
    assert msg.body_text.strip() == "This is a test email."


@pytest.mark.parametrize("cut", [200, 4000])
def test_a_damaged_outlook_msg_file_is_a_parse_error_with_its_reason(cut):
    raw = (CORPUS / "demisto-outlook-utf-subject.msg").read_bytes()[:cut]
    with pytest.raises(ParseError, match="Outlook .msg"):
        parse_message(raw)


def test_a_word_document_is_not_taken_for_an_outlook_message():
    with pytest.raises(ParseError, match="not a readable Outlook .msg|not a message"):
        parse_message(_word_97_document())


def test_empty_input_is_a_parse_error():
    with pytest.raises(ParseError, match="empty"):
        parse_message(b"\r\n  \r\n")


def test_topmost_received_header_is_the_mailbox_clock():
    msg = parse(MAIL, "gbk-rfc2047-filename.eml")
    assert msg.received_at.isoformat() == "2023-05-16T09:12:30+08:00"
    assert msg.date.isoformat() == "2023-05-16T09:12:00+08:00"


def test_multibyte_character_split_across_two_encoded_words():
    text = "沈阳市".encode()
    import base64

    first = base64.b64encode(text[:4]).decode()
    second = base64.b64encode(text[4:]).decode()
    assert decode_encoded_words(f"=?utf-8?B?{first}?= =?utf-8?B?{second}?=") == "沈阳市"


def test_gb2312_label_on_gbk_bytes_decodes_as_gb18030():
    import base64

    word = base64.b64encode("朱镕基".encode("gbk")).decode()
    assert header_to_text(f"=?gb2312?B?{word}?=") == "朱镕基"


@pytest.mark.parametrize(
    "text,codec",
    [("沈阳市教育局活动周方案", "gbk"), ("養樂多線上訂購", "big5"), ("活动周总结", "utf-8")],
)
def test_charset_guess_for_unlabelled_bytes(text, codec):
    assert guess_decode(text.encode(codec)) == text


@pytest.mark.parametrize(
    ("date", "kept"),
    [
        ("Tue, 16 May 2023 09:12:00 +0800", "2023-05-16T09:12:00+08:00"),
        ("Fri, 31 Dec 9999 23:59:59 -1200", None),  # past the last datetime once in UTC
        ("Mon, 01 Jan 1601 00:00:00 +0800", None),  # a broken clock: no deadline judged by it
        ("Thu, 01 Jan 1970 00:00:00 +0000", None),
        ("not a date", None),
    ],
)
def test_a_date_no_clock_could_have_stamped_is_ignored(date, kept):
    raw = (
        "From: a@dl.edu.example.cn\r\nSubject: test\r\n"
        f"Received: from mx by mx.example.cn; {date}\r\nDate: {date}\r\n\r\nhello\r\n"
    )
    msg = parse_message(raw.encode())
    assert (msg.date.isoformat() if msg.date else None) == kept
    assert (msg.received_at.isoformat() if msg.received_at else None) == kept


def _word_97_document() -> bytes:
    """Returns a compound file laid out like a Word 97-2003 .doc (no MAPI properties)."""
    from tests.support.outlook_msg import write_compound_file

    return write_compound_file({"WordDocument": b"\xec\xa5" + bytes(5000), "1Table": bytes(600)})
