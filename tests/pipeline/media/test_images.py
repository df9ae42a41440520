"""Image derivatives from real files Pillow (and pillow-heif) write in the test."""

import struct

import pytest
from PIL import Image

from pipeline.errors import LimitExceeded, MediaError
from pipeline.media.images import make_image_derivatives
from tests.support.hostile_media import huge_png
from tests.support.measure import measured

# sRGB colorants adapted to D50, as ICC profiles store them
SRGB_RED, SRGB_GREEN, SRGB_BLUE = (
    (0.4361, 0.2225, 0.0139),
    (0.3851, 0.7169, 0.0971),
    (0.1431, 0.0606, 0.7141),
)


def _derive(src, tmp_path, **kw):
    thumb, preview = tmp_path / "thumb.jpg", tmp_path / "preview.jpg"
    info = make_image_derivatives(src, thumb, preview, **kw)
    return info, Image.open(thumb), Image.open(preview)


def _close(rgb, expected, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(rgb, expected, strict=True))


def test_big_jpeg_gets_both_sizes_on_the_long_side(tmp_path):
    src = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (10, 120, 200)).save(src, quality=90)
    info, thumb, preview = _derive(src, tmp_path)
    assert (info.width, info.height, info.format) == (4000, 3000, "JPEG")
    assert thumb.size == (320, 240) and preview.size == (1440, 1080)
    assert thumb.format == preview.format == "JPEG"


def test_exif_rotated_phone_photo_is_shown_upright_and_metadata_indexed(tmp_path):
    # stored landscape, left half red and right half blue; orientation 6 = turn 90° clockwise
    im = Image.new("RGB", (400, 200), (255, 0, 0))
    im.paste((0, 0, 255), (200, 0, 400, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 13"
    exif.get_ifd(0x8769)[0x9003] = "2024:03:05 08:15:00"
    src = tmp_path / "phone.jpg"
    im.save(src, exif=exif, quality=95)

    info, thumb, preview = _derive(src, tmp_path, thumb_size=100)
    assert (info.width, info.height, info.orientation) == (200, 400, 6)
    assert info.taken_at == "2024-03-05T08:15:00"
    assert info.camera == "Apple iPhone 13"
    assert thumb.size == (50, 100) and preview.size == (200, 400)
    assert _close(preview.getpixel((100, 20)), (255, 0, 0))  # left went to the top
    assert _close(preview.getpixel((100, 380)), (0, 0, 255))
    assert not thumb.getexif() and not preview.getexif()  # metadata stripped
    assert "icc_profile" not in preview.info


def _rgb_icc(red, green, blue) -> bytes:
    """Return a minimal ICC v2 matrix/TRC RGB profile with the given D50 colorants."""

    def xyz(v):
        return b"XYZ \0\0\0\0" + b"".join(struct.pack(">i", round(c * 65536)) for c in v)

    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233) + b"\0\0"  # gamma 2.2
    desc = b"desc\0\0\0\0" + struct.pack(">I", 5) + b"test\0" + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    tags = [
        (b"desc", desc), (b"wtpt", xyz((0.9642, 1.0, 0.8249))),
        (b"rXYZ", xyz(red)), (b"gXYZ", xyz(green)), (b"bXYZ", xyz(blue)),
        (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve),
    ]  # fmt: skip
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = struct.pack(">I4sI4s4s4s", size, b"\0" * 4, 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
    header += b"".join(struct.pack(">i", round(c * 65536)) for c in (0.9642, 1.0, 0.8249))
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data


def test_colour_profile_is_converted_to_srgb(tmp_path):
    # a profile whose "red" primary is sRGB's blue: pure red pixels must come out blue
    icc = _rgb_icc(SRGB_BLUE, SRGB_GREEN, SRGB_RED)
    src = tmp_path / "swapped.jpg"
    Image.new("RGB", (64, 64), (255, 0, 0)).save(src, icc_profile=icc, quality=95)
    _, _, preview = _derive(src, tmp_path)
    r, g, b = preview.getpixel((32, 32))
    assert b > 200 and r < 60, (r, g, b)
    assert "icc_profile" not in preview.info


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    src = tmp_path / "print.jpg"
    Image.new("CMYK", (80, 60), (255, 0, 0, 0)).save(src, quality=95)  # pure cyan
    info, thumb, _ = _derive(src, tmp_path)
    assert thumb.mode == "RGB" and info.format == "JPEG"
    assert _close(thumb.getpixel((40, 30)), (0, 255, 255))


def test_png_alpha_is_flattened_onto_white(tmp_path):
    im = Image.new("RGBA", (100, 50), (0, 0, 0, 0))
    im.paste((200, 0, 0, 255), (40, 0, 60, 50))
    src = tmp_path / "logo.png"
    im.save(src)
    info, thumb, _ = _derive(src, tmp_path)
    assert info.format == "PNG"
    assert _close(thumb.getpixel((5, 25)), (255, 255, 255), tol=8)
    assert _close(thumb.getpixel((50, 25)), (200, 0, 0))


@pytest.mark.parametrize(
    ("ext", "fmt", "save_kw"),
    [
        ("gif", "GIF", {"transparency": 0}),
        ("webp", "WEBP", {"quality": 90}),
        ("bmp", "BMP", {}),
        ("tif", "TIFF", {"compression": "tiff_lzw"}),
    ],
)
def test_other_formats_make_derivatives(tmp_path, ext, fmt, save_kw):
    im = Image.new("RGB", (600, 400), (0, 128, 0))
    if fmt == "GIF":
        im = im.convert("P")
    src = tmp_path / f"pic.{ext}"
    im.save(src, **save_kw)
    info, thumb, preview = _derive(src, tmp_path)
    assert info.format == fmt and (info.width, info.height) == (600, 400)
    assert thumb.size == (320, 213) and preview.size == (600, 400)  # never enlarged


def test_16_bit_greyscale_tiff_is_readable(tmp_path):
    src = tmp_path / "scan.tif"
    Image.new("I;16", (300, 300), 40000).save(src)
    _, thumb, _ = _derive(src, tmp_path)
    assert 140 < thumb.convert("L").getpixel((10, 10)) < 170


def test_iphone_heic_is_decoded(tmp_path):
    import pillow_heif

    assert pillow_heif.libheif_info()["encoders"], "pillow-heif's wheel ships a HEIF encoder"
    heif = pillow_heif.from_pillow(Image.new("RGB", (640, 480), (250, 200, 0)))
    src = tmp_path / "IMG_0001.HEIC"
    heif.save(src, quality=90)
    info, thumb, _ = _derive(src, tmp_path)
    assert info.format == "HEIF" and (info.width, info.height) == (640, 480)
    assert thumb.size == (320, 240)
    assert _close(thumb.getpixel((160, 120)), (250, 200, 0))


def test_truncated_jpeg_is_corrupt_with_the_decoder_reason(tmp_path):
    good = tmp_path / "good.jpg"
    Image.effect_noise((800, 600), 50).convert("RGB").save(good, quality=90)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(good.read_bytes()[:5000])
    with pytest.raises(MediaError, match="truncated"):
        _derive(bad, tmp_path)
    assert not (tmp_path / "thumb.jpg").exists() and not (tmp_path / "preview.jpg").exists()


def test_file_that_is_not_an_image_is_corrupt(tmp_path):
    src = tmp_path / "x.jpg"
    src.write_bytes(b"this is a text file pretending to be a photo")
    with pytest.raises(MediaError, match="not an image"):
        _derive(src, tmp_path)


def test_an_image_over_the_pixel_budget_is_refused_before_it_is_decoded(tmp_path):
    """Two 13000² RGBA PNGs (0.7 MB each) once took 2.6 GB to decode in one message."""
    src = huge_png(tmp_path / "poster.png", 13000)
    with pytest.raises(LimitExceeded) as refused:
        make_image_derivatives(src, tmp_path / "t.jpg", tmp_path / "p.jpg", max_pixels=150_000_000)
    assert refused.value.limit == "image_max_pixels"
    assert refused.value.staff == (
        "图片过大（13000×13000 像素），超过1.5 亿像素的处理上限，未生成缩略图；原图已保存，可下载查看。"
    )
    assert not (tmp_path / "t.jpg").exists()
    found = measured(  # the same call in a fresh interpreter, for its own peak memory
        f"make_image_derivatives({str(src)!r}, 't.jpg', 'p.jpg', max_pixels=150_000_000)",
        setup="from pipeline.media.images import make_image_derivatives\n"
        "from pipeline.errors import LimitExceeded\n"
        "def make_image_derivatives(*a, _real=make_image_derivatives, **k):\n"
        "    try:\n        return _real(*a, **k)\n"
        "    except LimitExceeded as exc:\n        return exc.limit",
    )
    assert found["value"] == "'image_max_pixels'"
    assert found["grown_mib"] < 30  # nothing was decoded (676 MB of pixels)


def test_a_large_jpeg_is_decoded_reduced_so_the_same_budget_lets_it_through(tmp_path):
    """draft() decodes 4000×3000 at 2000×1500: 3 of its 12 megapixels; a PNG has no such path."""
    Image.new("RGB", (4000, 3000), (30, 90, 160)).save(tmp_path / "big.jpg", quality=80)
    info = make_image_derivatives(
        tmp_path / "big.jpg", tmp_path / "t.jpg", tmp_path / "p.jpg", max_pixels=4_000_000
    )
    assert (info.width, info.height) == (4000, 3000)
    assert Image.open(tmp_path / "p.jpg").size == (1440, 1080)
    Image.new("RGB", (4000, 3000), (30, 90, 160)).save(tmp_path / "big.png")
    with pytest.raises(LimitExceeded, match="4000x3000"):
        make_image_derivatives(
            tmp_path / "big.png", tmp_path / "t2.jpg", tmp_path / "p2.jpg", max_pixels=4_000_000
        )
