"""Body scanners (textparts, and body and spam that read the same text): the same answers
as before on real mail, in time linear in the body."""

from __future__ import annotations

import time

import pytest

from pipeline.body import body_substance
from pipeline.message import ParsedMessage
from pipeline.spam import spam_signals
from pipeline.textparts import (
    MAX_INLINE_FORWARDS,
    html_to_text,
    inline_forwards,
    own_text,
    signature_block,
)
from tests.pipeline.helpers import campaign
from tests.support.hostile_media import HOSTILE_BODIES


def test_a_quoted_header_block_ends_the_senders_own_words():
    body = "韩老师：附件请查收。\n大连市教育局\n\n发件人: zcc@example.cn\n发送时间: 2023年5月8日\n主题: 通知"
    assert own_text(body) == "韩老师：附件请查收。\n大连市教育局"
    assert signature_block(body) == "大连市教育局"


def test_a_from_line_with_no_subject_or_date_below_it_is_the_senders_text():
    body = "From: 大连市教育局 宣传科\n请查收活动照片。"
    assert own_text(body) == body


def test_quote_marks_after_blanks_and_full_width_spaces_still_cut():
    assert own_text("正文\n\u3000 -----原始邮件-----\n引用") == "正文"
    assert own_text("正文\n   在 2023年5月1日 张三 写道：\n> 引用") == "正文"
    assert own_text("Text\nOn Mon, 1 May 2023, Zhang wrote:\nquoted") == "Text"
    assert own_text("正文\n\n\n____________\n页脚") == "正文"


def test_crlf_bodies_are_read_like_lf_ones():
    """QQ Mail's inline forward, CRLF as it arrives (labelled corpus 051)."""
    body = (
        "韩老师，转给您，请查收。\r\n\r\n------------------ 原始邮件 ------------------\r\n"
        '发件人: "营口市教育局职成科"<ykzck_2023@163.com>;\r\n主题: 活动周稿件\r\n\r\n正文\r\n'
    )
    assert own_text(body) == "韩老师，转给您，请查收。"
    [block] = inline_forwards(body)
    assert block["subject"] == "活动周稿件" and "ykzck_2023@163.com" in block["from"]


def test_at_most_twenty_inline_forwards_are_read_from_one_body():
    block = "---- 转发的邮件 ----\n发件人: a@b.cn\n主题: 材料\n\n正文\n"
    assert len(inline_forwards(block * 1000)) == MAX_INLINE_FORWARDS
    assert inline_forwards(block)[0]["subject"] == "材料"


@pytest.mark.parametrize("shape", sorted(HOSTILE_BODIES))
def test_every_scanner_reads_a_hostile_body_in_linear_time(shape):
    """40,000 blank lines took 90 s and 100,000 "From: x" lines minutes: both were quadratic."""
    body = HOSTILE_BODIES[shape]
    started = time.process_time()
    own_text(body)
    signature_block(body)
    inline_forwards(body)
    html_to_text(body)
    html_to_text("<p" * (len(body) // 2))
    body_substance(body, "活动周稿件", campaign())
    spam_signals(ParsedMessage(subject="稿件", body_text=body))
    assert time.process_time() - started < 5  # CPU seconds; each shape takes well under 1
