"""The UI in a real browser: Debian's Chromium, headless, against uvicorn on a free port."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Item, Message
from tests.support.browser import chromium, new_context, shot
from tests.web.conftest import PASSWORD, live_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(corpus_site):
    """Serves the corpus site over plain http on loopback (cookie_secure off, as in dev)."""
    with live_server(corpus_site) as (url, _app):
        yield url


@pytest.fixture(scope="module")
def page(server):
    with chromium() as browser:
        page = new_context(browser).new_page()
        page.set_default_timeout(15_000)
        yield page


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


def test_open_a_photo_in_the_lightbox_and_step_with_the_arrow_keys(server, page, corpus_site):
    page.goto(server + "/photos?unit=jinzhou")
    page.locator("ul.grid a.thumb img").first.click()
    page.wait_for_selector("#lightbox:not([hidden])")
    page.wait_for_function("() => document.querySelector('#lightbox img').naturalWidth > 0")
    first = page.locator("#lightbox img").get_attribute("src")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "(first) => document.querySelector('#lightbox img').getAttribute('src') !== first",
        arg=first,
    )
    shot(page, "lightbox")
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")
    page.locator("ul.grid .cap").first.wait_for()
    href = page.locator("ul.grid a.thumb").first.get_attribute("href")
    page.goto(server + href)
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
    page.wait_for_selector(".flash:has-text('已把邮件归入铁岭市教育局')")
    with corpus_site.db.session() as session:
        message = session.get(Message, message_pk)
        assert (message.unit_code, message.status) == ("tieling", "filed")
