"""Real media files made by the tests (Pillow, pillow-heif, ffmpeg, python-docx) and mail carrying them."""

from __future__ import annotations

import io
import struct
import subprocess
import zipfile
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import docx
from PIL import Image

CST = timezone(timedelta(hours=8))
SENDER = "xuanchuan@dl.edu.example.cn"  # a Dalian domain in tests/data/labelled/units.toml


def ffmpeg(*args: object) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def photo(width: int = 1600, height: int = 1200) -> Image.Image:
    """A picture with a bright top-left corner, so orientation can be checked."""
    im = Image.new("RGB", (width, height), (40, 60, 90))
    im.paste((250, 250, 250), (0, 0, width // 3, height // 3))
    return im


def rotated_jpeg() -> bytes:
    """A landscape JPEG whose EXIF says 'rotate 90° clockwise' (orientation 6), as phones write."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 12"
    exif.get_ifd(0x8769)[0x9003] = "2023:05:15 09:30:12"
    buffer = io.BytesIO()
    photo().save(buffer, "JPEG", quality=85, exif=exif)
    return buffer.getvalue()


def heic() -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    buffer = io.BytesIO()
    photo(800, 600).save(buffer, "HEIF", quality=60)
    return buffer.getvalue()


def jpeg(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    photo(width, height).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def clip(folder: Path, name: str, codec: str, seconds: int = 1, size: str = "320x240") -> Path:
    """An mp4 with a moving test picture and a tone; codec h264 or hevc."""
    path = folder / name
    video = (
        ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        if codec == "h264"
        else ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]
    )
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate=25:duration={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:duration={seconds}",
        *video,
        "-c:a",
        "aac",
        "-shortest",
        path,
    )
    return path


def truncated(path: Path) -> bytes:
    """The first half of an mp4 (its moov atom, written last, is lost), as a cut-off upload."""
    data = path.read_bytes()
    return data[: len(data) // 2]


def zip_with_raw_names(files: dict[bytes, bytes]) -> bytes:
    """A zip whose member names are raw bytes without the UTF-8 flag, as Windows tools write."""
    placeholders = {}
    for i, raw in enumerate(files):
        marker = f"Q{i:02d}".ljust(len(raw), "Q")
        assert len(marker) == len(raw)
        placeholders[marker] = raw
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for marker, raw in placeholders.items():
            zf.writestr(marker, files[raw])
    data = buffer.getvalue()
    for marker, raw in placeholders.items():
        assert data.count(marker.encode()) == 2  # local header and central directory
        data = data.replace(marker.encode(), raw)
    return data


def plain_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def docx_file(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pdf_file(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica, with a correct xref table."""
    ops = "BT /F1 14 Tf 72 760 Td " + " ".join(f"({t}) Tj 0 -20 Td" for t in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        " /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_of(objects)


def pdf_of(objects: list[str]) -> bytes:
    """A PDF of these objects (1 is the catalog), numbered in order, with a correct xref table."""
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def message(
    subject: str,
    attachments: list[tuple[str, bytes, str]],
    *,
    day: int = 16,
    number: int = 1,
    body: str = "大连市职业教育活动周材料，请查收。",
    sender: str = f"大连市教育局 <{SENDER}>",
) -> bytes:
    """An email from the Dalian test unit carrying (file name, bytes, MIME type) attachments."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "zcc1.sjyt@ln.gov.cn"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2023, 5, day, 10, 0, tzinfo=CST))
    msg["Message-ID"] = f"<media-test-{number}-{day}@dl.edu.example.cn>"
    msg.set_content(body)
    for name, data, mime in attachments:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def top_level_atoms(path: Path) -> list[str]:
    """The MP4's top-level box names in file order (moov before mdat means fast start)."""
    atoms, data, pos = [], path.read_bytes(), 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        atoms.append(kind.decode("latin-1"))
        if size == 0:
            break
        pos += size
    return atoms
