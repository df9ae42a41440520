"""Photo zips: images only, streamed without a temporary file, refused past the byte cap."""

from __future__ import annotations

import io
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Item
from tests.web.conftest import TestClient, csrf_of, sign_in
from web.app import create_app
from web.zips import human_size

MiB = 1024 * 1024
BIG = 12 * MiB


def post_zip(client, ids: list[int]):
    token = csrf_of(client.get("/photos").text)
    return client.post("/photos/zip", data={"csrf_token": token, "item": [str(i) for i in ids]})


def test_only_images_go_into_the_photo_zip(corpus_site, client_for):
    with corpus_site.db.session() as session:
        picked = {
            media: session.scalars(
                select(Item.id).where(Item.media == media, Item.blob_path.is_not(None))
            ).first()
            for media in ("image", "video", "document")
        }
    assert all(picked.values()), picked
    response = post_zip(client_for(corpus_site), list(picked.values()))
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    with corpus_site.db.session() as session:
        image = session.get(Item, picked["image"])
    assert len(names) == 1 and names[0].endswith(image.name)
    others = post_zip(client_for(corpus_site), [picked["video"], picked["document"]])
    assert others.status_code == 400 and "没有照片" in others.text


@pytest.fixture
def tiny_tmp(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """The process's temp folder on a real 1 MiB file system (tmpfs)."""
    mount = tmp_path / "tiny-tmp"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    monkeypatch.setattr(tempfile, "tempdir", str(mount))
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def big_photos(ctx, count: int) -> list[int]:
    """Adds count photos of 12 MiB each (sparse files) to the first photo's message."""
    with ctx.db.session() as session:
        model = session.scalars(select(Item).where(Item.media == "image")).first()
        ids = []
        for n in range(count):
            rel = f".objects/zz/zz/big-photo-{n}"
            path = ctx.archive.abspath(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(b"\xff\xd8\xff\xe0" + bytes([n]) * 1024)
                handle.truncate(BIG)
            item = Item(
                message_pk=model.message_pk,
                seq=100 + n,
                name=f"大照片{n}.jpg",
                mime="image/jpeg",
                media="image",
                size=BIG,
                blob_path=rel,
            )
            session.add(item)
            session.flush()
            ids.append(item.id)
        return ids


def test_a_zip_larger_than_the_temp_disk_streams_with_its_length_known(
    small_site, client_for, tiny_tmp
):
    ids = big_photos(small_site, 3)  # 36 MiB: the old spool went to disk past 32 MiB
    response = post_zip(client_for(small_site), ids)
    assert response.status_code == 200, response.text[:300]
    assert int(response.headers["content-length"]) == len(response.content) > 3 * BIG
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    infos = archive.infolist()
    assert [i.file_size for i in infos] == [BIG] * 3
    assert all(i.flag_bits & 0x800 for i in infos)  # UTF-8 names, as Windows reads them
    assert archive.read(infos[2])[:5] == b"\xff\xd8\xff\xe0\x02"
    assert list(tiny_tmp.iterdir()) == []


def test_past_the_byte_cap_the_zip_is_refused_with_a_chinese_reason(small_site):
    ids = big_photos(small_site, 3)
    app = create_app(small_site, replace(small_site.config.web, max_zip_bytes=30 * MiB))
    with TestClient(app, base_url="https://testserver") as client:
        response = post_zip(sign_in(client, "viewer"), ids)
    assert response.status_code == 413
    assert f"所选文件共 {human_size(3 * BIG)}" in response.text and "30.0 MB" in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
