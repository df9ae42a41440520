"""How the UI is served (web/server.py): no Server header; files as uncacheable as pages."""

from __future__ import annotations

import httpx

from tests.web.conftest import PASSWORD, csrf_of, live_server


def test_no_server_header_and_files_are_not_kept_in_the_browser_cache(corpus_site):
    with live_server(corpus_site) as (url, _app), httpx.Client(base_url=url) as browser:
        login = browser.get("/login")
        assert "server" not in login.headers  # uvicorn names itself by default
        token = csrf_of(login.text)
        browser.post("/login", data={"csrf_token": token, "name": "viewer", "password": PASSWORD})
        video = f"/items/{corpus_site.video_item_id}/video"
        for response in (
            browser.get(video, headers={"Range": "bytes=0-99"}),
            browser.get(video.replace("/video", "/file")),
            browser.get(video.replace("/video", "/thumb"), follow_redirects=True),
            browser.get("/"),
        ):
            assert response.status_code in (200, 206), response.url
            assert "server" not in response.headers
            if "/static/" not in str(response.url):
                assert response.headers["cache-control"] == "private, no-store"
        assert browser.get(video, headers={"Range": "bytes=0-99"}).status_code == 206
