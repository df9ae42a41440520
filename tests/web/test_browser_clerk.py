"""The clerk's day in a real browser (Debian's Chromium): 500 messages in triage, pictures,
a unit's zip, a report for a day picked in the calendar, and a phone's width."""

from __future__ import annotations

import zipfile
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from storage.models import Item, Message
from tests.support.browser import chromium, new_context, serve, shot, sign_in
from tests.web.conftest import open_site, queue_mail
from workers.reports.outputs import make_daily_report

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def queue_500(tmp_path_factory):
    """500 messages waiting in triage (the 100 oldest from one mailing list), two daily reports."""
    folder = tmp_path_factory.mktemp("queue-500")
    ctx = open_site(folder / "site", queue_mail(folder / "mail", 500, newsletters=100))
    for day in (19, 20):
        now = datetime(2023, 5, day + 1, 8, tzinfo=ctx.campaign.tz)
        make_daily_report(ctx, ctx.config.reports, date(2023, 5, day), now, send=False)
    with serve(ctx) as base:
        yield ctx, base
    ctx.close()


@pytest.fixture(scope="module")
def corpus(corpus_site):
    with serve(corpus_site) as base:
        yield corpus_site, base


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield new_context(running)


def statuses(ctx) -> dict[str, int]:
    with ctx.db.session() as session:
        return dict(
            session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
        )


def test_triage_of_500_reaches_the_last_page_dismisses_all_matching_and_undoes(queue_500, browser):
    ctx, base = queue_500
    page = browser.new_page()
    sign_in(page, base)
    page.goto(base + "/triage")
    assert page.locator("h1").inner_text() == "待分拣（500）"
    page.click("text=最后一页 »")
    page.wait_for_url("**/triage?page=10")
    assert page.locator("section.triage").count() == 50
    assert page.locator("text=行业周报 第499号").count() == 1  # the oldest message is reachable

    page.fill('input[name="sender"]', "lists.example.org")
    page.click('form.filters button:has-text("筛选")')
    page.wait_for_selector("#matching:has-text('100')")
    page.check('input[name="scope"][value="all"]')
    page.select_option('#bulkform select[name="reason"]', "newsletter")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=批量标为不是材料")
    page.wait_for_selector(".flash:has-text('已把 100 封邮件标为不是材料')")
    shot(page, "triage-bulk-dismissed")
    assert statuses(ctx) == {"triage": 400, "not_material": 100}
    assert page.locator("#matching").inner_text() == "0"  # the filter is kept: none left

    page.click(".flash button:has-text('撤销')")
    page.wait_for_selector(".flash:has-text('已撤销')")
    assert statuses(ctx) == {"triage": 500}
    assert page.locator("#matching").inner_text() == "100"
    page.close()


def test_the_message_page_shows_its_photos(corpus, browser):
    ctx, base = corpus
    with ctx.db.session() as session:
        pk = session.scalar(
            select(Message.id).where(Message.source.contains("003-jinzhou-photos-subject-tag"))
        )
    page = browser.new_page()
    sign_in(page, base, "viewer")
    page.goto(f"{base}/messages/{pk}")
    thumbs = page.locator("ul.pictures img")
    assert thumbs.count() >= 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('ul.pictures img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    shot(page, "message-pictures")
    thumbs.first.click()
    page.wait_for_function("() => document.querySelector('#lightbox img').naturalWidth > 0")
    page.keyboard.press("Escape")
    page.close()


def test_a_units_zip_downloads_with_its_files(corpus, browser):
    ctx, base = corpus
    page = browser.new_page()
    sign_in(page, base, "viewer")
    page.goto(base + "/units/jinzhou")
    with page.expect_download() as info:
        page.click("text=全部材料")
    download = info.value
    assert download.suggested_filename == "锦州市教育局-全部材料.zip"
    with ctx.db.session() as session:
        items = session.scalars(
            select(Item)
            .join(Message, Message.id == Item.message_pk)
            .where(
                Message.unit_code == "jinzhou",
                Message.status == "filed",
                Item.path.is_not(None),
                Item.duplicate_of_id.is_(None),
            )
        ).all()
    with zipfile.ZipFile(download.path()) as archive:
        assert sorted(archive.namelist()) == sorted(i.path.split("/", 1)[1] for i in items)
        for item in items:
            expected = ctx.archive.abspath(item.blob_path).read_bytes()
            assert archive.read(item.path.split("/", 1)[1]) == expected
    page.close()


def test_photos_ticked_on_two_listings_come_in_one_zip(corpus, browser):
    ctx, base = corpus
    page = browser.new_page()
    sign_in(page, base, "viewer")
    page.goto(base + "/photos?unit=jinzhou")
    page.locator('input[name="item"]').first.check()
    page.goto(base + "/photos?unit=dalian")  # another listing, as another page would be
    page.locator('input[name="item"]').first.check()
    assert page.locator("#selcount").inner_text() == "2"  # the first tick is kept
    with page.expect_download() as info:
        page.click("#zipbutton")
    with zipfile.ZipFile(info.value.path()) as archive:
        folders = {name.split("/")[0] for name in archive.namelist()}
    assert folders == {"锦州市教育局", "大连市教育局"}
    page.click("#clearsel")
    assert page.locator("#selcount").inner_text() == "0"
    page.close()


def test_the_report_of_a_day_picked_in_the_calendar(queue_500, browser):
    _, base = queue_500
    page = browser.new_page()
    sign_in(page, base, "viewer")
    page.goto(base + "/reports")
    assert page.locator("#daypick").input_value() == "2023-05-20"  # the latest report
    page.fill("#daypick", "2023-05-19")  # picking a day shows it
    page.wait_for_url("**/reports?day=2023-05-19")
    assert "2023年5月19日的每日报告" in page.locator("main").inner_text()
    report = page.frame_locator("iframe.report")
    report.locator("text=每日材料报告").first.wait_for()
    assert "2023-05-19" in report.locator("h1 + p").inner_text()
    shot(page, "report-day")
    page.close()


PHONE_PAGES = [
    "/",
    "/browse",
    "/units",
    "/units/jinzhou",
    "/photos",
    "/search?q=活动周 方案",
    "/triage",
    "/not-material",
    "/reports",
]


def test_no_page_scrolls_sideways_on_a_phone(corpus, browser):
    ctx, base = corpus
    with ctx.db.session() as session:
        message = session.scalar(select(func.max(Message.id)).where(Message.status == "filed"))
        item = session.scalar(select(func.min(Item.id)).where(Item.media == "image"))
    widths = {}
    phone = new_context(browser.browser, viewport=PHONE, is_mobile=True, has_touch=True)
    page = phone.new_page()
    sign_in(page, base)
    for path in [*PHONE_PAGES, f"/messages/{message}", f"/items/{item}"]:
        page.goto(base + path)
        page.wait_for_load_state("load")
        widths[path] = page.evaluate("() => document.documentElement.scrollWidth")
        if path in ("/", "/triage"):
            shot(page, "phone" + path.replace("/", "-"))
    phone.close()
    assert widths == dict.fromkeys(widths, PHONE["width"])
