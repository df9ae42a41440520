"""An editor gives the password of a locked archive on its page; it is opened by a media job."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from storage.archive_passwords import ArchivePassword
from storage.models import AuditEntry, Item
from storage.web_models import User
from tests.conftest import write_config
from tests.support import archive_files as af
from tests.support import media_files as files
from tests.web.conftest import csrf_of, password_hash
from workers.app import open_context
from workers.config import load_config
from workers.ingest import Ingestor, SourceRef
from workers.media.pool import serve_media

SECRET = "Dl-hdz-0518"


@pytest.fixture
def locked_site(tmp_path):
    """A site with one message whose AES zip of a photo has a password the mail never gives."""
    ctx = open_context(load_config(write_config(tmp_path / "site")))
    locked = af.encrypted_zip(tmp_path, "照片.zip", {"开幕式.jpg": files.jpeg()}, SECRET, aes=True)
    raw = files.message("大连市活动周照片", [("照片.zip", locked.read_bytes(), "application/zip")])
    Ingestor(ctx, "test").ingest(raw, SourceRef("file", "locked.eml"))
    with ctx.db.session() as session:
        for role in ("viewer", "editor"):
            session.add(User(name=role, role=role, password_hash=password_hash()))
    yield ctx
    ctx.close()


def _items(ctx):
    with ctx.db.session() as session:
        return {i.name: i for i in session.scalars(select(Item))}


def test_a_viewer_sees_the_archive_is_locked_but_cannot_give_a_password(locked_site, client_for):
    archive = _items(locked_site)["照片.zip"]
    client = client_for(locked_site, "viewer")
    page = client.get(f"/items/{archive.id}")
    assert "设有密码" in page.text and 'name="password"' not in page.text
    answer = client.post(
        f"/items/{archive.id}/password",
        data={"csrf_token": csrf_of(page.text), "password": SECRET},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert _items(locked_site)["开幕式.jpg"].status == "encrypted"


def test_an_editors_password_opens_the_archive_and_is_never_logged(locked_site, client_for, caplog):
    caplog.set_level(logging.DEBUG)
    items = _items(locked_site)
    archive = items["照片.zip"]
    assert (archive.status, items["开幕式.jpg"].status) == ("encrypted", "encrypted")
    client = client_for(locked_site, "editor")
    page = client.get(f"/items/{archive.id}")
    assert f'action="/items/{archive.id}/password"' in page.text
    assert "压缩包内共 1 个文件，已解出 0 个；未解出：有密码 1 个" in page.text

    with serve_media(locked_site, finish=True):  # the service's pool, as `mailroom run` has
        for password in ("wrong-one", SECRET):
            answer = client.post(
                f"/items/{archive.id}/password",
                data={"csrf_token": csrf_of(page.text), "password": password},
                follow_redirects=False,
            )
            assert answer.status_code == 303

    items = _items(locked_site)
    photo = items["开幕式.jpg"]
    assert photo.status == "ok" and photo.meta["password_from"] == "staff"
    assert photo.thumbnail and locked_site.archive.abspath(photo.thumbnail).is_file()
    assert items["照片.zip"].status == "ok" and items["照片.zip"].error is None
    assert locked_site.archive.abspath(photo.path).is_file()

    after = client.get(f"/items/{archive.id}").text
    assert SECRET not in after and 'name="password"' not in after
    assert SECRET not in caplog.text
    with locked_site.db.session() as session:
        kept = session.scalars(select(ArchivePassword.password)).all()
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "archive_password"))
        assert kept == ["wrong-one", SECRET]  # kept in the index, to open it again later
        assert all(SECRET not in str(entry.data) for entry in audit)


def test_a_password_for_something_that_is_not_an_archive_is_refused(locked_site, client_for):
    client = client_for(locked_site, "editor")
    item = _items(locked_site)["开幕式.jpg"]
    page = client.get(f"/items/{item.id}")
    answer = client.post(
        f"/items/{item.id}/password",
        data={"csrf_token": csrf_of(page.text), "password": SECRET},
        follow_redirects=False,
    )
    assert answer.status_code == 400 and "不是压缩包" in answer.text


def test_a_password_given_with_no_pool_running_waits_in_the_archives_expand_job(
    locked_site, client_for
):
    """`mailroom serve` alone: the job waits in the index until `mailroom run` takes it."""
    from storage.media_models import MediaJob

    archive = _items(locked_site)["照片.zip"]
    client = client_for(locked_site, "editor")
    page = client.get(f"/items/{archive.id}")
    assert "排队" not in page.text  # opened at filing: its expand job is done
    answer = client.post(
        f"/items/{archive.id}/password",
        data={"csrf_token": csrf_of(page.text), "password": SECRET},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "已收到密码，正在排队重新解压" in client.get(f"/items/{archive.id}").text
    with locked_site.db.session() as session:
        jobs = session.execute(
            select(MediaJob.kind, MediaJob.state).where(MediaJob.item_id == archive.id)
        ).all()
    assert jobs == [("expand", "pending")]  # the archive's one job, not a second kind

    with serve_media(locked_site, finish=True):  # `mailroom run` starts: pending rows run
        pass
    assert _items(locked_site)["开幕式.jpg"].status == "ok"
    assert "排队" not in client.get(f"/items/{archive.id}").text
