"""The notice parser: the seed notice proposes exactly the shipped campaign; other notices,
in every format the command reads, propose theirs with the sentence of each field."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from pipeline.notice import NoticeError, propose, read_notice
from tests.conftest import DATA
from workers.config import load_config

NOTICES = DATA / "notices"
SEED = NOTICES / "seed-2023-vocational-week.md"


def seed_text() -> str:
    return read_notice(SEED)


def test_the_seed_notice_proposes_the_shipped_campaign():
    proposal = propose(seed_text())
    shipped = load_config(None).campaign
    assert replace(proposal.campaign, code=shipped.code, state="open") == shipped
    assert proposal.problems == []
    kinds = {k.code: k.due for k in proposal.campaign.kinds if k.required}
    assert kinds == {
        "plan": date(2023, 5, 8),
        **dict.fromkeys(("case", "manuscript", "photo", "video"), date(2023, 5, 25)),
        "summary": date(2023, 6, 1),
    }


def test_every_field_carries_the_sentence_it_came_from():
    sources = propose(seed_text()).sources
    assert sources["dates"] == "5月14日至25日"
    assert sources["kinds.plan"].startswith("各市教育行政部门、各有关高校于2023年5月8日前")
    assert "活动周结束后一周内" in sources["kinds.summary"]
    assert sources["addressees"] == "各市教育局、沈抚示范区社会事业局，各有关高等学校："
    assert "zcc1.sjyt@ln.gov.cn" in sources["mailbox"]
    assert sources["doc_number"] == "辽教通〔2023〕106号"


def test_another_years_activity_week_gets_its_own_dates_and_a_working_day_deadline():
    campaign = propose(read_notice(NOTICES / "notice-2024-vocational-week.txt")).campaign
    assert (campaign.start, campaign.end, campaign.issued) == (
        date(2024, 5, 12),
        date(2024, 5, 18),
        date(2024, 4, 19),
    )
    assert campaign.doc_number == "辽教通〔2024〕41号" and campaign.code == "2024-41"
    assert campaign.kind("plan").due == date(2024, 5, 6)
    summary = campaign.kind("summary")
    assert (summary.label, summary.due_rule, summary.due) == (
        "活动周工作总结",
        "end+10wd",
        date(2024, 5, 31),
    )
    assert "活动周" in campaign.words and "技能成就出彩人生" in campaign.words


def test_another_matter_with_other_kinds_and_relative_deadlines():
    campaign = propose(read_notice(NOTICES / "notice-2023-skills-month.md")).campaign
    assert (campaign.start, campaign.end) == (date(2023, 5, 15), date(2023, 6, 15))
    assert campaign.unit_types == ("city", "college")
    required = {k.code: (k.label, k.due, k.due_rule) for k in campaign.kinds if k.required}
    assert required == {
        "roster": ("宣传月联络员名单", date(2023, 5, 16), "issued+5wd"),
        "story": ("优秀学生事迹", date(2023, 6, 15), "end+0d"),
        "video": ("宣传短视频", date(2023, 6, 15), "end+0d"),
        "summary": ("宣传月工作总结", date(2023, 6, 30), "end+15d"),
        "case": ("典型案例", date(2023, 6, 30), "end+15d"),
    }
    assert {"技能成才强国有我", "宣传月"} <= set(campaign.words)


def test_relative_deadlines_follow_corrected_dates():
    campaign = propose(read_notice(NOTICES / "notice-2023-skills-month.md")).campaign
    moved = campaign.with_dates(date(2023, 5, 20), date(2023, 6, 20))
    assert moved.kind("summary").due == date(2023, 7, 5)
    assert moved.kind("roster").due == date(2023, 5, 16)  # from the notice's day, unchanged


@pytest.mark.parametrize("fmt", ["docx", "pdf"])
@pytest.mark.parametrize("name", sorted(p.name for p in NOTICES.iterdir() if p.name != "README.md"))
def test_the_same_notice_as_docx_and_pdf_proposes_the_same_campaign(name, fmt, tmp_path):
    text = read_notice(NOTICES / name)
    path = tmp_path / f"notice.{fmt}"
    plain = re.sub(r"(?m)^#+\s*|\*\*", "", text)  # what Word shows of the markdown copy
    (write_docx if fmt == "docx" else write_pdf)(plain, path)
    assert propose(read_notice(path)).campaign == propose(text).campaign


def test_a_file_without_text_is_refused_with_a_reason(tmp_path):
    empty = tmp_path / "scan.txt"
    empty.write_bytes(b"   \n")
    with pytest.raises(NoticeError, match="no text"):
        read_notice(empty)


def write_docx(text: str, path: Path) -> None:
    from docx import Document

    document = Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    document.save(str(path))


def write_pdf(text: str, path: Path) -> None:
    """Writes the text as a PDF: STSong-Light (no embedded font) with a ToUnicode map,
    one page per 40 lines, as the labelled corpus makes its PDFs."""
    from tests.support.pdf import text_pdf

    path.write_bytes(text_pdf([line for line in text.splitlines() if line.strip()]))
