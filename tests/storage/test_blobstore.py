"""The archive's object storage: the local folder, and S3 over real HTTP.

The S3 server is moto's standalone server (`moto_server`, PyPI `moto[server]`): a
real HTTP endpoint speaking the S3 REST protocol, so boto3 signs, sends and parses
real requests. It IS an emulator (in-memory, no multi-node behaviour); it was chosen
because it installs from PyPI with pip alone, where MinIO is not packaged on any
registry reachable here, s3rver needs Node, and Ceph's radosgw needs a whole cluster.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, StorageError
from storage.blobstore import LocalBlobStore, S3BlobStore, S3Settings
from tests.conftest import write_config
from tests.support import media_files as files
from workers.app import blob_store
from workers.config import load_config

MAILROOM = str(Path(sys.executable).parent / "mailroom")
KEYS = {"MAILROOM_S3_ACCESS_KEY": "testing", "MAILROOM_S3_SECRET_KEY": "testing-secret"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(binary).exists():
        pytest.fail("moto_server is not installed: `make test` installs moto[server]")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto_server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def bucket(s3_endpoint, request) -> S3BlobStore:
    name = "mailroom-" + request.node.name.replace("_", "-")[:40].lower()
    store = S3BlobStore(
        S3Settings(
            bucket=name, endpoint_url=s3_endpoint, access_key="testing", secret_key="testing-secret"
        )
    )
    store.client.create_bucket(Bucket=name)
    return store


def test_local_store_round_trip_leaves_no_temporary_files(tmp_path):
    store = LocalBlobStore(tmp_path)
    store.put(".objects/ab/cd/abcd", b"hello")
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 << 20))
    store.put_file("raw/ef/ef.eml", source)
    with store.open(".objects/ab/cd/abcd") as handle:
        assert handle.read() == b"hello"
    assert (
        store.exists("raw/ef/ef.eml")
        and store.path("raw/ef/ef.eml").read_bytes() == source.read_bytes()
    )
    store.delete(".objects/ab/cd/abcd")
    assert not store.exists(".objects/ab/cd/abcd")
    assert not list(tmp_path.rglob(".tmp-*"))


def test_s3_store_put_open_exists_delete_over_http(bucket, tmp_path):
    assert not bucket.exists(".objects/00/11/0011")
    bucket.put(".objects/00/11/0011", b"\x00photo bytes")
    source = tmp_path / "video.mp4"
    source.write_bytes(os.urandom(9 << 20))  # above boto3's multipart threshold (8 MiB)
    bucket.put_file(".derived/aa/aa/web.mp4", source)
    with bucket.open(".objects/00/11/0011") as body:
        assert body.read() == b"\x00photo bytes"
    assert bucket.fetch(".derived/aa/aa/web.mp4", tmp_path / "copy.mp4")
    assert (tmp_path / "copy.mp4").read_bytes() == source.read_bytes()
    bucket.delete(".objects/00/11/0011")
    assert not bucket.exists(".objects/00/11/0011")
    assert not bucket.fetch(".objects/00/11/0011", tmp_path / "gone")


def test_s3_store_failure_names_the_bucket_and_endpoint(s3_endpoint):
    store = S3BlobStore(
        S3Settings(
            bucket="no-such-bucket",
            endpoint_url=s3_endpoint,
            access_key="testing",
            secret_key="testing-secret",
        )
    )
    with pytest.raises(StorageError, match="no-such-bucket"):
        store.put("raw/00/00.eml", b"x")


def _s3_config(folder: Path, endpoint: str, bucket: str, archive: str = "archive") -> Path:
    path = write_config(
        folder,
        f'\n[storage.s3]\nendpoint_url = "{endpoint}"\nbucket = "{bucket}"\nprefix = "site"\n',
        database_url="sqlite:///" + str(folder.parent / "db" / "shared.db"),
    )
    text = path.read_text().replace("[storage]\n", '[storage]\nbackend = "s3"\n')
    path.write_text(text.replace('archive_dir = "archive"', f'archive_dir = "{archive}"'))
    return path


def test_archive_on_s3_keeps_objects_in_the_bucket_and_another_machine_rebuilds_the_view(
    bucket, s3_endpoint, tmp_path
):
    (tmp_path / "db").mkdir()
    photo = files.jpeg(64, 48)
    mail = tmp_path / "in" / "photo.eml"
    mail.parent.mkdir()
    mail.write_bytes(files.message("大连市活动周照片", [("开幕式.jpg", photo, "image/jpeg")]))
    env = {**os.environ, **KEYS}
    first = _s3_config(tmp_path / "one", s3_endpoint, bucket.settings.bucket)
    run = subprocess.run(
        [MAILROOM, "--config", str(first), "ingest", "--no-wait", str(mail)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    listed = bucket.client.list_objects_v2(Bucket=bucket.settings.bucket)["Contents"]
    keys = {obj["Key"] for obj in listed}
    assert any(k.startswith("site/raw/") for k in keys)
    assert any(k.startswith("site/.objects/") for k in keys)

    # Machine two: same index, an empty archive folder; the view comes from the bucket.
    second = _s3_config(tmp_path / "two", s3_endpoint, bucket.settings.bucket)
    run = subprocess.run(
        [MAILROOM, "--config", str(second), "archive", "rebuild-view"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "1 files linked" in run.stdout
    copies = list((tmp_path / "two" / "archive").rglob("开幕式.jpg"))
    assert len(copies) == 1 and copies[0].read_bytes() == photo


def test_derivatives_made_by_the_in_process_pool_go_to_the_bucket(bucket, s3_endpoint, tmp_path):
    (tmp_path / "db").mkdir()
    mail = tmp_path / "in" / "photo.eml"
    mail.parent.mkdir()
    mail.write_bytes(
        files.message("大连市活动周照片", [("合影.jpg", files.jpeg(640, 480), "image/jpeg")])
    )
    config = _s3_config(tmp_path / "one", s3_endpoint, bucket.settings.bucket)
    run = subprocess.run(
        [MAILROOM, "--config", str(config), "ingest", str(mail)],
        env={**os.environ, **KEYS},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    listed = bucket.client.list_objects_v2(Bucket=bucket.settings.bucket)["Contents"]
    derived = {
        obj["Key"].rsplit("/", 1)[-1] for obj in listed if obj["Key"].startswith("site/.derived/")
    }
    assert {"thumb.jpg", "preview.jpg"} <= derived


def test_s3_backend_without_credentials_names_the_variable(tmp_path, monkeypatch):
    for name in KEYS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="MAILROOM_S3_ACCESS_KEY") as err:
        load_config(_s3_config(tmp_path / "site", "http://127.0.0.1:9", "b"))
    assert err.value.key == "storage.s3.access_key_env"


@pytest.mark.parametrize(
    ("storage_line", "queue_table", "key"),
    [
        ('backend = "nfs"', "", "storage.backend"),
        ("", 'broker_url = "amqp://localhost"', "queue.broker_url"),
        ("", "media_concurrency = 0", "queue.media_concurrency"),
        ("", "time_limit = 4000", "queue.time_limit"),
        ("", 'broker = "redis://x"', "queue.broker"),
    ],
)
def test_bad_storage_and_queue_settings_name_the_key(tmp_path, storage_line, queue_table, key):
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\narchive_dir = "archive"\n{storage_line}\n[queue]\n{queue_table}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == key and str(path) in str(err.value)


def test_the_multi_machine_example_config_is_valid(monkeypatch):
    monkeypatch.setenv("MAILROOM_BROKER_URL", "redis://:secret@10.0.0.10:6379/0")
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    config = load_config(Path(__file__).parents[2] / "deploy" / "config.multi-machine.toml")
    settings = config.queue
    assert settings.distributed and settings.time_limit < settings.visibility_timeout
    assert isinstance(blob_store(config), S3BlobStore)
