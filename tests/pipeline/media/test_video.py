"""Web video and posters from tiny clips that ffmpeg generates in the test."""

import json
import struct
import subprocess

import pytest
from PIL import Image, ImageStat

from pipeline.errors import ExternalProgramError, MediaError
from pipeline.media.video import (
    VideoInfo,
    make_poster,
    make_web_video,
    plan_web_video,
    probe,
)

SRC = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1"]
TONE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"]
X265_QUIET = ["-x265-params", "log-level=error"]


def _ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    _ffmpeg(*SRC, *TONE, *h264, "-c:a", "aac", "-shortest", d / "h264_aac.mp4")
    _ffmpeg(
        "-i", d / "h264_aac.mp4", "-c", "copy", "-metadata:s:v:0", "rotate=90", d / "portrait.mp4"
    )
    _ffmpeg(*SRC, *TONE, "-c:v", "libx265", *X265_QUIET, "-c:a", "aac", "-shortest", d / "hevc.mp4")
    _ffmpeg(*SRC, "-c:v", "mpeg4", d / "mpeg4.avi")
    _ffmpeg(*SRC, *TONE, *h264, "-c:a", "libopus", "-shortest", d / "opus.mkv")
    hlg = ["-color_trc", "arib-std-b67", "-color_primaries", "bt2020", "-colorspace", "bt2020nc"]
    _ffmpeg(*SRC, "-c:v", "libx265", *X265_QUIET, "-pix_fmt", "yuv420p10le", *hlg, d / "hlg.mp4")
    black = ["-f", "lavfi", "-i", "color=black:size=320x240:rate=25:duration=1"]
    _ffmpeg(
        *black, *SRC, "-filter_complex", "[0][1]concat=n=2:v=1:a=0", *h264, d / "black_start.mp4"
    )
    return d


def _streams(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", path],
        check=True,
        capture_output=True,
    ).stdout
    return json.loads(out)


def _top_level_atoms(path):
    atoms, data = [], path.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        atoms.append(kind.decode("latin-1"))
        if size == 0:
            break
        pos += size
    return atoms


def _web(src, tmp_path, **plan_kw):
    info = probe(src)
    plan = plan_web_video(info, **plan_kw)
    dst = tmp_path / "web.mp4"
    make_web_video(src, dst, plan, info)
    return info, plan, dst


def test_h264_aac_clip_is_remuxed_with_moov_before_mdat(clips, tmp_path):
    info, plan, dst = _web(clips / "h264_aac.mp4", tmp_path)
    assert (info.codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 320, 240)
    assert info.duration == pytest.approx(1.0, abs=0.1)
    assert plan.action == "remux" and plan.reasons == []
    atoms = _top_level_atoms(dst)
    assert atoms.index("moov") < atoms.index("mdat"), atoms
    probed = _streams(dst)
    assert "mp4" in probed["format"]["format_name"]
    assert [s["codec_name"] for s in probed["streams"]] == ["h264", "aac"]


def test_hevc_clip_is_transcoded_to_h264_aac(clips, tmp_path):
    info, plan, dst = _web(clips / "hevc.mp4", tmp_path)
    assert plan.action == "transcode" and "video codec hevc is not H.264" in plan.reasons
    streams = _streams(dst)["streams"]
    assert [s["codec_name"] for s in streams] == ["h264", "aac"]
    assert streams[0]["pix_fmt"] == "yuv420p"
    atoms = _top_level_atoms(dst)
    assert atoms.index("moov") < atoms.index("mdat")


def test_portrait_phone_video_stays_portrait_when_transcoded(clips, tmp_path):
    info, plan, dst = _web(clips / "portrait.mp4", tmp_path, short_side=120)
    assert info.rotation in (90, 270) and info.display_size == (240, 320)
    assert plan.action == "transcode" and (plan.width, plan.height) == (120, 160)
    out = probe(dst)
    assert out.display_size == (120, 160)  # narrower than tall, however it is stored


def test_portrait_phone_video_stays_portrait_when_remuxed(clips, tmp_path):
    info, plan, dst = _web(clips / "portrait.mp4", tmp_path)
    assert plan.action == "remux"
    assert probe(dst).display_size == (240, 320)


def test_mpeg4_part2_is_transcoded(clips, tmp_path):
    info, plan, dst = _web(clips / "mpeg4.avi", tmp_path)
    assert info.codec == "mpeg4" and info.audio_codec is None
    assert plan.action == "transcode"
    assert [s["codec_name"] for s in _streams(dst)["streams"]] == ["h264"]


def test_10_bit_hlg_is_tone_mapped_to_8_bit_sdr(clips, tmp_path):
    info, plan, dst = _web(clips / "hlg.mp4", tmp_path)
    assert info.is_hdr and info.bit_depth == 10
    assert any("HDR" in r for r in plan.reasons) and any("10-bit" in r for r in plan.reasons)
    out = probe(dst)
    assert (out.codec, out.pix_fmt, out.bit_depth, out.color_transfer) == (
        "h264",
        "yuv420p",
        8,
        "bt709",
    )
    assert not out.is_hdr


def test_only_the_audio_is_reencoded_when_only_the_audio_is_wrong(clips, tmp_path):
    src = clips / "opus.mkv"
    info, plan, dst = _web(src, tmp_path)
    assert info.audio_codec == "opus"
    assert plan.action == "remux_reencode_audio"
    before = _streams(src)["streams"][0]
    after = _streams(dst)["streams"]
    assert [s["codec_name"] for s in after] == ["h264", "aac"]
    assert after[0]["extradata_size"] == before["extradata_size"]  # the H.264 stream is copied
    assert after[0]["profile"] == before["profile"] == "Constrained Baseline"


def test_truncated_mp4_is_corrupt(clips, tmp_path):
    bad = tmp_path / "cut.mp4"
    # without +faststart the index (moov) is at the end, so a cut-off upload loses it
    bad.write_bytes((clips / "hevc.mp4").read_bytes()[:3000])
    with pytest.raises(MediaError, match="cannot read video cut.mp4"):
        probe(bad)


def test_undecodable_video_is_corrupt_when_converting(clips, tmp_path):
    info = probe(clips / "hevc.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\0\0\0\x18ftypmp42" + b"\0" * 5000)  # an MP4 header, then nothing
    with pytest.raises(MediaError, match="ffmpeg cannot convert garbage.mp4"):
        make_web_video(garbage, tmp_path / "out.mp4", plan_web_video(info), info)
    assert not (tmp_path / "out.mp4").exists()
    garbage.write_bytes(b"\0" * 5000)  # no container at all: ffmpeg is not even started
    with pytest.raises(MediaError, match="garbage.mp4 is not in a video container"):
        make_web_video(garbage, tmp_path / "out.mp4", plan_web_video(info), info)


def test_hung_ffmpeg_is_killed_by_the_time_limit(clips, tmp_path):
    info = probe(clips / "hevc.mp4")
    plan = plan_web_video(info)
    with pytest.raises(ExternalProgramError, match="timed out"):
        make_web_video(
            clips / "hevc.mp4", tmp_path / "o.mp4", plan, info, timeout_base=0.05, timeout_factor=0
        )
    assert not list(tmp_path.iterdir())  # no half-written output left behind


def test_poster_skips_a_black_opening(clips, tmp_path):
    src = clips / "black_start.mp4"
    info = probe(src)
    dst = tmp_path / "poster.jpg"
    make_poster(src, dst, info, size=160)
    poster = Image.open(dst)
    assert poster.size == (160, 120)
    assert ImageStat.Stat(poster.convert("L")).mean[0] > 40


def test_poster_of_portrait_video_is_portrait(clips, tmp_path):
    dst = tmp_path / "poster.jpg"
    make_poster(clips / "portrait.mp4", dst, probe(clips / "portrait.mp4"))
    assert Image.open(dst).size == (240, 320)


def _info(**kw):
    base = dict(
        codec="h264", profile="High", pix_fmt="yuv420p", bit_depth=8, color_transfer="bt709",
        width=1920, height=1080, rotation=0, duration=10.0, audio_codec="aac",
    )  # fmt: skip
    return VideoInfo(**{**base, **kw})


def test_oversized_h264_is_scaled_to_the_short_side():
    plan = plan_web_video(_info(), short_side=720)
    assert plan.action == "transcode" and (plan.width, plan.height) == (1280, 720)
    assert plan.reasons == ["short side 1080 px is above 720 px"]


def test_portrait_1080p_plans_a_portrait_720p():
    plan = plan_web_video(_info(rotation=270), short_side=720)
    assert (plan.width, plan.height) == (720, 1280)


def test_dolby_vision_and_pq_are_hdr():
    assert plan_web_video(_info(width=1280, height=720, dolby_vision=True)).action == "transcode"
    pq = plan_web_video(_info(width=1280, height=720, color_transfer="smpte2084"))
    assert pq.reasons == ["HDR (smpte2084)"]


def test_small_clip_is_never_enlarged_and_mp3_or_no_audio_is_fine():
    assert plan_web_video(_info(width=320, height=240, audio_codec="mp3")).action == "remux"
    plan = plan_web_video(_info(codec="hevc", width=321, height=241, audio_codec=None))
    assert (plan.width, plan.height) == (320, 240)  # x264 4:2:0 needs even sizes
