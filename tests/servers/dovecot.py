"""A real Dovecot IMAP server run from a temporary folder, for tests and benchmarks.

Debian's `dovecot-imapd` is started with its own config (`dovecot -c FILE`),
listening on free loopback ports, with passwd-file users mapped to the
`dovecot` uid and Maildir storage under the temporary folder. Variants:
plain (no TLS at all) and TLS (STARTTLS on `port`, implicit TLS on
`ssl_port`, with a self-signed certificate made here by openssl).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import imapclient

DOVECOT = "/usr/sbin/dovecot"

CONFIG_TEMPLATE = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
{ssl_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
# the dovecot uid (~103) is below the default 500: without this, login works
# but every command fails with "Mail access for users with UID 103 not permitted"
first_valid_uid = 1
first_valid_gid = 1
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:~/Maildir
imap_id_log = *
{imap_capability}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


def dovecot_available() -> bool:
    """Return whether the Dovecot binary and its `dovecot` user exist here."""
    try:
        pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        return False
    return os.access(DOVECOT, os.X_OK)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Return once 127.0.0.1:port accepts connections; raise TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.02)


def wait_for_port_closed(port: int, timeout: float = 5.0) -> None:
    """Return once 127.0.0.1:port refuses connections (or after timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except ConnectionRefusedError:
            return
        except OSError:
            pass
        time.sleep(0.02)


def make_self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """Return (cert, key) paths of a new self-signed certificate for 127.0.0.1/localhost."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not installed: apt-get install openssl")
    cmd = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return cert, key


def _descendants(pid: int) -> list[int]:
    """Return the pids of every process below pid (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Return whether pid runs; a zombie waiting to be reaped counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pids: list[int], timeout: float) -> bool:
    """Return True once none of pids exists any more, False after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if not any(_alive(pid) for pid in pids):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


class DovecotServer:
    """One Dovecot instance in its own temporary folder; call start() then stop()."""

    def __init__(self, *, tls: bool = False, move_capability: bool = True):
        self.tls = tls
        self.move_capability = move_capability
        self.root = Path(tempfile.mkdtemp(prefix="mailroom-dovecot-"))
        # the imap processes run as the dovecot user and must reach the homes
        self.root.chmod(0o755)
        self.port = free_port()
        self.ssl_port = free_port() if tls else 0
        self.users: dict[str, str] = {}
        self.cert: Path | None = None
        if tls:
            self.cert, self.key = make_self_signed_cert(self.root)
        self.config_path = self.root / "dovecot.conf"
        self.config_path.write_text(self._config())
        self.add_user("alice", "secret")

    # -- configuration -------------------------------------------------
    def _config(self) -> str:
        if self.tls:
            ssl_settings = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{self.key}"
        else:
            ssl_settings = "ssl = no"
        capability = ""
        if not self.move_capability:
            capability = (
                "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                "LITERAL+ UIDPLUS NAMESPACE UNSELECT CHILDREN"
            )
        return CONFIG_TEMPLATE.format(
            root=self.root,
            ssl_settings=ssl_settings,
            port=self.port,
            ssl_port=self.ssl_port,
            imap_capability=capability,
        )

    def add_user(self, username: str, password: str) -> None:
        """Create a user (or change their password); Dovecot re-reads the file by itself."""
        self.users[username] = password
        home = self.home(username)
        if not home.exists():
            home.mkdir(parents=True)
            dv = pwd.getpwnam("dovecot")
            for path in (self.root / "home", home):
                os.chown(path, dv.pw_uid, dv.pw_gid)
        self._write_passwd()

    set_password = add_user

    def _write_passwd(self) -> None:
        dv = pwd.getpwnam("dovecot")
        lines = [
            f"{user}:{{PLAIN}}{pw}:{dv.pw_uid}:{dv.pw_gid}::{self.home(user)}::\n"
            for user, pw in self.users.items()
        ]
        path = self.root / "passwd"
        old = path.stat().st_mtime if path.exists() else 0
        tmp = self.root / "passwd.tmp"
        tmp.write_text("".join(lines))
        # Dovecot notices a changed passwd-file by its mtime/size: make sure it moves
        stamp = max(time.time(), old + 1)
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, path)
        if self.is_running():
            # ... and stats the file at most once a second: let that second pass
            time.sleep(1.05 - time.time() % 1)

    def home(self, username: str) -> Path:
        """Return the user's home folder (the Maildir is inside it)."""
        return self.root / "home" / username

    # -- life cycle ----------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.root / "run" / "master.pid"

    def start(self) -> None:
        """Start Dovecot (again) on the same ports and data; return once it accepts."""
        # the daemon inherits our stdio: a pipe here would never reach EOF
        with open(self.root / "start.err", "w+b") as err:
            done = subprocess.run(
                [DOVECOT, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, timeout=30,
            )  # fmt: skip
            err.seek(0)
            problem = err.read().decode(errors="replace")
        if done.returncode != 0:
            raise RuntimeError(f"dovecot failed to start: {problem}\n{self.log()}")
        wait_for_port(self.port)
        if self.ssl_port:
            wait_for_port(self.ssl_port)
        # the daemon may write master.pid after it listens: stop() and kill() need it
        deadline = time.monotonic() + 10
        while not self.is_running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot wrote no master.pid in {self.pid_file}")
            time.sleep(0.01)

    def is_running(self) -> bool:
        """Return whether the Dovecot master process is alive."""
        pid = self._master_pid()
        return pid is not None and _alive(pid)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Dovecot gracefully (SIGTERM to its master); kill what is left after timeout."""
        pid = self._master_pid()
        if pid is None:
            return
        family = _descendants(pid)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not _wait_gone([pid], timeout):
            self.kill()
        _wait_gone(family, 2.0)
        self.pid_file.unlink(missing_ok=True)
        wait_for_port_closed(self.port)

    def kill(self) -> None:
        """Kill Dovecot and every process it started at once (SIGKILL), like a crash."""
        pid = self._master_pid()
        if pid is None:
            return
        # freeze the master first so it cannot start a process we would miss
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
        family = [pid, *_descendants(pid)]
        for member in family:
            try:
                os.kill(member, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _wait_gone(family, 5.0)
        self.pid_file.unlink(missing_ok=True)
        wait_for_port_closed(self.port)

    def _master_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None

    def cleanup(self) -> None:
        """Kill the server (its data is thrown away, so no need to wait) and delete its folder."""
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """Return the server's log so far (handy in assertion messages)."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- mailbox helpers -----------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        """Return a client SSL context that trusts this server's certificate."""
        ctx = ssl.create_default_context(cafile=str(self.cert))
        return ctx

    def client(self, username: str = "alice") -> imapclient.IMAPClient:
        """Return a logged-in imapclient connection (plain port, no TLS)."""
        client = imapclient.IMAPClient("127.0.0.1", self.port, ssl=False, timeout=30)
        client.login(username, self.users[username])
        return client

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: Iterable[bytes | str] = (),
        internaldate: dt.datetime | None = None,
        *,
        username: str = "alice",
    ) -> int:
        """Append one message and return its UID."""
        client = self.client(username)
        try:
            return self._append(client, folder, raw, flags, internaldate)
        finally:
            client.logout()

    def append_many(
        self, folder: str, messages: Iterable[bytes], *, username: str = "alice"
    ) -> list[int]:
        """Append many messages over one connection and return their UIDs."""
        client = self.client(username)
        try:
            return [self._append(client, folder, raw, (), None) for raw in messages]
        finally:
            client.logout()

    @staticmethod
    def _append(client, folder, raw, flags, internaldate) -> int:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        answer = client.append(folder, raw, flags=tuple(flags), msg_time=internaldate)
        # b'[APPENDUID <uidvalidity> <uid>] Append completed ...'
        return int(answer.split(b"]")[0].split()[-1])

    def create_folder(self, folder: str, username: str = "alice") -> None:
        client = self.client(username)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
        finally:
            client.logout()

    def recreate_folder(self, folder: str, username: str = "alice") -> None:
        """Delete and re-create a folder (not INBOX): its messages go, its UIDVALIDITY changes."""
        client = self.client(username)
        try:
            if client.folder_exists(folder):
                client.delete_folder(folder)
            client.create_folder(folder)
        finally:
            client.logout()

    def reset_uidvalidity(self, folder: str = "INBOX", username: str = "alice") -> None:
        """Keep the messages but make Dovecot renumber them under a new UIDVALIDITY.

        This is what a server migration or a rebuilt index does to a mailbox.
        """
        was_running = self.is_running()
        self.stop()
        maildir = self.home(username) / "Maildir"
        if folder != "INBOX":
            maildir = maildir / ("." + folder.replace("/", "."))
        for path in maildir.glob("dovecot*"):
            if path.name.startswith(("dovecot-uidlist", "dovecot.index")):
                path.unlink()
        if was_running:
            self.start()

    def status(self, folder: str = "INBOX", username: str = "alice") -> dict:
        """Return STATUS (MESSAGES, UIDNEXT, UIDVALIDITY) of a folder."""
        client = self.client(username)
        try:
            return client.folder_status(folder, [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY"])
        finally:
            client.logout()

    def flags(self, folder: str = "INBOX", username: str = "alice") -> dict[int, tuple]:
        """Return {uid: flags} of every message in the folder."""
        client = self.client(username)
        try:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            if not uids:
                return {}
            return {uid: data[b"FLAGS"] for uid, data in client.fetch(uids, ["FLAGS"]).items()}
        finally:
            client.logout()
