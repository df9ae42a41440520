"""Turning bytes and encoded headers into text, the way Chinese mail needs it.

Labels lie: "gb2312" often carries GBK or GB18030 bytes, "us-ascii" carries
Big5, and QQ Enterprise Mail sends raw 8-bit headers with no label at all.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import itertools
import quopri
import re

# GB2312 and GBK are subsets of GB18030: decoding as the superset never loses
# a character the sender meant, and fixes "gb2312" labels on GBK-only bytes.
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "csgb2312": "gb18030",
    "x-euc-cn": "gb18030",
    "gb_2312-80": "gb18030",
    "chinese": "gb18030",
    "hz-gb-2312": "hz",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "unicodebig": "utf-16-be",
    "unicodelittle": "utf-16-le",
    "unicode": "utf-16",
    "utf8": "utf-8",
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "ascii": "utf-8",
    "us-ascii": "utf-8",
}
# Codecs Python counts as text encodings that no mail is written in: "undefined" fails
# on every use, the escape codecs read backslashes as escapes, IDNA and punycode are for
# host names. Codecs that are not text encodings at all (zlib, base64, rot13, hex...)
# are refused by the codec's own _is_text_encoding flag. A header can name any of
# them; such a label is treated as unknown and the bytes are guessed.
_NOT_CHARSETS = {"undefined", "unicode-escape", "raw-unicode-escape", "idna", "punycode"}
_GUESS_CANDIDATES = ["utf_8", "gb18030", "big5hkscs", "cp949", "shift_jis", "euc_jp", "cp1252"]
_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)\?([bBqQ])\?([^?]*?)\?=")
_BETWEEN_WORDS = re.compile(r"^[ \t\r\n]*$")


def codec_for(label: str | None) -> str | None:
    """Returns a Python codec name for a MIME charset label, or None when unusable.

    Only text encodings are returned: a label naming a compression or transfer
    codec (zlib, base64, rot13) or "undefined" is unusable, like an unknown name.
    """
    if not label:
        return None
    name = label.strip().strip('"').lower().split("*")[0]  # RFC 2231 language suffix
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        codec = codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None
    if not getattr(codec, "_is_text_encoding", True) or codec.name in _NOT_CHARSETS:
        return None
    return codec.name


def guess_decode(data: bytes) -> str:
    """Returns bytes decoded with the most plausible charset (UTF-8 first, then a guess)."""
    return without_nul(_guess_decode(data)) if data else ""


def _guess_decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    chinese = _best_chinese(data)
    if chinese is not None:
        return chinese
    from charset_normalizer import from_bytes  # here: only undecodable bytes get this far

    best = from_bytes(data, cp_isolation=_GUESS_CANDIDATES).best()
    if best is not None:
        return str(best)
    return data.decode("gb18030", errors="replace")


def _common_han_share(text: str) -> float:
    """Returns the share of non-ASCII characters that are everyday Chinese characters.

    Judged on the first 20,000 of them: zhconv folds ~3 million characters a second,
    and a charset is as clear from a page as from a whole 4 MB manuscript.
    """
    wide = list(itertools.islice((c for c in text if ord(c) > 127), 20_000))
    if not wide:
        return 0.0
    import zhconv  # here, not at the top: it imports pkg_resources (~0.15 s) on load

    common = 0
    for ch in zhconv.convert("".join(wide), "zh-cn"):
        try:
            encoded = ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        # GB2312 level 1 (0xB0-0xD7 lead bytes) holds the 3,755 most used characters;
        # punctuation and full-width forms (0xA1-0xA3) are common too.
        if len(encoded) == 2 and (0xB0 <= encoded[0] <= 0xD7 or 0xA1 <= encoded[0] <= 0xA3):
            common += 1
    return common / len(wide)


def _best_chinese(data: bytes) -> str | None:
    """Returns data decoded as GB18030 or Big5, whichever reads as everyday Chinese."""
    scored = []
    for codec in ("gb18030", "big5hkscs"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        scored.append((_common_han_share(text), codec == "gb18030", text))
    if not scored:
        return None
    share, _, text = max(scored)
    return text if share >= 0.6 else None


def without_nul(text: str) -> str:
    """Returns text without NUL characters.

    They never mean anything in mail or document text (a broken encoder, UTF-16
    read as 8-bit), and PostgreSQL refuses to store them: one NUL in a subject
    would stop the whole message from being filed there.
    """
    return text.replace("\x00", "") if "\x00" in text else text


def decode_bytes(data: bytes, label: str | None) -> str:
    """Returns bytes decoded by their declared charset, falling back to a guess."""
    codec = codec_for(label)
    if codec == "utf-8" and data.isascii():
        return without_nul(data.decode("ascii"))
    if codec:
        try:
            return without_nul(data.decode(codec))
        except UnicodeError:  # UnicodeDecodeError, and the bare UnicodeError of utf-7 & co
            pass
    return guess_decode(data)


def _decode_word_payload(encoding: str, text: str) -> bytes:
    if encoding in "bB":
        cleaned = re.sub(r"[^A-Za-z0-9+/=]", "", text).rstrip("=")
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned)
        except (binascii.Error, ValueError):
            return base64.b64decode(cleaned[: len(cleaned) // 4 * 4] or b"")
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=False)


def decode_encoded_words(text: str) -> str:
    """Returns text with RFC 2047 words decoded, adjacent words joined before decoding.

    Words are joined per charset before decoding because senders split a
    multi-byte character across two words (seen with UTF-16 and GBK).
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_charset))
        pending, pending_charset = [], None

    for match in _ENCODED_WORD.finditer(text):
        gap = text[pos : match.start()]
        charset = match.group(1).lower().split("*")[0]
        if gap and not (pending and _BETWEEN_WORDS.match(gap)):
            flush()
            out.append(gap)
        elif pending and charset != pending_charset:
            flush()
        pending.append(_decode_word_payload(match.group(2), match.group(3)))
        pending_charset = charset
        pos = match.end()
    flush()
    out.append(text[pos:])
    return "".join(out)


def header_to_text(value: object) -> str:
    """Returns a header value as readable text: raw 8-bit bytes guessed, RFC 2047 decoded."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        text = guess_decode(value)
    else:
        text = str(value)
        if any("\udc80" <= ch <= "\udcff" for ch in text):
            # compat32 keeps raw 8-bit header bytes as surrogate escapes.
            text = guess_decode(text.encode("ascii", "surrogateescape"))
    text = without_nul(decode_encoded_words(text))
    return " ".join(text.replace("\r", " ").replace("\n", " ").split())
