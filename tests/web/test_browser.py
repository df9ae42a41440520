"""The UI in a real browser: Debian's Chromium, headless, against uvicorn on a free port."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Item, Message
from tests.web.conftest import PASSWORD, live_server

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def server(corpus_site):
    """Serves the corpus site over plain http on loopback (cookie_secure off, as in dev)."""
    with live_server(corpus_site) as (url, _app):
        yield url


@pytest.fixture(scope="module")
def page(server):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed: run make test, which installs it")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=False)


def test_sign_in_and_see_the_dashboard(server, page):
    page.goto(server + "/")
    assert "/login" in page.url
    page.fill('input[name="name"]', "editor")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("登录")')
    page.wait_for_selector("text=报送情况")
    shot(page, "dashboard")


def test_browse_to_a_unit(server, page):
    page.click("nav >> text=单位")
    page.click("text=锦州市教育局")
    page.wait_for_selector("h1:has-text('锦州市教育局')")
    assert page.locator("table.list tbody tr").count() >= 1
    shot(page, "unit")


def test_open_a_photo(server, page, corpus_site):
    page.goto(server + "/photos?unit=jinzhou")
    page.locator("ul.grid img").first.click()
    page.wait_for_selector("img#photo")
    page.wait_for_function("() => document.getElementById('photo').naturalWidth > 0")
    shot(page, "photo")


def test_play_a_video_to_one_second(server, page, corpus_site):
    page.goto(f"{server}/items/{corpus_site.video_item_id}")
    page.wait_for_selector("video#player")
    page.evaluate(
        "() => { const v = document.getElementById('player'); v.muted = true; return v.play(); }"
    )
    page.wait_for_function(
        "() => document.getElementById('player').currentTime >= 1", timeout=20_000
    )
    # seeking works because the server answers Range requests
    page.evaluate("() => { document.getElementById('player').currentTime = 2.5; }")
    page.wait_for_function("() => document.getElementById('player').currentTime >= 2.5")
    page.evaluate("() => document.getElementById('player').pause()")
    shot(page, "video")


def test_search_a_word_from_inside_a_document(server, page, corpus_site):
    with corpus_site.db.session() as session:
        item = session.scalars(
            select(Item).where(Item.media == "document", Item.text != "").order_by(Item.id)
        ).first()
        word = next(w for w in ("辽宁", "职业", "活动", "学校") if w in item.text)
    page.goto(server + "/search")
    page.fill('input[name="q"]', word)
    page.click('button:has-text("搜索")')
    page.wait_for_selector(f'a[href="/items/{item.id}"]')
    shot(page, "search")


def test_assign_a_triaged_message(server, page, corpus_site):
    page.goto(server + "/triage")
    section = page.locator("section.triage").first
    message_pk = int(section.get_attribute("id")[1:])
    section.locator('select[name="unit"]').select_option("tieling")
    shot(page, "triage")
    section.locator('button:has-text("确定归档")').click()
    page.wait_for_url("**/triage?done=1")
    with corpus_site.db.session() as session:
        message = session.get(Message, message_pk)
        assert (message.unit_code, message.status) == ("tieling", "filed")
