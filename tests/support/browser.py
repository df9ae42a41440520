"""Serving the web UI on loopback and driving it with Debian's Chromium (Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD, live_server
from workers.app import AppContext

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@contextmanager
def serve(ctx: AppContext) -> Iterator[str]:
    """Serves ctx's UI on loopback as `mailroom serve` does; yields its URL."""
    with live_server(ctx) as (url, _app):
        yield url


@contextmanager
def chromium() -> Iterator:
    """Yields headless Debian Chromium; open pages in contexts of `new_context`."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed: run make test, which installs it")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser, **options):
    """Returns a fresh browser context (its own cookies): a desktop window in zh-CN by default."""
    context = browser.new_context(
        **{"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN", **options}
    )
    context.set_default_timeout(20_000)
    return context


def sign_in(page, base: str, name: str = "editor") -> None:
    page.goto(base + "/login")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button:has-text("登录")')
    page.wait_for_selector("text=报送情况")


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=False)
