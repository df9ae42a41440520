"""The derivative job queue: priorities, retries, restarts after a crash, the service's pool."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from pipeline.errors import ConfigError
from storage.media_models import MediaJob
from storage.models import Item
from storage.search import SearchDoc, index_message, search
from tests.support import media_files as files
from tests.workers.media.conftest import MAILROOM, env_without_ffmpeg, make_site
from workers.cli import cli
from workers.ingest import Ingestor, SourceRef
from workers.media import derive
from workers.media import jobs as media_jobs
from workers.media.pool import serve_media


def _video_message(tmp, seconds=1, size="320x240", number=1):
    hevc = files.clip(tmp, f"hevc{number}.mp4", "hevc", seconds=seconds, size=size)
    return files.message(
        "大连市职业教育活动周视频",
        [
            ("宣传片.mp4", hevc.read_bytes(), "video/mp4"),
            ("现场.jpg", files.jpeg(), "image/jpeg"),
        ],
        number=number,
    )


def _jobs(ctx):
    with ctx.db.session() as session:
        return {
            (name, kind): (state, attempts, error)
            for name, kind, state, attempts, error in session.execute(
                select(
                    Item.name, MediaJob.kind, MediaJob.state, MediaJob.attempts, MediaJob.error
                ).join(Item, Item.id == MediaJob.item_id)
            )
        }


def test_thumbnails_are_queued_before_videos_and_the_pool_makes_them(app, tmp_path):
    ingestor = Ingestor(app, "test")
    ingestor.ingest(_video_message(tmp_path), SourceRef("file", "video.eml"))
    with app.db.session() as session:
        order = [job.kind for job in media_jobs.pending(session)]
    assert order == ["thumbs", "thumbs", "video"]  # no pool running: the rows wait
    with serve_media(app, finish=True):
        pass
    assert {state for state, _, _ in _jobs(app).values()} == {"done"}
    with app.db.session() as session:
        video = session.scalar(select(Item).where(Item.name == "宣传片.mp4"))
        assert video.meta["codec"] == "hevc" and video.meta["web_action"] == "transcode"
        assert app.archive.abspath(video.web_video).is_file()
        assert app.archive.abspath(video.thumbnail).is_file()


def _filed_video(engine, make_app, request, tmp_path):
    """Returns a context on SQLite or PostgreSQL with the video message filed, jobs pending."""
    url = request.getfixturevalue("postgres").create_database() if engine == "postgresql" else None
    app = make_app(database_url=url)
    Ingestor(app, "test").ingest(_video_message(tmp_path), SourceRef("file", "video.eml"))
    return app


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_two_jobs_finishing_at_once_keep_what_both_made(engine, make_app, request, tmp_path):
    """A video's poster and web copy settle in two lanes at once; neither loses the other's meta."""
    app = _filed_video(engine, make_app, request, tmp_path)
    with app.db.session() as session:
        item_id = session.scalar(select(Item.id).where(Item.name == "宣传片.mp4"))
        jobs = dict(
            session.execute(
                select(MediaJob.kind, MediaJob.id).where(MediaJob.item_id == item_id)
            ).all()
        )

    # The poster job is committing: it has settled its job row and merged its meta.
    first = app.db.sessions()
    item = media_jobs.settle_job(first, jobs["thumbs"], None, with_item=True)
    derive.apply_derived(item, derive.Derived(meta={"width": 320}))
    first.flush()
    # Meanwhile the web copy finishes.
    result = derive.Derived(meta={"web_action": "transcode"})
    second = threading.Thread(target=media_jobs._finish, args=(app.db, jobs["video"], result, None))
    second.start()
    time.sleep(0.5)  # long enough for the second to read the item if it would not wait
    first.commit()
    first.close()
    second.join(timeout=60)

    with app.db.session() as session:
        meta = session.get(Item, item_id).meta
        states = set(session.scalars(select(MediaJob.state).where(MediaJob.item_id == item_id)))
    assert meta["width"] == 320 and meta["web_action"] == "transcode"
    assert states == {"done"}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_two_documents_read_at_once_are_both_searchable_once(engine, make_app, request, tmp_path):
    """Two jobs of one message re-index it at once: no deadlock, no duplicate or stale rows."""
    app = _filed_video(engine, make_app, request, tmp_path)
    with app.db.session() as session:
        message_pk = session.scalar(select(Item.message_pk))
        jobs = {
            name: job_id
            for name, job_id in session.execute(
                select(Item.name, MediaJob.id)
                .join(Item, Item.id == MediaJob.item_id)
                .where(MediaJob.kind == "thumbs")
            )
        }

    def read(name: str, words: str) -> None:
        media_jobs._finish(app.db, jobs[name], derive.Derived(text=words), None)

    # The first job has settled and merged its text, and is about to re-index ...
    first = app.db.sessions()
    picture = media_jobs.settle_job(first, jobs["现场.jpg"], None, with_item=True)
    derive.apply_derived(picture, derive.Derived(text="实训基地开放日\x00"))
    first.flush()
    # ... when the second finishes (its search rows refer to the first's locked item).
    second = threading.Thread(target=read, args=("宣传片.mp4", "技能大赛颁奖典礼"))
    second.start()
    time.sleep(0.5)  # long enough for the second to reach its own re-index
    index_message(first, message_pk)
    first.commit()
    first.close()
    second.join(timeout=60)

    with app.db.session() as session:
        docs = session.execute(
            select(SearchDoc.item_id, SearchDoc.body).where(SearchDoc.message_pk == message_pk)
        ).all()
        items = session.scalar(select(func.count(Item.id)).where(Item.message_pk == message_pk))
        assert len(docs) == items + 1  # the message and each item once
        names = dict(session.execute(select(Item.id, Item.name)).all())
        for words, name in (("实训基地", "现场.jpg"), ("颁奖典礼", "宣传片.mp4")):
            hits, total = search(session, words)
            assert [names.get(hit.item_id) for hit in hits] == [name] and total == 1


def test_a_corrupt_picture_is_one_warning_line_with_the_file_and_the_reason(app, caplog):
    broken = files.jpeg()[:600]  # a JPEG cut short, as a failed upload leaves it
    raw = files.message("活动周照片", [("现场.jpg", broken, "image/jpeg")])
    Ingestor(app, "test").ingest(raw, SourceRef("file", "photo.eml"))
    with app.db.session() as session:
        job_id = session.scalar(select(MediaJob.id).where(MediaJob.kind == "thumbs"))
    with caplog.at_level("INFO"):
        assert media_jobs.run_job(media_jobs.JobEnv.of(app), job_id) == "done"
    [line] = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert line.levelname == "WARNING" and line.exc_info is None
    assert "现场.jpg is corrupt" in line.getMessage() and "\n" not in line.getMessage()


def test_a_result_the_index_refuses_fails_the_job_instead_of_leaving_it_running(
    app, tmp_path, monkeypatch
):
    """A pool waiting for its jobs once waited forever for a row left `running`."""
    Ingestor(app, "test").ingest(_video_message(tmp_path), SourceRef("file", "video.eml"))
    unsaveable = derive.Derived(meta={"camera": object()})  # not JSON: the flush raises
    monkeypatch.setattr(derive, "derive", lambda *args: unsaveable)
    with app.db.session() as session:
        job_id = session.scalar(select(MediaJob.id).where(MediaJob.kind == "video"))
    assert media_jobs.run_job(media_jobs.JobEnv.of(app), job_id) == "failed"
    with app.db.session() as session:
        job = session.get(MediaJob, job_id)
        assert job.state == "failed" and "could not be saved" in job.error
        assert job.attempts == 1


def test_media_retry_redoes_a_job_that_failed(tmp_path):
    site = make_site(tmp_path / "site")
    mail = site.drop("video.eml", _video_message(tmp_path))
    site.run("ingest", str(mail), env=env_without_ffmpeg(tmp_path))
    status = site.run("media", "status").stdout
    assert "ffprobe is not installed" in status and "mailroom media retry" in status
    assert site.items()["宣传片.mp4"]["web_video"] is None

    out = site.run("media", "retry").stdout
    assert "2 failed jobs queued again" in out and "0 failed" in out
    row = site.items()["宣传片.mp4"]
    assert row["status"] == "ok" and (site.archive / row["web_video"]).is_file()


def test_a_job_interrupted_by_a_killed_process_runs_again_at_the_next_start(tmp_path):
    site = make_site(tmp_path / "site")
    mail = site.drop("video.eml", _video_message(tmp_path, seconds=6, size="960x540"))
    site.run("ingest", "--no-wait", str(mail))
    worker = subprocess.Popen(
        [MAILROOM, "--config", str(site.config), "media", "run"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with site.context() as ctx:
        deadline = time.monotonic() + 60
        while _jobs(ctx)[("宣传片.mp4", "video")][0] != "running":
            assert time.monotonic() < deadline and worker.poll() is None, "never started"
            time.sleep(0.05)
        os.killpg(worker.pid, signal.SIGKILL)  # mid-transcode, no chance to clean up
        worker.wait()
        assert _jobs(ctx)[("宣传片.mp4", "video")][0] == "running"

        site.run("media", "run")
        state, attempts, _ = _jobs(ctx)[("宣传片.mp4", "video")]
    assert (state, attempts) == ("done", 2)
    web = site.archive / site.items()["宣传片.mp4"]["web_video"]
    atoms = files.top_level_atoms(web)
    assert atoms.index("moov") < atoms.index("mdat")


def test_the_service_makes_derivatives_while_polling_and_stops_on_sigterm(tmp_path):
    site = make_site(tmp_path / "site")
    (site.folder / "inbox").mkdir()
    (site.folder / "inbox" / "photo.eml").write_bytes(
        files.message("大连市职业教育活动周照片", [("开幕式.jpg", files.jpeg(), "image/jpeg")])
    )
    site.run("migrate")  # makes the new index first: two first migrations would race
    service = subprocess.Popen(
        [MAILROOM, "--config", str(site.config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (site.run("export", "items").stdout and site.items()["开幕式.jpg"]["thumbnail"]):
            assert time.monotonic() < deadline and service.poll() is None, "no thumbnail"
            time.sleep(0.5)
    finally:
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=60)
    assert service.returncode == 0, err[-2000:]


def test_a_bad_media_setting_names_its_key(make_app):
    with pytest.raises(ConfigError, match=r"media\.crf"):
        make_app('[media]\ncrf = "high"\n')
    assert make_app().config.media.video_workers == 1


@pytest.mark.parametrize("command", ["status", "retry", "run"])
def test_every_media_command_has_help_with_an_example(command):
    result = CliRunner().invoke(cli, ["media", command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output
