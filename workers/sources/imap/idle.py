"""IMAP IDLE: a watcher thread that wakes an account's poll job when new mail arrives.

IDLE only shortens the wait; the scheduled poll stays the source of truth
(it runs on its interval anyway, with the lease and the records), so a
dropped IDLE connection never loses mail. The watcher re-issues IDLE well
inside the 29 minutes RFC 2177 allows, and reconnects with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import imapclient

from pipeline.errors import MailroomError
from workers.config.mailboxes import MailboxConfig, resolve_password
from workers.sources.imap import client as imap_client

log = logging.getLogger(__name__)

REIDLE_SECONDS = 600.0
CHECK_SECONDS = 1.0  # how quickly a stop request is noticed


def wait_for_mail(client: imapclient.IMAPClient, stop: threading.Event, max_seconds: float) -> bool:
    """IDLE until the server announces new mail (True), or stop / max_seconds (False)."""
    client.idle()
    try:
        deadline = time.monotonic() + max_seconds
        while not stop.is_set() and time.monotonic() < deadline:
            for response in client.idle_check(timeout=CHECK_SECONDS):
                if len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT"):
                    return True
        return False
    finally:
        client.idle_done()


class IdleWatcher(threading.Thread):
    """Keeps an IDLE connection on the account's first folder and calls on_mail on new mail."""

    def __init__(self, cfg: MailboxConfig, on_mail: Callable[[], None], stop: threading.Event):
        super().__init__(name=f"imap-idle-{cfg.name}", daemon=True)
        self.cfg, self.on_mail, self.stop = cfg, on_mail, stop
        self.idling = threading.Event()  # set once the first IDLE is in place (for tests)

    def run(self) -> None:
        backoff = 5.0
        while not self.stop.is_set():
            try:
                if not self._watch():
                    return
                backoff = 5.0
            except MailroomError as exc:
                log.warning(
                    "mailbox %s: IDLE: %s; polling goes on, IDLE retries in %.0f s",
                    self.cfg.name, exc, backoff,
                )  # fmt: skip
            except Exception:
                log.exception("mailbox %s: IDLE failed; polling goes on", self.cfg.name)
            self.stop.wait(backoff)
            backoff = min(backoff * 2, 600.0)

    def _watch(self) -> bool:
        """Hold one IDLE connection until it fails or stop; return False if IDLE is unsupported."""
        cfg, folder = self.cfg, self.cfg.folders[0]
        client = imap_client.connect(cfg, resolve_password(cfg))
        try:
            with imap_client.translate_errors(cfg, "starting IDLE"):
                if b"IDLE" not in client.capabilities():
                    log.info("mailbox %s: the server has no IDLE; polling only", cfg.name)
                    return False
                imap_client.select(client, cfg, folder, readonly=True)
            log.debug("mailbox %s: IDLE on %s", cfg.name, folder)
            while not self.stop.is_set():
                self.idling.set()
                with imap_client.translate_errors(cfg, "waiting in IDLE"):
                    if wait_for_mail(client, self.stop, REIDLE_SECONDS):
                        log.info("mailbox %s: new mail announced in %s", cfg.name, folder)
                        self.on_mail()
            return True
        finally:
            self.idling.clear()
            imap_client.close(client)
