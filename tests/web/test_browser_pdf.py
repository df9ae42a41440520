"""A mailed PDF with JavaScript, opened through the UI in Debian's Chromium: its script never runs.

Chromium's PDF viewer runs a PDF's /OpenAction JavaScript (app.alert shows a dialog)
even inside a sandboxed iframe; the UI shows PDFs as page pictures and serves the
file itself only as a download. The test first proves its alert hook would catch the
PDF's dialog (the same bytes served inline, by a route of the test), then opens the item.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Item
from tests.support.browser import CHROMIUM, FLAGS
from tests.support.pdfs import pdf_with_pages
from tests.web.conftest import PASSWORD, live_server, open_site
from workers.media import jobs as media_jobs
from workers.sources.inbox import ingest_paths

pytestmark = pytest.mark.browser
SCRIPT = "app.alert('pdf-script-ran')"
PDF = pdf_with_pages([["Plan page 1"], ["Plan page 2"], ["Plan page 3"]], SCRIPT)


@pytest.fixture(scope="module")
def pdf_site(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """A site holding one message with the scripted PDF, its pages drawn; yields (url, item id)."""
    folder = tmp_path_factory.mktemp("pdf-site")
    ctx = open_site(folder, [])
    mail = EmailMessage()
    mail["From"] = "a@evil.example"
    mail["Subject"] = "活动方案"
    mail.set_content("见附件")
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="活动方案.pdf")
    path = Path(folder) / "pdf.eml"
    path.write_bytes(bytes(mail))
    ingest_paths(ctx, [path], label="test")
    env = media_jobs.JobEnv.of(ctx)
    with ctx.db.session() as session:
        refs = media_jobs.pending(session)
    assert [media_jobs.run_job(env, ref.id) for ref in refs] == ["done"] * len(refs)
    with ctx.db.session() as session:
        item = session.scalars(select(Item).where(Item.name == "活动方案.pdf")).one()
        assert len(item.meta["pages"]) == 3 and item.meta["page_count"] == 3
        item_id = item.id
    with live_server(ctx) as (url, _app):
        yield url, item_id
    ctx.close()


@pytest.fixture(scope="module")
def browser_page(pdf_site):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed: run make test, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        yield page
        browser.close()


def test_the_alert_hook_catches_a_pdf_script_served_inline(pdf_site, browser_page):
    url, _ = pdf_site
    control = f"{url}/control-inline.pdf"  # the old way: the PDF inline on the app's origin
    browser_page.route(
        control, lambda route: route.fulfill(body=PDF, content_type="application/pdf")
    )
    with browser_page.expect_event("dialog", timeout=30_000) as shown:
        browser_page.goto(control)
    assert shown.value.message == "pdf-script-ran"
    browser_page.goto("about:blank")
    browser_page.dialogs.clear()


def test_opening_the_pdf_item_shows_its_pages_and_runs_no_script(pdf_site, browser_page):
    url, item_id = pdf_site
    page = browser_page
    page.goto(url + "/login")
    page.fill('input[name="name"]', "viewer")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("登录")')
    page.wait_for_url(url + "/")
    page.goto(f"{url}/items/{item_id}")  # waits for the load event: frames included
    assert [f.url for f in page.frames] == [page.url]  # no viewer frame, no embedded PDF
    page.locator("img.page").nth(2).scroll_into_view_if_needed()  # the later pages load lazily
    page.wait_for_function(
        "() => { const p = document.querySelectorAll('img.page');"
        " return p.length === 3 && [...p].every(i => i.complete && i.naturalWidth > 0); }"
    )
    with page.expect_download() as download:
        page.click("text=下载原件")
    assert download.value.suggested_filename == "活动方案.pdf"
    with page.expect_download():  # even asked for inline, the file is only a download
        page.evaluate(f"() => {{ location.href = '/items/{item_id}/file?inline=1'; }}")
    assert page.dialogs == []
