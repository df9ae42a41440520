"""Archive passwords a sender wrote in the message itself ("解压密码：hdz0518").

Units zip their material with a password and put it in the subject or the body,
in every form a person types: 解压密码 / 密码 / 口令 / password / pwd, a half- or
full-width colon, 是 or 为, the password in quotes or brackets, or on the next
line ("解压密码如下：" then the password alone). Every candidate is only *tried*:
a wrong one costs one failed decryption, so the finder prefers finding too many
to missing the one that works.

The scan is one pass of a regular expression without nested repetition over at
most MAX_SCAN characters of each text, so a hostile body cannot make it slow.
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.textparts import html_to_text

MAX_SCAN = 200_000  # characters of each text looked at; passwords sit near the top
MAX_CANDIDATES = 8
_KEYWORD = (
    r"(?:解压缩密码|解压密码|解压码|解压口令|压缩包密码|压缩密码|文件密码|打开密码|密码|口令"
    r"|(?<![a-z])(?:password|passwd|pwd)(?![a-z]))"
)
# After NFKC the full-width colon and equals sign are ASCII; 是/为 are how people write it.
_SEPARATOR = (
    r"(?:[ \t]*(?:如下|为|是)?[ \t]*[:=][ \t]*(?:\r?\n[ \t]*){0,3}"  # 密码：x, 密码为: x, 如下：⏎x
    r"|[ \t]*(?:为|是)[ \t]*"  # 密码是x
    r"|[ \t]*(?:如下)?[ \t]*(?:\r?\n[ \t]*){1,3}"  # 解压密码⏎x
    r"|(?=[\"'“‘「『《【]))"  # 口令【x】
)
_OPEN = "\"'“‘「『《【(<"
_TOKEN = r"[^\s\"'“”‘’「」『』《》【】()<>,;。、]{1,64}"
_FINDER = re.compile(
    f"{_KEYWORD}{_SEPARATOR}[{re.escape(_OPEN)}]?({_TOKEN})", re.IGNORECASE | re.MULTILINE
)
# What follows a keyword but is not a password ("密码：另行告知", "密码为空").
_NOT_PASSWORDS = {"如下", "见下", "另行告知", "另告", "单独发送", "稍后发送", "空", "无", "略"}
_TRAILING = ".!?:"


def find_passwords(subject: str, body_text: str, body_html: str = "") -> list[str]:
    """Returns the passwords the sender gives in the subject or body, first found first."""
    found: list[str] = []
    texts = [subject, body_text or html_to_text(body_html[: MAX_SCAN * 2])]
    for text in texts:
        for token in _tokens(text or ""):
            if token not in found:
                found.append(token)
    return found[:MAX_CANDIDATES]


def _tokens(text: str) -> list[str]:
    normalised = unicodedata.normalize("NFKC", text[:MAX_SCAN])
    out = []
    for match in _FINDER.finditer(normalised):
        token = match.group(1)
        trimmed = token.rstrip(_TRAILING)
        if trimmed and trimmed not in _NOT_PASSWORDS:
            out.append(trimmed)
            if trimmed != token:  # "hdz0518." may really end in the dot: try both
                out.append(token)
    return out
