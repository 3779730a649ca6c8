"""The third base face (Luis Pedro Coelho's portrait from mahotas, held out) and face-metered
exposure in the generator (analyzer.samples)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from analyzer import DEFAULT, Analyzer
from analyzer.colour.spaces import BT709_LUMINANCE_WEIGHTS, encoded_to_linear
from analyzer.errors import UnreadablePhoto
from analyzer.samples import (
    BASES,
    METERED_FACE_LUMINANCE,
    NEUTRAL,
    Day,
    Light,
    _bases,
    encode_photo,
    metered_exposure,
    render_photo,
)
from analyzer.samples._face import base_face, warp
from analyzer.validate import settings_for

SMALL = (600, 800)


def _day(**kw) -> Day:
    base = {"hours": 24.0, "d_hemoglobin": 0.0, "d_melanin": 0.0, "flakes_per_cm2": 0.0,
            "light": NEUTRAL, "scene": "bathroom"}  # fmt: skip
    base.update(kw)
    return Day(**base)


def _skin(rendering, size, face) -> np.ndarray:
    b = base_face(face)
    return warp(b.template["skin"], b.template_to_photo(size, rendering.pose), size) >= 0.5


# --- Luis Pedro Coelho's portrait -----------------------------------------------------------------


def test_luispedro_file_is_the_known_portrait():
    path = _bases.luispedro_path()
    assert path.parts[-4:] == ("mahotas", "demos", "data", "luispedro.jpg")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == _bases.LUISPEDRO_SHA256
    rgb = BASES["luispedro"].load()
    assert rgb.shape == (377, 300, 3) and rgb.dtype == np.uint8
    src = BASES["luispedro"]
    assert not src.tuned_on and src.provenance["sha256"] == _bases.LUISPEDRO_SHA256
    assert "glass facade" in src.provenance["original_light"] and "MIT" in src.provenance["licence"]


def test_a_changed_or_missing_luispedro_file_is_a_clear_error(tmp_path, monkeypatch):
    fake = tmp_path / "luispedro.jpg"
    Image.fromarray(np.zeros((377, 300, 3), np.uint8)).save(fake, "JPEG")
    monkeypatch.setattr(_bases, "luispedro_path", lambda: fake)
    with pytest.raises(UnreadablePhoto) as err:
        BASES["luispedro"].load()
    digest = hashlib.sha256(fake.read_bytes()).hexdigest()
    assert str(err.value) == (
        f"{fake}: SHA-256 is {digest}, expected {_bases.LUISPEDRO_SHA256}: not the known Luis Pedro "
        "Coelho portrait. install it with pip install mahotas==1.4.19 (requirements.txt), or use the "
        "astronaut face"
    )
    monkeypatch.setattr(_bases, "luispedro_path", lambda: tmp_path / "absent.jpg")
    with pytest.raises(UnreadablePhoto, match="the Luis Pedro Coelho base photo cannot be read") as err:
        BASES["luispedro"].load()
    assert err.value.file == str(tmp_path / "absent.jpg") and "mahotas==1.4.19" in err.value.fix


def test_luispedro_masks_and_scale():
    lp = base_face("luispedro")
    # a close selfie: the face fills the 282 x 376 px window, 1.36 px/mm x 5.1 = 6.9 px/mm
    assert lp.px_per_mm((1440, 1920)) == pytest.approx(6.96, abs=0.2)
    t = lp.template
    skin_cm2 = float((t["skin"] >= 0.5).sum()) / lp.template_px_per_mm**2 / 100.0
    assert 60.0 < skin_cm2 < 160.0  # a face-sized area (measured 94 cm^2 on the astronaut)
    core = t["skin_core"] > 0
    assert t["wall"][core].max() == 0.0 and t["clothes"][core].max() == 0.0
    assert t["wall"][:30, 230:].min() > 0.99  # top right: the glass facade
    assert t["clothes"][355:, :40].min() > 0.99  # bottom left: the shirt


def test_luispedro_is_found_and_measured_with_the_head_turn_allowance():
    """His portrait is a three-quarter view: the analyzer finds the face at the scale drawn, and
    refuses it as ``head_turned`` at the default gate (20 degrees); validation uses 30."""
    r = render_photo(_day(face="luispedro"), rng=np.random.default_rng(2))
    data = encode_photo(r.rgb, captured_at=datetime(2026, 11, 4, 9))
    with Analyzer() as az:
        default = az.analyze(data, name="lp.jpg")
    assert default.ok and [i.code for i in default.quality.issues if i.blocking] == ["head_turned"]
    assert default.scale_px_per_mm == pytest.approx(r.px_per_mm, rel=0.1)
    assert settings_for("luispedro") == dataclasses.replace(DEFAULT, max_yaw_deg=30.0)
    assert settings_for("hopper") is DEFAULT
    with Analyzer(settings_for("luispedro")) as az:
        allowed = az.analyze(data, name="lp.jpg")
    assert allowed.quality.ok and allowed.calibration.method == "sclera"


# --- face-metered exposure ------------------------------------------------------------------------


def test_metered_exposure_of_a_uniform_frame():
    img = np.full((4, 4, 3), 0.05, np.float32)
    skin = np.zeros((4, 4), np.float32)
    skin[:2] = 1.0
    img[:2] = 0.09  # the face; the rest (background) is not metered
    assert metered_exposure(img, skin, NEUTRAL, 0.18) == pytest.approx(2.0)
    # the cast counts, the light's own exposure does not
    warm = Light(2700, 0.5, 1.7)
    y = float((np.full(3, 0.09) * warm.gains() / 1.7) @ BT709_LUMINANCE_WEIGHTS)
    assert metered_exposure(img, skin, warm, 0.18) == pytest.approx(0.18 / y, rel=1e-5)
    with pytest.raises(ValueError, match="no skin pixel to meter on"):
        metered_exposure(img, np.zeros((4, 4), np.float32), NEUTRAL, 0.18)
    with pytest.raises(ValueError, match=r"target must be in \(0, 1\), got 1.5"):
        metered_exposure(img, skin, NEUTRAL, 1.5)


def test_bad_metered_luminance_is_refused():
    with pytest.raises(ValueError, match=r"metered_luminance must be in \(0, 1\) or None, got 0.0"):
        _day(metered_luminance=0.0)


@pytest.mark.parametrize("face", ["astronaut", "luispedro"])
def test_darker_skin_gets_a_brighter_metered_exposure(face):
    out = {}
    for melanin in (0.0, 0.5):
        day = _day(face=face, d_melanin=melanin, light=Light(4000, 0.5, 1.0),
                   metered_luminance=METERED_FACE_LUMINANCE)  # fmt: skip
        r = render_photo(day, rng=np.random.default_rng(5), size=SMALL)
        y = encoded_to_linear(r.rgb) @ BT709_LUMINANCE_WEIGHTS
        out[melanin] = (r.exposure, float(y[_skin(r, SMALL, face)].mean()))
    (e_light, y_light), (e_dark, y_dark) = out[0.0], out[0.5]
    assert e_dark > 1.1 * e_light  # +0.5 OD melanin: measured x 1.20 on both faces
    for y in (y_light, y_dark):  # the face lands on the target after noise, 8-bit and clipping
        assert y == pytest.approx(METERED_FACE_LUMINANCE, rel=0.03)


def test_metering_replaces_the_lights_own_exposure():
    a, b = (render_photo(_day(light=Light(3200, 0.5, e), metered_luminance=0.18), rng=np.random.default_rng(1),
                         size=SMALL) for e in (0.8, 1.25))  # fmt: skip
    assert a.exposure == pytest.approx(b.exposure) and np.array_equal(a.rgb, b.rgb)
    fixed = render_photo(_day(light=Light(3200, 0.5, 0.8)), rng=np.random.default_rng(1), size=SMALL)
    assert fixed.exposure == 0.8 and not np.array_equal(fixed.rgb, a.rgb)


def test_encode_photo_keeps_the_capture_time():
    when = datetime(2026, 11, 4, 9, 12, 5, tzinfo=timezone(timedelta(hours=1)))
    data = encode_photo(np.zeros((16, 12, 3), np.uint8), captured_at=when)
    with Image.open(io.BytesIO(data)) as im:
        ifd = im.getexif().get_ifd(0x8769)
    assert ifd[0x9003] == "2026:11:04 09:12:05" and ifd[0x9011] == "+01:00"
