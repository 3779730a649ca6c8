"""Issue 12, hardening of the intake and the store: the selfie pixel cap (before decoding and on
the stored copy), decoders limited to the product's formats, the per-upload caps, stored files
named by a keyed hash, orphan files, private files and folders, and overlays without file names."""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import stat
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, PsdImagePlugin
from sqlalchemy import select, update

from analyzer.errors import AnalyzerError, PhotoTooLarge, UnreadablePhoto
from analyzer.intake import load_photo, stored_copy
from analyzer.intake.container import _check_dimensions
from analyzer.overlay import render_overlay, write_overlay
from analyzer.result import PhotoMaps, PhotoResult
from analyzer.settings import DEFAULT, MAX_FILES_PER_UPLOAD, MAX_UPLOAD_MB
from analyzer.store import open_store
from analyzer.store.models import Photo
from analyzer.store.photos import (
    ORPHAN_GRACE_S,
    commit_photo,
    ensure_stored_copy,
    orphan_files,
    sha256_of,
    stored_name,
)
from analyzer.store.secrets import secret
from analyzer.ui.server import options, streamlit_argv
from tests._images import colour_pattern, write_jpeg, write_png

ROOT = Path(__file__).resolve().parents[1]

FIX_TOO_LARGE = "take the selfie with the phone's normal camera setting, or resize it"
FIX_FORMAT = "send the photo as the phone saved it (JPEG or HEIC), or convert it to JPEG"


def _chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def crafted_png16(width: int = 7740, height: int = 7740) -> bytes:
    """The review's decompression bomb: a valid 16-bit RGB PNG of one colour, about 0.5 MB on
    disk for 7740 x 7740 (59.9 MP), which decodes to 359 MB of pixels (766 MB peak RSS)."""
    row = b"\x00" + bytes.fromhex("9c404e202710") * width  # filter 0; R, G, B = 40000, 20000, 10000
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(crafted_png16())
    return path


# --------------------------------------------------------------------------------------------
# 1. The selfie pixel cap
# --------------------------------------------------------------------------------------------

BOMB_MESSAGE = (
    "bomb.png: the image is 59.9 MP at 16 bits per channel (7740\u00d77740 pixels); photos up to "
    "50 MP are accepted, 16-bit ones up to 25 MP. " + FIX_TOO_LARGE + ", or save it with 8 bits per channel"
)


def test_the_cap_is_what_phones_make():
    assert DEFAULT.max_upload_pixels == 50_000_000
    _check_dimensions(8160, 6120, "a.jpg", DEFAULT)  # a 50 MP sensor (front or rear): accepted
    _check_dimensions(8064, 6048, "a.heic", DEFAULT)  # iPhone 48 MP
    _check_dimensions(5000, 5000, "a.png", DEFAULT, deep=True)  # 16-bit: half the cap, inclusive
    with pytest.raises(PhotoTooLarge) as info:
        _check_dimensions(5000, 5001, "a.png", DEFAULT, deep=True)
    assert info.value.message == (
        "a.png: the image is 25.005 MP at 16 bits per channel (5000\u00d75001 pixels); photos up to 50 MP "
        "are accepted, 16-bit ones up to 25 MP. " + FIX_TOO_LARGE + ", or save it with 8 bits per channel"
    )
    with pytest.raises(PhotoTooLarge) as info:
        _check_dimensions(16320, 12240, "IMG_200MP.jpg", DEFAULT)  # a 200 MP rear-camera mode
    assert info.value.message == (
        "IMG_200MP.jpg: the image is 199.8 MP (16320\u00d712240 pixels); photos up to 50 MP are accepted. "
        + FIX_TOO_LARGE
    )


def test_the_crafted_16_bit_png_is_refused_on_its_header(bomb):
    assert bomb.stat().st_size < 600_000
    t = time.perf_counter()
    with pytest.raises(PhotoTooLarge) as info:
        load_photo(bomb)
    assert time.perf_counter() - t < 0.5  # decoding it took 6 s
    assert info.value.message == BOMB_MESSAGE
    # The stored copy goes through the same limits (strip_metadata, its predecessor, did not).
    with pytest.raises(PhotoTooLarge) as info:
        stored_copy(bomb.read_bytes(), name="bomb.png")
    assert info.value.message == BOMB_MESSAGE


def test_the_crafted_png_costs_no_memory(bomb):
    # Peak RSS of a fresh interpreter: before the cap it decoded to 7740 x 7740 x 3 x 16 bit
    # and peaked at 766 MB; now nothing is decoded.
    script = (
        "import resource, sys\n"
        "from analyzer.intake import load_photo\n"
        "from analyzer.errors import PhotoTooLarge\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    load_photo(sys.argv[1])\n"
        "except PhotoTooLarge:\n"
        "    pass\n"
        "else:\n"
        "    sys.exit('not refused')\n"
        "print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    r = subprocess.run([sys.executable, "-c", script, str(bomb)], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    base_kb, peak_kb = map(int, r.stdout.split())
    assert peak_kb - base_kb < 20 * 1024, (base_kb, peak_kb)  # kB: under 20 MB more than the imports


def test_the_cap_is_checked_on_the_stored_copy_before_it_is_written(tmp_path):
    # A copy over the cap (here a JPEG header claiming 10000 x 6000) is never written.
    small = write_jpeg(tmp_path / "s.jpg", colour_pattern(240, 320)).read_bytes()
    sof = small.index(b"\xff\xc0")
    big = small[: sof + 5] + struct.pack(">HH", 6000, 10000) + small[sof + 9 :]
    with open_store(tmp_path / "a.db") as store:
        with pytest.raises(PhotoTooLarge) as info:
            ensure_stored_copy(store, "IMG_1.jpg", "ab" * 32, lambda: big)
        assert info.value.message == (
            "IMG_1.jpg: the stored copy is 60 MP (10000\u00d76000 pixels); photos up to 50 MP are accepted. "
            + FIX_TOO_LARGE
        )
        with pytest.raises(AnalyzerError, match=r"^IMG_1.jpg: the stored copy is not a readable JPEG"):
            ensure_stored_copy(store, "IMG_1.jpg", "ab" * 32, lambda: b"<html>")
        assert list(store.photo_dir.iterdir()) == []


# --------------------------------------------------------------------------------------------
# 2. Decoders limited to the product's formats
# --------------------------------------------------------------------------------------------


def _bmp(path: Path) -> Path:
    Image.fromarray(colour_pattern(240, 320)).save(path, "BMP")
    return path


def _gif(path: Path) -> Path:
    Image.fromarray(colour_pattern(240, 320)).convert("P").save(path, "GIF")
    return path


def _psd(path: Path) -> Path:
    """A Photoshop header (8BPS, version 1, 3 channels, 240 x 320, 8 bits, RGB) and raw planes."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 240, 320, 8, 3)
    body = struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + bytes(3 * 240 * 320)
    path.write_bytes(header + body)
    return path


@pytest.mark.parametrize(("make", "kind"), [(_bmp, "BMP"), (_gif, "GIF"), (_psd, "Photoshop (PSD)")])
def test_other_image_formats_are_refused_without_their_decoder(tmp_path, monkeypatch, make, kind):
    path = make(tmp_path / f"IMG_1.{kind[:3].lower()}")
    with Image.open(path) as im:  # a valid image Pillow could read if it were allowed to
        assert im.size == (320, 240)

    def never(self):
        raise AssertionError("the PSD plugin parsed uploaded bytes")

    monkeypatch.setattr(PsdImagePlugin.PsdImageFile, "_open", never)
    for source in (path, path.read_bytes()):
        with pytest.raises(UnreadablePhoto) as info:
            load_photo(source, name=path.name)
        assert info.value.message == (
            f"{path.name}: the file is in {kind} format; photos are accepted as JPEG, HEIC, PNG, WebP "
            f"or TIFF. {FIX_FORMAT}"
        )


# --------------------------------------------------------------------------------------------
# 3. Per-upload caps
# --------------------------------------------------------------------------------------------


def test_upload_caps_are_defined_once_and_the_server_is_started_with_them():
    assert isinstance(MAX_FILES_PER_UPLOAD, int) and MAX_FILES_PER_UPLOAD == 20
    argv = streamlit_argv(options())
    assert argv[argv.index("--server.maxUploadSize") + 1] == str(MAX_UPLOAD_MB) == "25"


# --------------------------------------------------------------------------------------------
# 4. Stored files named by a keyed hash; orphans
# --------------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "db" / "a.db") as s:
        yield s


def _jpeg(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(colour_pattern(240, 320, seed=seed)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _commit(store, patient: str, data: bytes) -> str:
    sha = sha256_of(data)
    assert commit_photo(store, patient, f"{patient}.jpg", sha, PhotoResult(file=f"{patient}.jpg", ok=True),
                        "test", lambda: data)
    with store.sessions() as s:
        return s.scalar(select(Photo.stored_path)
                        .where(Photo.sha256 == sha, Photo.patient.has(pseudonym=patient)))


def test_stored_names_are_keyed_and_not_the_sha256(store, tmp_path):
    data = _jpeg()
    sha = sha256_of(data)
    rel = stored_name(store, sha)
    key = secret(store, "stored-names")
    expected = hmac.new(key, bytes.fromhex(sha), hashlib.sha256).hexdigest()[:32]
    assert rel == f"photos/{expected}.jpg" and len(key) == 32
    assert sha not in rel and sha[:16] not in rel
    assert stored_name(store, sha) == rel  # the same bytes, the same name
    with open_store(tmp_path / "other" / "b.db") as other:
        assert stored_name(other, sha) != rel  # another store, another key


def test_two_patients_with_the_same_bytes_share_one_private_file(store):
    data = _jpeg()
    first, second = _commit(store, "P1", data), _commit(store, "P2", data)
    assert first == second == stored_name(store, sha256_of(data))
    files = list(store.photo_dir.iterdir())
    assert [f.name for f in files] == [Path(first).name]
    assert files[0].read_bytes() == data
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_rows_from_before_the_keyed_names_keep_their_path(store):
    # A row of an older store names photos/<sha256>.jpg; its lost copy is written again there,
    # and another patient's row of the same bytes shares that file (one file per photo).
    data = _jpeg(1)
    sha = sha256_of(data)
    legacy = f"photos/{sha}.jpg"
    _commit(store, "P1", data)
    with store.sessions.begin() as s:
        s.execute(update(Photo).values(stored_path=legacy))
    (store.data_dir / stored_name(store, sha)).unlink()
    assert ensure_stored_copy(store, "P1.jpg", sha, lambda: data) == legacy
    assert (store.data_dir / legacy).read_bytes() == data
    assert _commit(store, "P2", data) == legacy
    assert sorted(p.name for p in store.photo_dir.iterdir()) == [f"{sha}.jpg"]


def test_orphan_files_are_those_no_row_names(store):
    used = _commit(store, "P1", _jpeg(2))
    stray = store.photo_dir / "0123456789abcdef0123456789abcdef.jpg"
    stray.write_bytes(_jpeg(3))
    part = store.photo_dir / ".x.jpg.abc.part"
    part.write_bytes(b"half")
    # Fresh files may be an import in progress: left out for ORPHAN_GRACE_S.
    assert orphan_files(store) == []
    assert orphan_files(store, older_than_s=0) == ["photos/.x.jpg.abc.part", f"photos/{stray.name}"]
    old = time.time() - ORPHAN_GRACE_S - 1
    os.utime(stray, (old, old))
    os.utime(store.data_dir / used, (old, old))
    assert orphan_files(store) == [f"photos/{stray.name}"]
    assert (store.data_dir / used).exists() and stray.exists()  # listing removes nothing


def test_the_data_folder_and_stored_files_are_private(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)  # an existing, world-readable data folder
    with open_store(data_dir / "a.db") as store:
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(store.photo_dir.stat().st_mode) == 0o700
        rel = ensure_stored_copy(store, "a.jpg", "cd" * 32, _jpeg)
        assert stat.S_IMODE((store.data_dir / rel).stat().st_mode) == 0o600


def test_a_shared_sticky_folder_is_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    with open_store(shared / "a.db") as store:
        assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
        assert stat.S_IMODE(store.photo_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE((shared / "a.db").stat().st_mode) == 0o600


# --------------------------------------------------------------------------------------------
# 5. Overlays carry no file name
# --------------------------------------------------------------------------------------------


def _result(name: str) -> PhotoResult:
    h, w = 120, 100
    yy, xx = np.mgrid[0:h, 0:w]
    hb = (0.5 + 0.002 * xx + 0.001 * yy).astype(np.float32)
    square = np.array([[20, 20], [80, 20], [80, 60], [20, 60]], np.float32)
    maps = PhotoMaps(box=(0, 0, w, h), hemoglobin=hb, redness=hb * 10, image=colour_pattern(h, w),
                     polygons={"left_cheek": square})
    return PhotoResult(file=name, ok=True, maps=maps)


def test_an_overlay_holds_no_file_name(tmp_path, monkeypatch):
    name = "Jane_Doe_GPS.jpg"
    drawn: list[str] = []
    put_text = cv2.putText

    def recording(img, text, *args, **kwargs):
        drawn.append(text)
        return put_text(img, text, *args, **kwargs)

    monkeypatch.setattr(cv2, "putText", recording)
    image = render_overlay(_result(name))
    assert image.ndim == 3 and image.dtype == np.uint8
    assert drawn, "the overlay draws its labels with cv2.putText"
    assert "redness -   hemoglobin -" in drawn and "left cheek" in drawn
    for text in drawn:
        assert "Jane" not in text and "Doe" not in text and "GPS" not in text and ".jpg" not in text

    out = write_overlay(_result(name), tmp_path / "overlays")
    assert out.name == "Jane_Doe_GPS.overlay.png"  # the operator's own folder: matched by file name
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with Image.open(out) as im:
        assert not any("Jane" in f"{k}{v}" for k, v in im.info.items())
        assert "exif" not in im.info
    raw = out.read_bytes()
    for ctype in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
        assert ctype not in raw
    assert b"Jane" not in raw


def test_a_pixel_cap_from_settings_reaches_the_stored_copy_on_disk(tmp_path):
    # The store's import makes the copy from settings that may be tighter than the default.
    path = write_png(tmp_path / "p.png", colour_pattern(240, 320))
    tight = replace(DEFAULT, max_upload_pixels=320 * 240 - 1)
    with pytest.raises(PhotoTooLarge, match=r"^p\.png: the image is 0\.1 MP \(320\u00d7240 pixels\)"):
        stored_copy(path, name="p.png", settings=tight)
