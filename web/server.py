"""The one way the web UI is served: uvicorn, configured the same for `run`, `serve` and tests."""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.applications import Starlette


def web_server(app: Starlette, host: str, port: int, **options: Any) -> uvicorn.Server:
    """Returns a uvicorn server for the app, not started.

    No `Server: uvicorn` header (it names the software to an attacker). uvicorn's
    own proxy-header handling is off: by default it believes X-Forwarded-For from
    127.0.0.1, which would let any local process pick the address that sign-in
    limits count; the app trusts only `[web] trusted_proxies` (web/app.py).
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        server_header=False,
        proxy_headers=False,
        **options,
    )
    return uvicorn.Server(config)
