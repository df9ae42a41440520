"""Kinds per item, decorative images, links, not-material mail and the campaign flags."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from pipeline.classify import classify_kind, message_flags, message_verdict, plan_items
from pipeline.message import ParsedMessage, Part
from pipeline.parse import parse_message
from tests.conftest import LABELLED
from tests.pipeline.helpers import campaign, local, message

WEEK = local(2023, 5, 16)


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, "JPEG")
    return out.getvalue()


def kind_of(name: str, media: str, subject: str = "材料", text: str = "", when=WEEK) -> str:
    return classify_kind(name, media, subject, text, campaign(), when).value


@pytest.mark.parametrize(
    "name, expected",
    [
        ("活动周实施方案.docx", "plan"),
        ("2023年活动安排.docx", "plan"),
        ("工作方案.pdf", "plan"),
        ("典型案例：订单班.docx", "case"),
        ("案例二.docx", "case"),
        ("开幕新闻稿.docx", "manuscript"),
        ("通讯.docx", "manuscript"),
        ("宣传稿.docx", "manuscript"),
        ("关于活动周的报道.pdf", "manuscript"),
        ("活动周工作总结.docx", "summary"),
        ("联系人信息表.xlsx", "other"),
    ],
)
def test_keywords_in_file_names_give_the_kind(name, expected):
    assert kind_of(name, "document") == expected


def test_document_title_gives_the_kind_when_the_name_does_not():
    assert (
        kind_of("附件1.docx", "document", text="我市2023年职业教育活动周工作总结\n按照……")
        == "summary"
    )


def test_pictures_and_videos_are_photos_and_videos():
    assert kind_of("IMG_0345.JPG", "image", subject="活动周方案") == "photo"
    assert kind_of("技能展示.mp4", "video") == "video"


def test_a_scanned_plan_is_a_plan_not_a_photo():
    assert kind_of("活动周方案扫描件.jpg", "image") == "plan"


@pytest.mark.parametrize("name", ["总结配图.png", "案例配图.jpg", "总结照片1.jpg"])
def test_pictures_about_a_document_are_still_photos(name):
    assert kind_of(name, "image") == "photo"


def test_a_text_about_photos_is_not_a_photo():
    assert kind_of("照片说明.txt", "text") == "other"


def test_the_date_alone_never_decides_the_kind():
    assert kind_of("附件1.docx", "document", when=local(2023, 6, 1)) == "other"


def test_archives_are_other_their_members_carry_the_kind():
    assert kind_of("活动周照片.zip", "archive") == "other"


def test_signature_logo_is_decorative_but_a_pasted_photo_is_material():
    msg = ParsedMessage(
        subject="活动周现场图片", body_html='<img src="cid:logo"><img src="cid:p1">'
    )
    msg.parts = [
        Part(0, "image001.png", "image/png", jpeg(96, 28), "inline", "logo"),
        Part(1, "微信图片_1.jpg", "image/jpeg", jpeg(480, 360), "inline", "p1"),
    ]
    roles = {p.name: (p.role, p.kind.value) for p in plan_items(msg, campaign(), WEEK)}
    assert roles == {
        "image001.png": ("decorative", "photo"),
        "微信图片_1.jpg": ("material", "photo"),
    }


def test_body_only_article_becomes_a_manuscript_text_item():
    article = "5月16日，我市职业教育活动周技能展示活动在市体育馆举行。" * 6
    plans = plan_items(message(subject="活动周稿件", body=article), campaign(), WEEK)
    assert [(p.name, p.media, p.kind.value) for p in plans] == [("正文.txt", "text", "manuscript")]
    assert plans[0].payload.decode("utf-8").startswith("5月16日")


def test_a_short_covering_note_is_not_an_article():
    assert plan_items(message(body="韩老师：请查收，谢谢！"), campaign(), WEEK) == []


def test_large_attachment_link_becomes_an_external_link_item_with_expiry():
    raw = (LABELLED / "057-liaoyang-video-qq-large-attachment.eml").read_bytes()
    plans = plan_items(parse_message(raw), campaign(), local(2023, 5, 22))
    assert len(plans) == 1
    link = plans[0]
    assert (link.status, link.kind.value, link.url_expiry) == (
        "external_link",
        "video",
        "2023-06-05",
    )
    assert "&amp;" not in link.url and link.url.startswith("https://wx.mail.qq.com/ftn/")


def test_link_kind_comes_from_the_words_beside_it():
    body = "韩老师：\n通讯稿见附件，视频较大放在百度网盘：\n链接: https://pan.baidu.com/s/1Tl9 提取码: t7q3"
    plans = plan_items(message(subject="活动周通讯稿和视频", body=body), campaign(), WEEK)
    assert [(p.service, p.kind.value) for p in plans] == [("百度网盘", "video")]


@pytest.mark.parametrize(
    "headers, subject, flag",
    [
        ({"auto-submitted": "auto-replied"}, "自动回复: 通知", "auto_reply"),
        ({}, "Automatic reply: 通知", "auto_reply"),
        ({"auto-submitted": "auto-replied"}, "Undelivered Mail Returned to Sender", "bounce"),
        ({"precedence": "bulk", "list-unsubscribe": "<https://x/u>"}, "职教周刊", "spam"),
        ({"list-unsubscribe": "<https://x/u>"}, "职教周刊", "spam"),
    ],
)
def test_machine_mail_is_not_material(headers, subject, flag):
    msg = ParsedMessage(subject=subject, from_addr="someone@example.cn", headers=headers)
    verdict = message_verdict(msg, from_department=False)
    assert (verdict.is_material, verdict.flags) == (False, [flag])


def test_a_person_writing_through_a_mailing_list_is_material():
    msg = ParsedMessage(
        subject="[lxzj-list] 新闻稿",
        from_addr="mali@163.com",
        headers={
            "precedence": "list",
            "list-id": "<lxzj.example.cn>",
            "list-unsubscribe": "<http://x>",
        },
    )
    assert message_verdict(msg, from_department=False).is_material


def flags_for(files: tuple[str, ...], when) -> list[str]:
    msg = message(files=files)
    return message_flags(plan_items(msg, campaign(), when), campaign(), when)


def test_plan_on_the_due_day_is_on_time_and_the_next_day_late_in_shanghai_time():
    assert flags_for(("活动周方案.docx",), local(2023, 5, 8, 23, 59)) == []
    assert flags_for(("活动周方案.docx",), local(2023, 5, 9, 0, 1)) == ["late"]


def test_summary_before_the_week_ends_is_early_and_after_its_deadline_late():
    assert flags_for(("活动周工作总结.docx",), local(2023, 5, 25, 20)) == ["early"]
    assert flags_for(("活动周工作总结.docx",), local(2023, 5, 30)) == []
    assert flags_for(("活动周工作总结.docx",), local(2023, 6, 2, 9)) == ["late"]


def test_photos_sent_with_the_summary_follow_its_deadline():
    assert flags_for(("活动周工作总结.docx", "总结照片1.jpg"), local(2023, 5, 30)) == []


def test_received_header_not_date_header_decides_the_day(app):
    from storage.models import Message
    from workers.ingest import Ingestor, SourceRef

    path = LABELLED / "039-benxi-plan-wrong-zone-date.eml"
    ingestor = Ingestor(app, "test")
    outcome = ingestor.ingest(path.read_bytes(), SourceRef("file", str(path)))
    with app.db.session() as session:
        row = session.get(Message, outcome.message_pk)
        assert row.received_source == "received"
        assert row.received_at.astimezone(campaign().tz).isoformat() == "2023-05-08T23:40:37+08:00"
        assert "late" not in row.flags and row.header_date != row.received_at
