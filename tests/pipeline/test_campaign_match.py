"""Which campaign a message belongs to: words decide, kind words never do, doubt goes to triage."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from pipeline.campaign_match import CAMPAIGN, OTHER, TRIAGE, CampaignBook, decide_campaign
from pipeline.decide import Rules, decide_message
from pipeline.notice import propose, read_notice
from tests.conftest import DATA
from tests.pipeline.helpers import campaign, local, message, units

WEEK = campaign()
MONTH = replace(
    propose(
        read_notice(DATA / "notices" / "notice-2023-skills-month.md"), "2023-skills-month"
    ).campaign,
    state="open",
)
NEXT_WEEK = replace(
    propose(
        read_notice(DATA / "notices" / "notice-2024-vocational-week.txt"), "2024-week"
    ).campaign,
    state="open",
)
DURING = local(2023, 5, 20)


def decide(msg, *campaigns, when=DURING, threads=None, unit=None, history=()):
    book = CampaignBook(campaigns or (WEEK,), threads or {}, lambda code: history)
    directory = units()
    return decide_campaign(msg, book, when, units=directory, unit=directory.get(unit))


@pytest.mark.parametrize(
    "subject,files",
    [
        ("方案", ("方案.docx",)),
        ("工作总结", ("工作总结.docx",)),
        ("典型案例", ("典型案例.docx",)),
        ("照片", ("IMG_0001.jpg",)),
        ("视频", ("VID_0001.mp4",)),
    ],
)
def test_kind_words_alone_never_decide_a_campaign(subject, files):
    decision = decide(message(subject, files=files, body="请查收。"))
    assert decision.outcome == TRIAGE and decision.value is None
    assert decision.candidates == {WEEK.code: 0.3}


@pytest.mark.parametrize(
    "subject,files,topic",
    [
        (
            "【大连市教育局】关于报送2023年职业院校技能大赛获奖学生名单的函",
            ("获奖学生名单.xlsx",),
            "获奖学生",
        ),
        ("沈阳职业技术学院2023年高职扩招专项工作总结", ("扩招工作总结.docx",), "高职扩招专项"),
        ("锦州市关于中职学校招生计划的请示", ("请示.docx",), "招生计划请示"),
    ],
)
def test_the_issues_other_business_is_filed_as_other(subject, files, topic):
    decision = decide(message(subject, files=files))
    assert decision.outcome == OTHER and decision.value is None
    assert topic in decision.topic


def test_a_mention_in_the_body_never_counts_another_matters_summary():
    msg = message(
        "沈阳职业技术学院2023年高职扩招专项工作总结",
        files=("扩招工作总结.docx",),
        body="韩老师，附上扩招工作总结。活动周总结我们下周报送。",
    )
    decision = decide(msg)
    assert decision.outcome != CAMPAIGN


@pytest.mark.parametrize(
    "subject,files",
    [
        ("锦州-活动周照片", ("IMG_1.jpg",)),
        ("稿件", ("职教活动周开幕新闻稿.docx",)),
        ("材料", ("技能：让生活更美好主题展示.docx",)),
    ],
)
def test_the_campaigns_words_in_a_subject_or_file_name_decide_it(subject, files):
    decision = decide(message(subject, files=files))
    assert (decision.outcome, decision.value) == (CAMPAIGN, WEEK.code)
    assert decision.confidence >= 0.75 and decision.clues


def test_a_reply_to_the_notice_belongs_to_its_campaign():
    decision = decide(message(f"回复：{WEEK.title[WEEK.title.index('关于') :]}", body="收到。"))
    assert decision.value == WEEK.code
    assert any(c.source == "reply_subject" for c in decision.clues)


def test_a_reply_in_a_campaigns_thread_belongs_to_it_without_any_word():
    msg = message("回复：补充一张", files=("IMG_2.jpg",))
    msg.in_reply_to = "<earlier@qq.com>"
    decision = decide(msg, threads={"<earlier@qq.com>": WEEK.code})
    assert decision.value == WEEK.code
    other = decide(msg, threads={"<earlier@qq.com>": None})  # a thread of 其他来件
    assert other.outcome == OTHER


def test_two_campaigns_open_at_once_each_takes_its_own_words():
    week = decide(message("活动周典型案例", files=("典型案例.docx",)), WEEK, MONTH)
    month = decide(message("宣传月典型案例", files=("典型案例.docx",)), WEEK, MONTH)
    both = decide(message("活动周及宣传月照片", files=("1.jpg",)), WEEK, MONTH)
    assert week.value == WEEK.code and month.value == MONTH.code
    assert both.outcome == TRIAGE and set(both.candidates) == {WEEK.code, MONTH.code}


def test_next_years_week_is_told_apart_by_its_year_and_its_season():
    in_2024 = local(2024, 5, 14)
    named = decide(
        message("2024年职业教育活动周方案", files=("方案.docx",)), WEEK, NEXT_WEEK, when=in_2024
    )
    bare = decide(message("活动周照片", files=("1.jpg",)), WEEK, NEXT_WEEK, when=in_2024)
    assert named.value == NEXT_WEEK.code and bare.value == NEXT_WEEK.code
    late = decide(message("活动周照片", files=("1.jpg",)), WEEK, when=in_2024)
    assert late.outcome == TRIAGE  # the 2023 week's words, a year after its window


def test_a_unit_the_notice_does_not_address_waits_for_a_person():
    msg = message("宣传月工作总结", files=("宣传月工作总结.docx",))
    assert decide(msg, WEEK, MONTH, unit="dalian").value == MONTH.code
    assert decide(msg, WEEK, MONTH, unit="shenfu").outcome == TRIAGE  # a zone: not addressed


def test_what_the_unit_already_sent_supports_weak_evidence_only():
    msg = message("材料", files=("1.jpg",), body="活动周的照片，请查收。")
    assert decide(msg, history=()).outcome == CAMPAIGN  # body word, photo kind, the window
    alone = message("照片", files=("1.jpg",))
    assert decide(alone, history=(WEEK.code,), unit="dalian").outcome == TRIAGE


def test_no_open_campaign_means_other_business():
    closed = replace(WEEK, state="closed")
    assert decide(message("活动周方案", files=("方案.docx",)), closed).outcome == OTHER


def test_an_inquiry_belongs_to_its_campaign_and_is_not_material():
    rules = Rules(WEEK)
    msg = message(
        f"Re: {WEEK.title[WEEK.title.index('关于') :]}", body="韩老师，请问总结是否需要盖章？"
    )
    decided = decide_message(msg, units(), rules, DURING)
    assert decided.campaign.value == WEEK.code and decided.status == "not_material"
    assert decided.verdict.reason == "inquiry" and decided.flags == ["inquiry"]
    ack = message("活动周方案", body="收到，我市将按时报送。")
    assert decide_message(ack, units(), rules, DURING).verdict.reason == "inquiry"


def test_a_question_about_another_matter_is_other_business_not_an_inquiry():
    msg = message("咨询高职扩招计划下达时间", body="请问2023年高职扩招计划什么时候下达？")
    decided = decide_message(msg, units(), Rules(WEEK), DURING)
    assert decided.campaign.outcome == OTHER and decided.verdict.is_material
    assert decided.plans == [] and decided.campaign_status == "other"


def test_other_business_items_have_no_kind_and_no_campaign_flags():
    msg = message("沈阳职业技术学院2023年高职扩招专项工作总结", files=("工作总结.docx",))
    decided = decide_message(msg, units(), Rules(WEEK), local(2023, 6, 20))
    assert [p.kind.value for p in decided.plans] == [None]
    assert "late" not in decided.flags
    assert date(2023, 6, 20) > WEEK.kind("summary").due
