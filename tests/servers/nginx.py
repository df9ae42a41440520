"""A real nginx for tests: Debian's nginx on a free loopback port, in front of the web UI.

Its own temp folder and config (`daemon off`, one process, pid, logs and temp
files in the folder). The server block is made of the `location` blocks of the
shipped example, deploy/nginx/mailroom.conf, with the archive folder of the test
site, so the test checks the example people copy.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers import end_process

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "mailroom.conf"
EXAMPLE_ARCHIVE = "/srv/mailroom/archive/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def example_locations(archive_dir: Path) -> str:
    """Returns the example's headers and location blocks, its archive folder replaced.

    The headers are the `add_header` and `server_tokens` lines of its https server
    block; listen, TLS and server_name are the test's own.
    """
    text = EXAMPLE.read_text(encoding="utf-8")
    blocks = re.findall(r"^    location [^\n]*\{\n.*?^    \}$", text, flags=re.M | re.S)
    if not blocks or EXAMPLE_ARCHIVE not in text:
        raise RuntimeError(f"{EXAMPLE} has no location blocks or no alias {EXAMPLE_ARCHIVE}")
    headers = re.findall(r"^    (?:add_header|server_tokens) [^\n]*;", text, flags=re.M)
    return "\n".join([*headers, *blocks]).replace(EXAMPLE_ARCHIVE, f"{archive_dir.resolve()}/")


class NginxServer:
    """One throwaway nginx proxying to the app on app_port."""

    def __init__(self, app_port: int, archive_dir: Path) -> None:
        binary = shutil.which("nginx") or (
            "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
        )
        if binary is None:
            raise RuntimeError("nginx is not installed: `make test` installs Debian's nginx")
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="mailroom-nginx-"))
        self.port = free_port()
        self.app_port = app_port
        self.archive_dir = archive_dir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        temp = {name: self.root / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
        return f"""
daemon off;
master_process off;
pid {self.root}/nginx.pid;
error_log {self.root}/error.log info;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {self.root}/access.log;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    upstream mailroom {{
        server 127.0.0.1:{self.app_port};
        keepalive 4;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        client_max_body_size 50m;
{example_locations(self.archive_dir)}
    }}
}}
"""

    def start(self) -> NginxServer:
        conf = self.root / "nginx.conf"
        conf.write_text(self.config(), encoding="utf-8")
        command = [self.binary, "-p", str(self.root), "-e", str(self.root / "error.log")]
        check = subprocess.run([*command, "-t", "-c", str(conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejects the test config:\n{check.stderr}")
        self.proc = subprocess.Popen(
            [*command, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start:\n{self.error_log()}")

    def error_log(self) -> str:
        log = self.root / "error.log"
        return log.read_text(errors="replace")[-4000:] if log.exists() else ""

    def stop(self) -> None:
        end_process(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)
