"""The sender's own text as an item: articles and summaries in the body, covering notes not."""

from __future__ import annotations

import pytest

from pipeline.body import body_substance, sender_text
from pipeline.classify import plan_items
from pipeline.parse import parse_message
from tests.conftest import LABELLED
from tests.pipeline.helpers import campaign, local, message

AFTER_WEEK = local(2023, 5, 29)


def planned(name: str, when=AFTER_WEEK) -> dict[str, tuple[str, str]]:
    msg = parse_message((LABELLED / name).read_bytes())
    return {p.name: (p.role, p.kind.value) for p in plan_items(msg, campaign(), when)}


def test_a_summary_typed_beside_inline_photos_is_the_summary_and_the_photos_stay():
    plans = planned("061-yingkou-summary-qq-inline-photos.eml")
    assert plans.pop("正文.txt") == ("material", "summary")
    assert sorted(plans.values()) == [("material", "photo")] * 3


def test_outlook_summary_with_inline_photos_keeps_its_logo_decorative():
    plans = planned("064-dalian-summary-outlook-inline.eml")
    assert plans == {
        "image001.jpg": ("material", "photo"),
        "image002.jpg": ("material", "photo"),
        "image003.png": ("decorative", "photo"),
        "正文.txt": ("material", "summary"),
    }


def test_an_article_beside_attached_photos_is_a_manuscript():
    plans = planned("062-bhcc-article-foxmail-with-photos.eml", local(2023, 5, 19))
    assert plans["正文.txt"] == ("material", "manuscript")


def test_a_covering_note_with_signature_and_disclaimer_is_not_an_item():
    plans = planned("063-lnvc-plan-coremail-cover-and-disclaimer.eml", local(2023, 5, 6))
    assert list(plans) == ["辽宁职业学院2023年职业教育活动周实施方案.docx"]


@pytest.mark.parametrize(
    "body",
    [
        "韩老师，附件是我市的方案，请查收",
        "韩老师您好！\n\n按照省厅通知要求，现将我市2023年职业教育活动周实施方案报送给您，请审阅。"
        "如有问题请随时联系。\n\n王磊\n沈阳市教育局职成处\n电话：024-22345678\n",
        "各位老师好：\n附件为活动周总结及照片，请审阅，谢谢！\n\n发自我的iPhone\n",
    ],
)
def test_covering_notes_are_not_material(body):
    msg = message(subject="活动周总结", body=body, files=("活动周总结.docx",))
    assert [p.name for p in plan_items(msg, campaign(), AFTER_WEEK)] == ["活动周总结.docx"]


def test_sender_text_drops_quotes_footers_disclaimers_placeholders_and_signature():
    body = (
        "韩老师：\n我市活动周简报如下。\n[cid:image001.jpg@01D99201.5E3A1B40]\n"
        "5月16日，全市中职学校同步开放校园。\n\n张伟\n盘锦市教育局职成科\n"
        "发自网易邮箱大师\n\n本邮件及其附件含有保密信息，仅限于发送给上面地址中列出的个人。\n"
        '在 2023-05-15 09:00:00，"职成处" <zcc1.sjyt@ln.gov.cn> 写道：\n> 请各市报送简报。\n'
    )
    assert (
        sender_text(body) == "韩老师：\n我市活动周简报如下。\n5月16日，全市中职学校同步开放校园。"
    )


def test_a_short_report_with_a_title_naming_its_kind_and_paragraphs_is_material():
    paragraphs = (
        "5月18日，锦州市技能展示活动在古塔公园举行，全市职业学校师生参加。\n"
        "全市十二所中职学校参加展示，吸引市民三千余人驻足观看。\n"
        "现场开展家电维修、面点制作、汽车检测等便民服务二十余项。\n"
    )
    titled = body_substance(
        f"韩老师：\n\n锦州市活动周简报（第三期）\n{paragraphs}", "材料", campaign()
    )
    assert (titled.titled, titled.paragraphs) == ("简报", 3)
    assert 80 <= titled.prose_chars < 150 and titled.is_material
    # The same paragraphs with nothing naming a kind are a note, not an article.
    assert not body_substance(f"韩老师：\n{paragraphs}", "材料", campaign()).is_material


def test_the_body_item_records_what_was_measured():
    msg = parse_message((LABELLED / "034-chaoyang-article-in-body.eml").read_bytes())
    [plan] = plan_items(msg, campaign(), local(2023, 5, 17))
    clue = next(c for c in plan.kind.clues if c.source == "body_article")
    assert clue.value.startswith("正文") and "字" in clue.value and "段" in clue.value
    assert "于洋" not in plan.payload.decode("utf-8")  # the signature is not the article
