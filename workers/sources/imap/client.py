"""A thin layer over imapclient that speaks in MailboxError and UIDs.

Every fault the network or server can produce is translated here, once,
into a MailboxError whose message is one line saying what to check.
Searches use ASCII criteria only (some Chinese providers reject a CHARSET
argument, Exchange answers BADCHARSET); fetches go by UID in bounded
batches and never change the \\Seen flag (BODY.PEEK[]).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import socket
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import imapclient
from imapclient import exceptions as imap_errors

from pipeline.errors import MailboxError
from workers.config.mailboxes import AfterAction, MailboxConfig

log = logging.getLogger(__name__)

# UIDs per command: keeps every command line short (a few hundred bytes)
SIZE_CHUNK = 200
# a batch is cut when its messages add up to this many bytes, so memory stays
# bounded whatever batch_size says; a bigger message is fetched on its own
MAX_BATCH_BYTES = 16 * 1024 * 1024
# fetches of one message whose body is not the RFC822.SIZE announced (the first included)
SIZE_TRIES = 3


class FolderMissingError(MailboxError):
    """The folder named in config does not exist on the server."""


class ConnectionLostError(MailboxError):
    """The connection failed or dropped; the next tick may well succeed."""


@dataclass(frozen=True)
class FolderState:
    """What SELECT says about a folder: UIDVALIDITY, UIDNEXT and message count."""

    uidvalidity: int
    uidnext: int
    exists: int


@dataclass(frozen=True)
class FetchedMessage:
    """One message as fetched: its UID, raw bytes and INTERNALDATE (aware, UTC).

    `declared_size` is the RFC822.SIZE the server announced when every fetch gave
    another number of bytes (None when they agree): ingestion flags it `truncated`.
    """

    uid: int
    raw: bytes
    internaldate: dt.datetime | None
    declared_size: int | None = None
    sha256: str = field(init=False, repr=False, compare=False)  # of raw: hashed once, here

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.raw).hexdigest())


def _password_hint(cfg: MailboxConfig) -> str:
    if cfg.password_env:
        return cfg.password_env
    return f"the password file {cfg.password_file}"


@contextlib.contextmanager
def translate_errors(cfg: MailboxConfig, doing: str = "") -> Iterator[None]:
    """Turn socket, TLS and IMAP faults raised inside into one-line MailboxErrors."""
    where = f"{cfg.host}:{cfg.port}"
    during = f" while {doing}" if doing else ""
    try:
        yield
    except MailboxError:
        raise
    except imap_errors.LoginError:
        raise MailboxError(
            f"cannot log in to {cfg.host} as {cfg.username}: check {_password_hint(cfg)}"
            " (some providers want an authorisation code, not the web password)"
        ) from None
    except ConnectionRefusedError:
        raise ConnectionLostError(
            f"cannot connect to {where}: check [mailbox] host/port and that the server is up"
        ) from None
    except socket.gaierror as exc:
        raise ConnectionLostError(
            f"cannot find the server {cfg.host} ({exc.strerror}): check [mailbox] host and DNS"
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise MailboxError(
            f"TLS certificate of {where} is not trusted ({exc.verify_message}): check [mailbox] "
            "host matches the certificate, or set ca_file for a private CA"
        ) from None
    except ssl.SSLError as exc:
        raise ConnectionLostError(
            f"TLS failure with {where}{during} ({exc.reason or exc}): check [mailbox] security "
            f"(ssl is usually port 993, starttls port 143)"
        ) from None
    except TimeoutError:
        raise ConnectionLostError(
            f"{where} did not answer within {cfg.timeout_seconds:g} s{during}: check the "
            "network, [mailbox] port and security (ssl vs starttls), or raise timeout_seconds"
        ) from None
    except (imap_errors.IMAPClientAbortError, ConnectionError, EOFError, OSError) as exc:
        raise ConnectionLostError(
            f"connection to {where} dropped{during} ({exc}): it will be retried next poll; "
            "if it keeps happening check the server and network"
        ) from None
    except imap_errors.IMAPClientError as exc:
        raise MailboxError(f"{where} refused{during}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return " ".join(text.split())[:300]


def ssl_context(cfg: MailboxConfig) -> ssl.SSLContext:
    """Return a verifying TLS context that also trusts cfg.ca_file when set."""
    context = ssl.create_default_context()
    if cfg.ca_file:
        context.load_verify_locations(cafile=str(cfg.ca_file))
    return context


def connect(cfg: MailboxConfig, password: str) -> imapclient.IMAPClient:
    """Return a logged-in IMAPClient for the account; raise MailboxError on any fault."""
    with translate_errors(cfg, "connecting"):
        client = imapclient.IMAPClient(
            cfg.host,
            port=cfg.port,
            ssl=cfg.security == "ssl",
            ssl_context=ssl_context(cfg) if cfg.security != "none" else None,
            timeout=cfg.timeout_seconds,
        )
    try:
        with translate_errors(cfg, "logging in"):
            if cfg.security == "starttls":
                if b"STARTTLS" not in client.capabilities():
                    raise MailboxError(
                        f"{cfg.host}:{cfg.port} does not offer STARTTLS: check [mailbox] "
                        "security and port (ssl is usually port 993)"
                    )
                client.starttls(ssl_context(cfg))
            client.login(cfg.username, password)
            _identify(client)
            # aware datetimes for INTERNALDATE, not server-local naive ones
            client.normalise_times = False
    except BaseException:
        close(client)
        raise
    log.debug("logged in to %s", cfg.describe())
    return client


def _identify(client: imapclient.IMAPClient) -> None:
    """Send the RFC 2971 ID command when offered.

    NetEase (163/126/yeah.net) accepts LOGIN but answers SELECT with
    "Unsafe Login" until the client has identified itself with ID.
    """
    if b"ID" not in client.capabilities():
        return
    try:
        client.id_({"name": "mailroom", "version": "0.1", "vendor": "mailroom"})
    except imap_errors.IMAPClientError as exc:
        if isinstance(exc, imap_errors.IMAPClientAbortError):
            raise
        log.debug("the server refused the ID command: %s", exc)


def close(client: imapclient.IMAPClient) -> None:
    """Log out, or just drop the socket if the connection is already broken."""
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


def select(
    client: imapclient.IMAPClient, cfg: MailboxConfig, folder: str, *, readonly: bool = True
) -> FolderState:
    """SELECT a folder and return its UIDVALIDITY, UIDNEXT and EXISTS."""
    with translate_errors(cfg, f"opening folder {folder!r}"):
        try:
            answer = client.select_folder(folder, readonly=readonly)
        except imap_errors.IMAPClientError as exc:
            if client.folder_exists(folder):
                raise
            names = ", ".join(sorted(str(f[2]) for f in client.list_folders()))[:300]
            raise FolderMissingError(
                f"folder {folder!r} does not exist on {cfg.host} for {cfg.username}: check "
                f"[mailbox] folders (the server has: {names})"
            ) from exc
        uidnext = answer.get(b"UIDNEXT")
        if uidnext is None:  # not every server sends it with SELECT; STATUS always can
            uidnext = client.folder_status(folder, [b"UIDNEXT"])[b"UIDNEXT"]
    return FolderState(int(answer[b"UIDVALIDITY"]), int(uidnext), int(answer[b"EXISTS"]))


def new_uids(
    client: imapclient.IMAPClient, folder: str, after_uid: int, uidnext: int | None = None
) -> list[int]:
    """Return the sorted UIDs above after_uid in the selected folder.

    `UID SEARCH UID n:*` always matches the last message even when n is above
    every UID (RFC 3501 6.4.8), so that match is dropped; when UIDNEXT shows
    nothing can be new, no command is sent at all.
    """
    if uidnext is not None and after_uid + 1 >= uidnext:
        return []
    # ASCII criteria and no CHARSET argument: some servers reject one
    found = client.search(["UID", f"{after_uid + 1}:*"])
    return sorted(uid for uid in found if uid > after_uid)


def uid_set(uids: Iterable[int]) -> str:
    """Return a compact IMAP UID set, e.g. [1, 2, 3, 7] -> '1:3,7'."""
    parts: list[str] = []
    ordered = sorted(set(uids))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def plan_batches(
    sizes: dict[int, int], batch_size: int, max_bytes: int = MAX_BATCH_BYTES
) -> list[list[int]]:
    """Return UIDs grouped into batches of at most batch_size messages and ~max_bytes."""
    batches: list[list[int]] = []
    current: list[int] = []
    total = 0
    for uid in sorted(sizes):
        size = sizes[uid]
        if current and (len(current) >= batch_size or total + size > max_bytes):
            batches.append(current)
            current, total = [], 0
        current.append(uid)
        total += size
    if current:
        batches.append(current)
    return batches


def fetch_messages(
    client: imapclient.IMAPClient,
    uids: Iterable[int],
    batch_size: int = 50,
    *,
    max_batch_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[FetchedMessage]:
    """Yield the messages with these UIDs, in UID order, fetched with BODY.PEEK[].

    Sizes are asked first (RFC822.SIZE) so that a batch never holds more
    than about max_batch_bytes; the caller stores each message before the
    generator fetches the next batch. UIDs the server no longer has
    (expunged meanwhile) are skipped, and so are unsolicited FETCH
    responses that carry no body.
    """
    wanted = sorted(set(uids))
    for chunk in _chunks(wanted, SIZE_CHUNK):
        answer = client.fetch(chunk, [b"RFC822.SIZE"])
        sizes = {uid: int(d[b"RFC822.SIZE"]) for uid, d in answer.items() if b"RFC822.SIZE" in d}
        for batch in plan_batches(sizes, batch_size, max_batch_bytes):
            answer = client.fetch(batch, BODY_ITEMS)
            for uid in batch:
                data = answer.pop(uid, None)
                if data is None or b"BODY[]" not in data:
                    log.info("UID %s vanished from the folder before it could be fetched", uid)
                    continue
                raw = bytes(data[b"BODY[]"])
                declared = None
                if len(raw) != sizes[uid]:
                    raw, declared = _fetch_again(client, uid, raw, sizes[uid])
                yield FetchedMessage(uid, raw, _utc(data.get(b"INTERNALDATE")), declared)


BODY_ITEMS = [b"BODY.PEEK[]", b"INTERNALDATE"]


def _fetch_again(
    client: imapclient.IMAPClient, uid: int, raw: bytes, size: int
) -> tuple[bytes, int | None]:
    """Returns the body of a message that came with another size than announced, and the
    size to flag it with (None once a fetch agrees with RFC822.SIZE).

    A literal shorter than RFC822.SIZE is a message cut short on the way (a proxy,
    a server fault), not the message: it is fetched again, up to SIZE_TRIES in all.
    If the server keeps sending another size, the longest body is kept and flagged.
    """
    bodies = [raw]
    for _ in range(SIZE_TRIES - 1):
        log.warning(
            "UID %s came with %d bytes, but the server announced %d (RFC822.SIZE): fetching it "
            "again", uid, len(bodies[-1]), size,
        )  # fmt: skip
        data = client.fetch([uid], BODY_ITEMS).get(uid) or {}
        if b"BODY[]" not in data:
            break
        bodies.append(bytes(data[b"BODY[]"]))
        if len(bodies[-1]) == size:
            return bodies[-1], None
    longest = max(bodies, key=len)
    log.warning(
        "UID %s: %d fetches gave %s bytes, not the %d announced (RFC822.SIZE); it is filed "
        "with the %d bytes received and flagged%s",
        uid, len(bodies), "/".join(str(len(b)) for b in bodies), size, len(longest),
        " truncated" if len(longest) < size else "",
    )  # fmt: skip
    return longest, size


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # normalise_times was left on: server-local naive time
        value = value.astimezone()
    return value.astimezone(dt.UTC)


def apply_after_action(
    client: imapclient.IMAPClient, folder: str, uids: Iterable[int], action: AfterAction
) -> None:
    """Flag, mark seen or move messages in the selected (read-write) folder.

    MOVE is used when the server has it; otherwise COPY, \\Deleted and
    UID EXPUNGE of just these UIDs (UIDPLUS), so other messages a person
    marked deleted are left alone.
    """
    todo = sorted(set(uids))
    if action.kind == "none" or not todo:
        return
    for chunk in _chunks(todo, SIZE_CHUNK):
        if action.kind == "seen":
            client.add_flags(chunk, [imapclient.SEEN], silent=True)
        elif action.kind == "flag":
            client.add_flags(chunk, [action.argument.encode("ascii")], silent=True)
        elif action.kind == "move":
            _move(client, chunk, action.argument)
        else:
            raise ValueError(f"unknown after-action {action}")
    log.debug("applied %s to %d message(s) in %s", action, len(todo), folder)


def _move(client: imapclient.IMAPClient, uids: list[int], destination: str) -> None:
    if not client.folder_exists(destination):
        client.create_folder(destination)
    capabilities = client.capabilities()
    if b"MOVE" in capabilities:
        client.move(uids, destination)
        return
    client.copy(uids, destination)
    client.add_flags(uids, [imapclient.DELETED], silent=True)
    if b"UIDPLUS" in capabilities:
        client.uid_expunge(uids)
    else:
        # a plain EXPUNGE would also remove messages someone else marked deleted
        log.warning("server lacks UIDPLUS: moved messages stay marked deleted in the source")
