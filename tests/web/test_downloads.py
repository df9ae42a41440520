"""Taking the material out: a unit's zip laid out as the archive, a message's zip, the cap."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace
from urllib.parse import unquote

from sqlalchemy import select
from starlette.testclient import TestClient

from storage.models import Item, Message
from tests.web.conftest import csrf_of, sign_in
from web.app import create_app


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


def _filed(ctx, unit: str, kind: str | None = None) -> list[Item]:
    with ctx.db.session() as session:
        stmt = (
            select(Item)
            .join(Message, Message.id == Item.message_pk)
            .where(
                Message.unit_code == unit,
                Message.status == "filed",
                Item.path.is_not(None),
                Item.duplicate_of_id.is_(None),
                Item.role == "material",
            )
        )
        if kind:
            stmt = stmt.where(Item.kind == kind)
        return session.scalars(stmt).all()


def test_a_units_zip_is_laid_out_like_the_archive_with_the_same_bytes(corpus_site, client_for):
    items = _filed(corpus_site, "jinzhou")
    archive = _zip(client_for(corpus_site).get("/units/jinzhou/zip"))
    names = archive.namelist()
    assert len(names) == len(items) and all(n.startswith("锦州市教育局/") for n in names)
    for item in items:
        inside = item.path.split("/", 1)[1]  # the archive path from the unit down
        assert archive.read(inside) == corpus_site.archive.abspath(item.blob_path).read_bytes()
    info = archive.getinfo(names[0])
    assert info.flag_bits & 0x800  # UTF-8 names, as Windows reads them


def test_one_kind_of_a_unit(corpus_site, client_for):
    response = client_for(corpus_site).get("/units/jinzhou/zip?kind=photo")
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    names = _zip(response).namelist()
    assert names and all(n.startswith("锦州市教育局/照片/") for n in names)
    assert len(names) == len(_filed(corpus_site, "jinzhou", "photo"))


def test_a_messages_files_in_one_zip(corpus_site, client_for):
    with corpus_site.db.session() as session:
        message = session.scalars(
            select(Message).where(Message.source.contains("028-lnpc-mixed-materials"))
        ).one()
        stored = [i for i in message.items if i.role == "material" and i.blob_path]
        pk = message.id
    names = _zip(client_for(corpus_site).get(f"/messages/{pk}/zip")).namelist()
    assert len(names) == len(stored)
    assert {n.rsplit("/", 1)[1] for n in names} == {i.name for i in stored}


def test_a_download_over_the_cap_is_refused_with_what_to_do(corpus_site):
    settings = replace(corpus_site.config.web, max_zip_bytes=1000)
    with TestClient(create_app(corpus_site, settings), base_url="https://testserver") as client:
        sign_in(client, "viewer")
        response = client.get("/units/jinzhou/zip")
    assert response.status_code == 413
    assert "超过一次打包下载的上限" in response.text and "分几次下载" in response.text


def test_unknown_units_and_kinds(corpus_site, client_for):
    client = client_for(corpus_site)
    assert client.get("/units/atlantis/zip").status_code == 404
    assert client.get("/units/jinzhou/zip?kind=poem").status_code == 400
    assert client.get("/messages/99999999/zip").status_code == 404


def test_a_photo_zip_is_named_by_day_and_count(corpus_site, client_for):
    client = client_for(corpus_site)
    page = client.get("/photos").text
    ids = re.findall(r'name="item" value="(\d+)"', page)[:3]
    response = client.post("/photos/zip", data={"csrf_token": csrf_of(page), "item": ids})
    assert len(_zip(response).namelist()) == 3
    name = unquote(response.headers["content-disposition"].split("filename*=UTF-8''")[1])
    assert re.fullmatch(r"照片-\d{4}-\d{2}-\d{2}-3张\.zip", name)
