"""A TCP proxy in front of a real IMAP server that cuts one message's body literal short.

A server that lies: it announces RFC822.SIZE = n for a message, then sends its
BODY[] as a well-formed literal of fewer bytes (`{n - cut}` and that many bytes),
as a broken proxy, a server bug or a disk error on its side can; a negative `cut`
sends more bytes instead (padding after the body). Everything else passes through
unchanged. `times` limits how many fetches are changed (None: every one).
"""

from __future__ import annotations

import re
import socket
import threading

from tests.servers.dovecot import free_port

_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
_UID = re.compile(rb"\bUID (\d+)\b")


class ShorteningProxy:
    """Listens on 127.0.0.1:`port`; forwards to `upstream_port`, cutting UID `uid`'s body."""

    def __init__(self, upstream_port: int, uid: int, cut: int, times: int | None = None):
        self.upstream_port, self.uid, self.cut, self.times = upstream_port, uid, cut, times
        self.port = free_port()
        self.shortened = 0  # bodies cut so far
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> ShorteningProxy:
        threading.Thread(target=self._accept, daemon=True, name="imap-proxy").start()
        return self

    def close(self) -> None:
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, server]
            threading.Thread(target=_pump, args=(client, server), daemon=True).start()
            threading.Thread(
                target=self._pump_responses, args=(server, client), daemon=True
            ).start()

    def _should_cut(self, line: bytes) -> bool:
        found = _UID.search(line)
        if b"BODY[]" not in line or found is None or int(found.group(1)) != self.uid:
            return False
        with self._lock:
            if self.times is not None and self.shortened >= self.times:
                return False
            self.shortened += 1
            return True

    def _pump_responses(self, server: socket.socket, client: socket.socket) -> None:
        """Forwards server lines as they are, except the chosen literal, re-announced shorter."""
        buffer, keep, skip, pad = b"", 0, 0, 0
        try:
            while data := server.recv(65536):
                buffer += data
                out = bytearray()
                while buffer or (pad and not keep):
                    if pad and not keep:  # a longer literal: padding after the body
                        out += b"X" * pad
                        pad = 0
                        continue
                    if keep or skip:  # inside a literal: forward `keep` bytes, drop `skip`
                        part = buffer[: keep or skip]
                        buffer = buffer[len(part) :]
                        if keep:
                            out += part
                            keep -= len(part)
                        else:
                            skip -= len(part)
                        continue
                    end = buffer.find(b"\r\n")
                    if end < 0:
                        break
                    line, buffer = buffer[: end + 2], buffer[end + 2 :]
                    literal = _LITERAL.search(line)
                    if literal is None:
                        out += line
                        continue
                    size = int(literal.group(1))
                    cut = min(self.cut, size) if self._should_cut(line) else 0
                    out += line[: literal.start()] + b"{%d}\r\n" % (size - cut)
                    keep, skip, pad = size - max(cut, 0), max(cut, 0), max(-cut, 0)
                client.sendall(bytes(out))
        except OSError:
            pass
        finally:
            client.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        dst.close()
