"""The date grammar of notices: days, ranges, deadlines and the rules relative deadlines keep."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.dates import add_working_days, cn_number, deadline, find_days, find_range, resolve


@pytest.mark.parametrize(
    "text,value",
    [
        ("25", 25),
        ("２５", 25),
        ("二十五", 25),
        ("十", 10),
        ("十五", 15),
        ("二〇二三", 2023),
        ("一", 1),
    ],
)
def test_numbers_in_arabic_full_width_and_chinese_digits(text, value):
    assert cn_number(text) == value


def test_a_day_without_a_year_takes_the_notices_year():
    found = find_days("定于5月20日在沈阳举办启动仪式，二〇二三年四月二十四日印发", 2023)
    assert [f.day for f in found] == [date(2023, 5, 20), date(2023, 4, 24)]


@pytest.mark.parametrize(
    "text,first,last",
    [
        ("5月14日至25日", date(2023, 5, 14), date(2023, 5, 25)),
        ("2024年5月12日至18日", date(2024, 5, 12), date(2024, 5, 18)),
        ("2023年5月15日至6月15日", date(2023, 5, 15), date(2023, 6, 15)),
        ("5月14日—5月25日", date(2023, 5, 14), date(2023, 5, 25)),
        ("５月１４日-２５日", date(2023, 5, 14), date(2023, 5, 25)),
    ],
)
def test_activity_date_ranges(text, first, last):
    assert find_range(text, 2023)[:2] == (first, last)


def test_the_three_deadlines_of_the_seed_notice():
    plan = deadline("各有关高校于2023年5月8日前将活动周方案发送到指定邮箱。", 2023)
    during = deadline("活动周期间，各地要通过邮箱及时报送典型案例、稿件、照片、视频等资料。", 2023)
    after = deadline("活动周结束后一周内，各单位要将活动周总结报送至省教育厅职成处。", 2023)
    assert (plan.due, plan.rule) == (date(2023, 5, 8), "")
    assert during.rule == "end+0d" and after.rule == "end+7d"
    assert resolve(after.rule, date(2023, 5, 14), date(2023, 5, 25), None) == date(2023, 6, 1)


def test_relative_deadlines_in_working_days_and_from_the_notice():
    working = deadline("活动周结束后10个工作日内报送总结", 2024)
    notice = deadline("请于收到通知后5个工作日内将名单报送", 2023)
    assert working.rule == "end+10wd" and notice.rule == "issued+5wd"
    # 2024-05-18 is a Saturday: ten working days later is Friday 2024-05-31.
    assert resolve(working.rule, date(2024, 5, 12), date(2024, 5, 18), None) == date(2024, 5, 31)
    assert resolve(notice.rule, date(2023, 5, 15), date(2023, 6, 15), None) is None
    assert add_working_days(date(2023, 5, 9), 5) == date(2023, 5, 16)


def test_working_days_follow_chinas_holidays_and_make_up_weekends():
    # 2023: 中秋·国庆 off 09-29 … 10-06; Saturday 10-07 and Sunday 10-08 are working days.
    assert add_working_days(date(2023, 9, 28), 1) == date(2023, 10, 7)
    assert add_working_days(date(2023, 9, 28), 3) == date(2023, 10, 9)
    # 2024: 劳动节 off 05-01 … 05-05, Saturday 05-11 worked.
    assert resolve("end+5wd", date(2024, 4, 22), date(2024, 4, 30), None) == date(2024, 5, 10)
    assert add_working_days(date(2024, 5, 10), 1) == date(2024, 5, 11)
    assert add_working_days(date(2023, 10, 9), -1) == date(2023, 10, 8)
    # A year whose schedule is not published yet: Monday to Friday.
    assert add_working_days(date(2040, 1, 6), 1) == date(2040, 1, 9)  # a Friday → Monday


def test_a_sentence_without_a_deadline_has_none():
    assert deadline("各单位要高度重视，精心组织。", 2023) is None
