"""Spam: unknown senders with well-known signals; never a known unit's address or domain."""

from __future__ import annotations

import pytest

from pipeline.classify import message_verdict
from pipeline.decide import Rules, decide_message
from pipeline.message import ParsedMessage
from pipeline.parse import parse_message
from pipeline.reasons import NOT_MATERIAL_REASONS, reason_label
from pipeline.spam import spam_signals
from tests.conftest import LABELLED
from tests.pipeline.helpers import campaign, local, units

INVOICE = "本公司长期代开各地增值税专用发票，税点优惠。诚信合作，加微信 hx8823 咨询。"


def decided(name: str):
    msg = parse_message((LABELLED / name).read_bytes())
    return decide_message(msg, units(), Rules(campaign()), local(2023, 5, 20))


def test_invoice_spam_from_an_unknown_sender_is_not_material_with_its_signals():
    decision = decided("065-spam-invoice-unknown-sender.eml")
    verdict = decision.verdict
    assert (verdict.is_material, verdict.reason, decision.flags) == (False, "spam", ["spam"])
    assert {"代开发票", "加微信"} <= set(verdict.signals)
    assert decision.unit is None and decision.status == "not_material"


def test_an_advertisement_naming_the_week_with_unsubscribe_headers_is_spam():
    verdict = decided("066-spam-training-ad-unsubscribe.eml").verdict
    assert verdict.reason == "spam" and "header:list-unsubscribe" in verdict.signals


def test_a_known_unit_domain_is_never_spam_whatever_its_headers_and_words():
    decision = decided("067-chaoyang-manuscript-bulk-gateway.eml")
    assert decision.verdict.is_material and decision.unit == "chaoyang"
    assert "spam" not in decision.flags


@pytest.mark.parametrize(
    "address, known", [("syjyj_zcc@163.com", "address"), ("x@dl.edu.example.cn", "domain")]
)
def test_spam_words_from_a_configured_address_or_unit_domain_are_material(address, known):
    msg = ParsedMessage(subject="代开发票", from_addr=address, body_text=INVOICE)
    assert message_verdict(msg, from_department=False, known_sender=False).reason == "spam"
    assert message_verdict(msg, from_department=False, known_sender=True).is_material
    rules = Rules(campaign())
    assert decide_message(msg, units(), rules, local(2023, 5, 20)).verdict.is_material, known


def test_a_unit_asking_to_add_it_on_wechat_is_not_spam():
    body = "韩老师：视频太大发不了，请加微信 liu_2023，我直接发给您。\n刘洋\n营口市教育局职成科"
    msg = ParsedMessage(subject="活动周视频", from_addr="1834567201@qq.com", body_text=body)
    found = spam_signals(msg)
    assert found.signals == ["加微信"] and not found.is_spam
    assert message_verdict(msg, from_department=False).is_material


def test_spam_quoted_in_a_reply_does_not_count():
    body = (
        f"韩老师，这封是不是诈骗邮件？\n\n------------------ 原始邮件 ------------------\n{INVOICE}"
    )
    msg = ParsedMessage(subject="回复：代开", from_addr="1834567201@qq.com", body_text=body)
    assert "代开发票" not in spam_signals(msg).signals


def test_every_reason_has_chinese_words_and_old_sentences_still_read():
    assert all(label and label.isascii() is False for label in NOT_MATERIAL_REASONS.values())
    assert reason_label("spam") == "垃圾邮件或群发广告"
    assert reason_label("bulk or list mail") == "垃圾邮件或群发广告"  # rows from before the codes
    assert reason_label("inquiry") and reason_label(None) == ""
