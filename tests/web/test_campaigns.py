"""Campaigns in the web UI: the switcher, open campaigns and 待回复 on the dashboard, a notice
checked in a form before it opens, a message put in 其他来件; editors change, viewers look."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Message
from tests.conftest import DATA
from tests.web.conftest import csrf_of
from workers.sources.inbox import ingest_paths

MIXED = DATA / "mixed"
NOTICE = DATA / "notices" / "notice-2024-vocational-week.txt"


def _with_mixed_mail(site, *names: str) -> None:
    ingest_paths(site, [MIXED / name for name in names], label="test")


def test_dashboard_shows_open_campaigns_other_business_and_inquiries(small_site, client_for):
    _with_mixed_mail(
        small_site, "002-syvtc-enrolment-expansion-summary.eml", "037-shenyang-asks-about-seals.eml"
    )
    html = client_for(small_site, "viewer").get("/").text
    assert "进行中的活动" in html and "2023年辽宁省职业教育活动周" in html
    assert "其他来件" in html and 'href="/browse?campaign=_other"' in html
    assert "待回复（1）" in html and "mailto:syjyj_zcc@163.com?subject=" in html
    assert "标记已回复" not in html  # viewers only look
    other = client_for(small_site, "viewer").get("/browse?campaign=_other").text
    assert "高职扩招专项工作总结" in other and "其他来件" in other


def test_an_editor_marks_an_inquiry_answered(small_site, client_for):
    _with_mixed_mail(small_site, "037-shenyang-asks-about-seals.eml")
    with small_site.db.session() as session:
        pk = session.scalar(select(Message.id).where(Message.not_material_reason == "inquiry"))
    client = client_for(small_site, "editor")
    page = client.get(f"/messages/{pk}").text
    assert "询问或回执，没有材料" in page and "写回复" in page
    done = client.post(
        f"/messages/{pk}/answered", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert done.status_code == 303
    assert "待回复（0）" in client.get("/").text
    with small_site.db.session() as session:
        assert session.get(Message, pk).answered_by == "editor"
    viewer = client_for(small_site, "viewer")
    token = csrf_of(viewer.get("/").text)
    refused = viewer.post(f"/messages/{pk}/answered", data={"csrf_token": token})
    assert refused.status_code == 403


def test_a_notice_is_read_checked_and_saved_as_a_draft(small_site, client_for):
    client = client_for(small_site, "editor")
    token = csrf_of(client.get("/campaigns/new").text)
    form = client.post(
        "/campaigns/new",
        data={"csrf_token": token},
        files={"notice": (NOTICE.name, NOTICE.read_bytes(), "text/plain")},
    )
    assert form.status_code == 200
    html = form.text
    assert "辽教通〔2024〕41号" in html and "2024-05-12" in html and "end+10wd" in html
    assert "通知原文：“2024年5月12日至18日”" in html  # the sentence each value came from
    saved = client.post(
        "/campaigns/save",
        data={
            "csrf_token": csrf_of(html),
            "code": "2024-week",
            "name": "2024年辽宁省职业教育活动周",
            "start": "2024-05-12",
            "end": "2024-05-19",  # the clerk corrects the last day
            "words": "职业教育活动周，活动周",
            "unit_types": ["city", "zone", "college"],
            "kind_code_0": "plan",
            "kind_label_0": "活动周实施方案",
            "kind_due_0": "2024-05-06",
            "kind_required_0": "on",
            "kind_code_1": "summary",
            "kind_label_1": "活动周工作总结",
            "kind_due_1": "end+10wd",
            "kind_required_1": "on",
            "action": "draft",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    campaign = small_site.campaign_by_code("2024-week")
    assert campaign.state == "draft" and campaign.end.isoformat() == "2024-05-19"
    assert campaign.kind("summary").due.isoformat() == "2024-05-31"  # 10 working days after
    listing = client.get("/campaigns").text
    assert "草稿（待确认）" in listing and "确认并开始" in listing


def test_viewers_cannot_add_campaigns(small_site, client_for):
    viewer = client_for(small_site, "viewer")
    assert viewer.get("/campaigns/new").status_code == 403
    assert "从通知添加活动" not in viewer.get("/campaigns").text


def test_the_switcher_chooses_the_campaign_the_pages_show(small_site, client_for):
    client = client_for(small_site, "viewer")
    html = client.get("/?campaign=2023-vocational-week").text
    assert 'name="campaign"' in html and "2023年辽宁省职业教育活动周 报送情况" in html


def test_an_editor_puts_a_message_in_other_business(small_site, client_for):
    with small_site.db.session() as session:
        pk = session.scalar(
            select(Message.id).where(
                Message.status == "filed", Message.campaign_status == "assigned"
            )
        )
    client = client_for(small_site, "editor")
    page = client.get(f"/messages/{pk}").text
    assert "活动判断的依据" in page and "改为其他活动或其他来件" in page
    response = client.post(
        f"/messages/{pk}/campaign",
        data={"csrf_token": csrf_of(page), "campaign": "_other"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with small_site.db.session() as session:
        message = session.get(Message, pk)
        assert message.campaign_status == "other"
        assert all(i.path.startswith("其他来件/") for i in message.items if i.path)
    assert "其他来件（不属于任何活动，不计入报送进度）" in client.get(f"/messages/{pk}").text


def test_an_editor_corrects_a_campaign_in_its_form_and_its_files_follow(small_site, client_for):
    from dataclasses import replace

    from pipeline.notice import propose, read_notice
    from storage import campaigns as store

    month = propose(read_notice(DATA / "notices" / "notice-2023-skills-month.md"), "month").campaign
    with small_site.db.session() as session:
        store.save_campaign(session, replace(month, state="open"), actor="test")
    _with_mixed_mail(small_site, "045-anshan-month-summary.eml")
    client = client_for(small_site, "editor")
    page = client.get("/campaigns/month").text
    assert "宣传月工作总结" in page and "通知原文：“" not in page  # saved without its sentences
    form = {
        "csrf_token": csrf_of(page),
        "name": month.name,
        "start": "2023-05-15",
        "end": "2023-06-15",
        "unit_types": ["city", "college"],
        "action": "save",
    }
    for n, kind in enumerate(month.kinds):
        form |= {
            f"kind_code_{n}": kind.code,
            f"kind_label_{n}": "宣传月总结" if kind.code == "summary" else kind.label,
            f"kind_due_{n}": kind.due_rule or (kind.due.isoformat() if kind.due else ""),
            f"kind_keywords_{n}": "，".join(kind.keywords),
            **({f"kind_required_{n}": "on"} if kind.required else {}),
        }
    saved = client.post("/campaigns/month", data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert small_site.campaign_by_code("month").kind("summary").label == "宣传月总结"
    with small_site.db.session() as session:
        message = session.scalar(select(Message).where(Message.campaign_code == "month"))
        [item] = [i for i in message.items if i.role == "material"]
        assert "/宣传月总结/" in item.path and small_site.archive.abspath(item.path).is_file()
