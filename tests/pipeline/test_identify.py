"""Each clue that names a unit, and the hard negatives that must not."""

from __future__ import annotations

import pytest

from pipeline.identify import Sender, identify_unit
from pipeline.message import Forwarded
from tests.pipeline.helpers import message, units

DEPARTMENT = Sender(addresses=("zcc1.sjyt@ln.gov.cn",))


def decide(msg, directory=None, **kwargs):
    return identify_unit(msg, directory or units(), department=DEPARTMENT, **kwargs)


def test_known_address_alone_names_the_unit():
    match = decide(message(from_addr="syjyj_zcc@163.com"))
    assert (match.value, match.level) == ("shenyang", "strong")
    assert [c.source for c in match.clues] == ["address"]


def test_learned_address_names_the_unit():
    match = decide(message(from_addr="12345678@qq.com"), units({"12345678@qq.com": "panjin"}))
    assert match.value == "panjin"
    assert match.clues[0].source == "learned_address"


def test_unit_domain_alone_names_the_unit():
    assert decide(message(from_addr="wang@dl.edu.example.cn")).value == "dalian"


def test_college_domain_is_not_the_city_domain():
    assert decide(message(from_addr="li@dlvtc.edu.example.cn")).value == "dlvtc"


@pytest.mark.parametrize(
    "subject",
    [
        "【大连市教育局】活动周典型案例",
        "锦州-活动周照片",
        "关于报送活动周方案的函(营口)",
        "关于报送稿件的函（营口）",
    ],
)
def test_subject_tag_alone_names_the_unit(subject):
    assert decide(message(subject=subject)).value is not None


def test_signature_block_names_the_unit():
    body = "韩老师：\n附件为典型案例，请审阅。\n\n盘锦市教育局职成科\n王芳\n0427-2826000"
    assert decide(message(body=body)).value == "panjin"


def test_display_name_alone_names_the_unit():
    assert decide(message(from_name="铁岭市教育局 李明")).value == "tieling"


def test_file_name_alone_names_the_unit():
    assert decide(message(files=("丹东市职业教育活动周方案.docx",))).value == "dandong"


def test_document_heading_names_the_unit():
    docs = {"方案.docx": "阜新市教育局\n2023年职业教育活动周方案\n为深入学习……"}
    assert decide(message(files=("方案.docx",)), documents=docs).value == "fuxin"


def test_city_named_inside_a_document_is_only_a_weak_clue():
    text = "\n".join(
        [
            "校企合作订单班",
            "一、基本情况",
            "二、做法",
            "与沈阳市多家企业合作",
            "三、成效",
            "四、启示",
            "五、下一步",
            "完",
        ]
    )
    match = decide(message(files=("案例.docx",)), documents={"案例.docx": text})
    assert match.value is None and match.level == "weak"


@pytest.mark.parametrize(
    "written",
    [
        "沈阳",
        "沈阳市",
        "沈阳市教育局",
        "沈阳教育局",
        "沈阳市教育局职成处",
        "瀋陽市教育局",
        "沈 阳 市 教 育 局",
        "ＳＹ沈阳市教育局",
    ],
)
def test_shenyang_aliases_however_written(written):
    assert decide(message(subject=f"{written}-活动周照片")).value == "shenyang"


@pytest.mark.parametrize(
    "written, code",
    [
        ("沈抚示范区", "shenfu"),
        ("沈抚改革创新示范区社会事业局", "shenfu"),
        ("大连职院", "dlvtc"),
        ("沈职院", "syvtc"),
        ("大连职业技术学院", "dlvtc"),
        ("沈阳职业技术学院", "syvtc"),
        ("抚顺职业技术学院", "fsvtc"),
    ],
)
def test_zone_aliases_and_college_short_forms(written, code):
    assert decide(message(subject=f"{written}活动周稿件")).value == code


@pytest.mark.parametrize(
    "text", ["大连某职业学院", "大连市第二十四中学", "沈阳新世界展览中心", "大连市人社局"]
)
def test_a_city_name_alone_never_grabs_another_institution(text):
    assert units().find_names(text) == []


def test_city_name_as_venue_in_the_body_goes_to_triage():
    match = decide(
        message(body="韩老师：5月20日在沈阳启动仪式上拍的照片，请查收。\n另有几张稍后发送。\n谢谢")
    )
    assert match.value is None
    assert "shenyang" in match.candidates


def test_quoted_reply_never_decides():
    body = (
        "附件是我单位活动周工作方案，请查收。\n\n------------------ 原始邮件 ------------------\n"
        '发件人: "辽宁省教育厅职成处"<zcc1.sjyt@ln.gov.cn>;\n主题: 关于做好活动周工作的通知\n\n'
        "各市教育局：沈阳市教育局、大连市教育局、鞍山市教育局……"
    )
    quoted = Forwarded(
        from_addr="zcc1.sjyt@ln.gov.cn",
        from_name="辽宁省教育厅职成处",
        body_text="各市教育局：沈阳市教育局、大连市教育局",
        inline=True,
    )
    match = decide(message(subject="回复：关于做好活动周工作的通知", body=body, forwarded=[quoted]))
    assert match.value is None and match.forwarded_by is None


def test_reply_quoted_with_angle_brackets_never_decides():
    body = '收到。\n\n在 2023-04-24，"职成处" 写道：\n> 沈阳市教育局、大连市教育局：\n> 请报送'
    assert decide(message(subject="Re: 通知", body=body)).value is None


def test_mailing_list_footer_never_decides():
    body = (
        "附件为新闻稿。\n\n葫芦岛市教育局职成科\n马丽\n\n"
        + "_" * 47
        + "\n辽西职教联盟邮件列表\n本列表由锦州市教育局信息中心维护，退订请访问 http://x"
    )
    match = decide(message(body=body))
    assert match.value == "huludao"
    assert "jinzhou" not in match.candidates


def test_conflicting_strong_clues_go_to_triage_with_candidates():
    match = decide(message(subject="【大连市教育局】活动周稿件", from_addr="syjyj_zcc@163.com"))
    assert match.value is None
    assert set(match.candidates) == {"shenyang", "dalian"}
    assert "disagree" in match.reason


def test_no_clue_at_all_goes_to_triage():
    match = decide(message(files=("IMG_0345.JPG",)))
    assert (match.value, match.level, match.candidates) == (None, "none", {})


def test_threshold_decides_what_is_confident():
    msg = message(files=("丹东市职业教育活动周方案.docx",))
    assert decide(msg, threshold=0.75).value == "dandong"
    assert decide(msg, threshold=0.9).value is None


def test_inline_forward_is_attributed_to_the_original_unit():
    fwd = Forwarded(
        from_addr="ykzck_2023@163.com",
        from_name="营口市教育局职成科",
        body_text="附件是我们的稿件。\n\n营口市教育局职成科",
        inline=True,
    )
    match = decide(
        message(
            subject="转发：活动周稿件",
            from_addr="934821756@qq.com",
            body="韩老师，转给您。",
            files=("稿件.docx",),
            forwarded=[fwd],
        )
    )
    assert (match.value, match.forwarded_by) == ("yingkou", "934821756@qq.com")


def test_attached_message_is_attributed_to_its_sender_unit():
    fwd = Forwarded(
        from_addr="zhaoqiang@bx.edu.example.cn",
        from_name="赵强",
        subject="本溪市报送活动周典型案例",
    )
    msg = message(
        subject="转发：本溪市报送活动周典型案例", from_addr="xiaoyiming_ln@163.com", forwarded=[fwd]
    )
    match = decide(msg)
    assert (match.value, match.forwarded_by) == ("benxi", "xiaoyiming_ln@163.com")


def test_departments_own_mail_is_no_units():
    match = decide(message(from_addr="zcc1.sjyt@ln.gov.cn", subject="沈阳市教育局：请报送总结"))
    assert match.value is None and match.from_department


def test_every_decision_keeps_its_clues_and_confidence():
    match = decide(message(subject="锦州-活动周照片", from_name="锦州市教育局"))
    evidence = match.evidence()
    assert evidence["candidates"]["jinzhou"] == match.confidence > 0.9
    assert {c["source"] for c in evidence["clues"]} == {"subject", "display_name"}
