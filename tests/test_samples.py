"""Tests of the synthetic selfie generator (analyzer.samples).

Small frames (600 x 800, 1.8 px/mm) keep the renders fast; only the flaking test needs the
default 1440 x 1920 (4.4 px/mm), where flakes of 0.3-1.5 mm span several pixels.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from analyzer import DEFAULT, Analyzer
from analyzer.colour.spaces import srgb_to_linear
from analyzer.errors import UnreadablePhoto
from analyzer.face.mesh import REGION_LANDMARKS
from analyzer.intake import capture_time_from_filename, load_photo
from analyzer.samples import (
    BASES,
    COURSES,
    NEUTRAL,
    SCENES,
    Day,
    Light,
    _bases,
    full_cast_gains,
    generate_course,
    illuminant_xy,
    render_day,
    render_photo,
    residual_gains,
    write_photo,
)
from analyzer.samples._courses import excess_hemoglobin
from analyzer.samples._face import base_face, source_to_photo, template_to_photo, transform_points, warp
from analyzer.samples._skin import redness_pattern, sample_flakes

SMALL = (600, 800)
SAMPLE_IMAGES = Path(__file__).resolve().parents[1] / "sample_images"
MAX_SAMPLE_BYTES = 15 * 1024 * 1024
EI_PER_OD = 16.72  # erythema index per unit haemoglobin OD (docs/metrics.md)


def _day(**kw) -> Day:
    base = {"hours": 24.0, "d_hemoglobin": 0.0, "d_melanin": 0.0, "flakes_per_cm2": 0.0}
    base.update({"light": NEUTRAL, "scene": "bathroom"}, **kw)
    return Day(**base)


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def plain_analyzer():
    """The analyzer without light correction: on neutral light the physics alone is measured."""
    with Analyzer(dataclasses.replace(DEFAULT, balance_method="none", chart_search=False)) as a:
        yield a


def _skin_in_photo(rendering, size, face: str = "astronaut") -> np.ndarray:
    base = base_face(face)
    if face == "astronaut":  # the module-level transform with its default field of view
        m = template_to_photo(size, rendering.pose, base.face_centre)
    else:
        m = base.template_to_photo(size, rendering.pose)
    return warp(base.template["skin"], m, size)


# --- light model -------------------------------------------------------------------------------


def test_d65_light_has_no_cast_and_warm_light_is_red():
    assert np.allclose(full_cast_gains(6504), 1.0, atol=2e-3)
    warm, cool = full_cast_gains(2700), full_cast_gains(7500)
    assert warm[0] > 1.5 and warm[2] < 0.5 and warm[1] == 1.0
    assert cool[0] < 1.0 < cool[2]
    # residual = full ** (1 - strength); strength 1 removes it
    assert np.allclose(residual_gains(2700, 0.5) ** 2, warm)
    assert np.allclose(residual_gains(2700, 1.0), 1.0)
    assert np.allclose(Light(3000, 0.6, 0.8).gains(), residual_gains(3000, 0.6) * 0.8)


def test_illuminant_xy_on_published_points():
    # CIE illuminant A (2856 K, black body) and D50 / D65 (daylight), CIE 15:2004 table values.
    assert np.allclose(illuminant_xy(2856), (0.4476, 0.4074), atol=1e-3)
    assert np.allclose(illuminant_xy(5003), (0.3457, 0.3585), atol=1e-3)
    assert np.allclose(illuminant_xy(6504), (0.3127, 0.3290), atol=1e-3)
    with pytest.raises(ValueError):
        illuminant_xy(1000)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="awb_strength"):
        Light(3000, 1.5, 1.0)
    with pytest.raises(ValueError, match="scene"):
        _day(scene="garage")
    with pytest.raises(ValueError, match="flakes"):
        _day(flakes_per_cm2=-1.0)
    with pytest.raises(ValueError, match="3:4"):
        render_day(_day(), rng=np.random.default_rng(0), size=(600, 600))


# --- courses -----------------------------------------------------------------------------------


def test_default_redness_course_matches_the_project_curve():
    got = [excess_hemoglobin(t) for t in (3, 24, 48, 72)]
    assert np.allclose(got, (0.30, 0.16, 0.07, 0.03), atol=0.006)
    assert excess_hemoglobin(-1) == 0.0


def test_courses_show_their_anomaly():
    by_day = {c: {round(d.hours / 24): d for d in COURSES[c]()} for c in COURSES}
    normal, slow = by_day["normal"], by_day["persistent_redness"]
    peak = slow[0].d_hemoglobin
    assert slow[3].d_hemoglobin > 0.25 * peak and slow[7].d_hemoglobin > 0.25 * peak
    rebound = by_day["redness_rebound"]
    for d in (4, 5):
        assert 0.15 <= rebound[d].d_hemoglobin - normal[d].d_hemoglobin <= 0.2
    assert rebound[8].d_hemoglobin < rebound[5].d_hemoglobin / 4
    dark = by_day["darkening"]
    assert dark[6].d_melanin < 0.01 and 0.04 <= dark[8].d_melanin <= 0.06 and dark[12].d_melanin >= 0.14
    # normal: peeling on days 4-5 only, dryness on days 2-3, melanin flat
    assert max(normal[d].flakes_per_cm2 for d in (4, 5)) >= 3
    assert all(normal[d].flakes_per_cm2 == 0 for d in (-1, 0, 1, 2, 3, 7, 8, 14))
    assert all(normal[d].dryness > 0.95 for d in (2, 3)) and normal[7].dryness == 0
    assert all(d.d_melanin == 0 for d in normal.values())


def test_light_schedule_is_seeded_and_varied():
    days = COURSES["normal"](seed=3)
    assert days == COURSES["normal"](seed=3) and days != COURSES["normal"](seed=4)
    assert len({d.light.cct_k for d in days}) >= 6
    assert all(2700 <= d.light.cct_k <= 7500 and 0.5 <= d.light.awb_strength <= 0.8 for d in days)
    assert all(0.75 <= d.light.exposure <= 1.25 for d in days)
    scenes = [d.scene for d in days]
    assert "bathroom" in scenes and len(set(scenes)) >= 2 and set(scenes) <= set(SCENES)


# --- rendering -----------------------------------------------------------------------------------


def test_render_is_deterministic_by_seed():
    day = _day(d_hemoglobin=0.1, flakes_per_cm2=2.0, dryness=0.5, light=Light(3500, 0.6, 1.1))
    a = render_day(day, rng=np.random.default_rng(7), size=SMALL)
    b = render_day(day, rng=np.random.default_rng(7), size=SMALL)
    c = render_day(day, rng=np.random.default_rng(8), size=SMALL)
    assert a.shape == (800, 600, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_redness_pattern_is_blotchy_with_unit_mean_over_skin():
    skin = base_face().template["skin"]
    p = redness_pattern(0)
    assert float((p * skin).sum() / skin.sum()) == pytest.approx(1.0, abs=1e-5)
    core = base_face().template["skin_core"] > 0
    lo, hi = np.percentile(p[core], (1, 99))
    assert 0.55 <= lo < 0.85 and 1.15 < hi <= 1.45
    assert np.array_equal(p, redness_pattern(0)) and not np.array_equal(p, redness_pattern(1))


def test_more_hemoglobin_measures_redder(plain_analyzer):
    red, truth = [], []
    for dh in (0.0, 0.15, 0.3):
        r = render_photo(_day(d_hemoglobin=dh), rng=np.random.default_rng(1), size=SMALL)
        red.append(plain_analyzer.analyze(_png(r.rgb), name=f"hb{dh}.png").face.redness)
        truth.append(r.regions_d_hemoglobin)
    assert red[0] < red[1] < red[2]
    # the rise is the Beer-Lambert one, 16.7 EI per OD, within 15 %
    assert red[2] - red[0] == pytest.approx(EI_PER_OD * (truth[2] - truth[0]), rel=0.15)


def test_light_changes_background_and_face_alike():
    day = _day()
    warm = Light(3000, 0.0, 0.9)
    a = render_photo(day, rng=np.random.default_rng(2), size=SMALL)
    b = render_photo(dataclasses.replace(day, light=warm), rng=np.random.default_rng(2), size=SMALL)
    la, lb = (srgb_to_linear(x.rgb / 255.0).astype(np.float64) for x in (a, b))
    face = base_face()
    pts = transform_points(source_to_photo(SMALL, a.pose, face.face_centre), face.points)
    cx, cy = np.round(pts[list(REGION_LANDMARKS["right_cheek"])].mean(axis=0)).astype(int)
    cheek = (slice(cy - 6, cy + 6), slice(cx - 6, cx + 6))
    wall = (slice(20, 60), slice(20, 60))  # top-left corner: backdrop
    gains = warm.gains()
    for box in (cheek, wall):
        ratio = lb[box].reshape(-1, 3).mean(0) / la[box].reshape(-1, 3).mean(0)
        assert np.allclose(ratio, gains, rtol=0.03), (box, ratio, gains)


def test_scene_repaint_leaves_face_skin_unchanged():
    day = _day(d_hemoglobin=0.2)
    a = render_photo(day, rng=np.random.default_rng(3), size=SMALL)
    skin = _skin_in_photo(a, SMALL) > 0.05
    for scene in SCENES:
        if scene == "bathroom":
            continue
        b = render_photo(dataclasses.replace(day, scene=scene), rng=np.random.default_rng(3), size=SMALL)
        assert np.array_equal(a.rgb[skin], b.rgb[skin]), scene
        changed = np.any(a.rgb != b.rgb, axis=2)
        assert changed.mean() > 0.4, scene  # walls and clothes: most of the frame


def test_chart_is_pasted_under_the_same_light():
    day = _day(with_chart=True, light=Light(6500, 1.0, 1.0))
    r = render_photo(day, rng=np.random.default_rng(4), size=SMALL)
    x0, y0, x1, y1 = r.chart_box
    assert (x1 - x0) == pytest.approx(SMALL[0] / 4, rel=0.1) and x1 <= SMALL[0] and y1 <= SMALL[1]
    dim = render_photo(
        dataclasses.replace(day, light=Light(6500, 1.0, 0.5)), rng=np.random.default_rng(4), size=SMALL
    )
    box = (slice(y0, y1), slice(x0, x1))
    la, lb = (srgb_to_linear(x.rgb[box] / 255.0).mean() for x in (r, dim))
    assert lb / la == pytest.approx(0.5, rel=0.03)


def test_flakes_are_drawn_at_the_requested_density():
    zone = np.zeros((400, 400), bool)
    zone[100:300, 100:300] = True  # 200 x 200 px at 4 px/mm = 25 cm^2
    flakes, area = sample_flakes(np.random.default_rng(0), zone, 4.0, 4.0)
    assert area == pytest.approx(25.0) and len(flakes) == 100
    d_mm = np.array([f.diameter_px for f in flakes]) / 4.0
    assert d_mm.min() >= 0.3 - 1e-9 and d_mm.max() <= 1.5 + 1e-9
    assert all(zone[int(f.y), int(f.x)] for f in flakes)


def test_peeling_day_measures_more_flaking(plain_analyzer):
    """At the default 4.4 px/mm the analyzer counts the flakes of a peeling day."""
    got = {}
    for name, per_cm2 in (("baseline", 0.0), ("peeling", 5.0)):
        r = render_photo(_day(flakes_per_cm2=per_cm2), rng=np.random.default_rng(5))
        got[name] = plain_analyzer.analyze(_png(r.rgb), name=f"{name}.png").face.flaking
    assert got["baseline"] < 0.5
    assert 2.5 < got["peeling"] < 6.0


# --- files -------------------------------------------------------------------------------------


def test_write_photo_exif_is_read_by_the_loader(tmp_path):
    rgb = render_day(_day(), rng=np.random.default_rng(6), size=SMALL)
    when = datetime(2026, 11, 5, 9, 7, 33, tzinfo=timezone(timedelta(hours=1)))
    path = write_photo(tmp_path / "x.jpg", rgb, captured_at=when)
    assert load_photo(path).captured_at == when
    naive = datetime(2026, 11, 6, 8, 59, 1)
    assert load_photo(write_photo(tmp_path / "y.jpg", rgb, captured_at=naive)).captured_at == naive


GROUND_TRUTH_KEYS = {
    "course", "description", "expected", "treated_at", "base_photo", "size", "px_per_mm",
    "jpeg_quality", "units", "generator", "photos",
}  # fmt: skip
PHOTO_KEYS = {
    "file", "captured_at", "label", "hours", "d_hemoglobin", "d_melanin", "regions_d_hemoglobin",
    "regions_d_melanin", "flakes_per_cm2", "flakes_drawn", "flake_zone_cm2", "dryness",
    "roughness_percent", "light", "scene", "with_chart", "chart_box", "pose", "px_per_mm",
}  # fmt: skip


def test_generate_normal_course(tmp_path):
    paths = generate_course(tmp_path, "normal", seed=1, size=(240, 320))
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert set(truth) == GROUND_TRUTH_KEYS
    assert truth["generator"]["seed"] == 1 and truth["base_photo"]["source"] == "skimage.data.astronaut()"
    photos = truth["photos"]
    assert len(paths) == len(photos) == 16
    assert all(set(p) == PHOTO_KEYS for p in photos)
    assert set(photos[0]["light"]) == {"cct_k", "awb_strength", "exposure", "gains"}
    assert [p["label"] for p in photos[:3]] == ["baseline", "+3 h", "day 1"] and photos[-1][
        "label"
    ] == "day 14"
    times = [load_photo(p).captured_at for p in paths]
    assert times == sorted(times) and len(set(times)) == 16
    assert [datetime.fromisoformat(p["captured_at"]) for p in photos] == times
    assert [capture_time_from_filename(p.name) for p in paths] == [t.replace(tzinfo=None) for t in times]
    treated = datetime.fromisoformat(truth["treated_at"])
    for p, t in zip(photos, times):
        assert (t - treated).total_seconds() / 3600 == pytest.approx(p["hours"], abs=1e-3)
        assert 9 - 0.34 <= (t.hour + t.minute / 60) % 24 <= 9.34 or p["label"] == "+3 h"


def test_sample_images_fit_and_are_complete():
    files = [f for f in SAMPLE_IMAGES.rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) <= MAX_SAMPLE_BYTES
    counts = {}
    for course in COURSES:
        truth = json.loads((SAMPLE_IMAGES / course / "ground_truth.json").read_text())
        assert truth["course"] == course
        listed = [p["file"] for p in truth["photos"]]
        assert all((SAMPLE_IMAGES / course / f).is_file() for f in listed)
        assert sorted(f.name for f in (SAMPLE_IMAGES / course).glob("*.jpg")) == sorted(listed)
        assert truth["px_per_mm"] >= 4.0
        counts[course] = len(listed)
    assert counts["normal"] == 16
    assert all(6 <= n <= 9 for c, n in counts.items() if c != "normal")
    assert (SAMPLE_IMAGES / "README.md").is_file()


# --- base faces: the held-out Grace Hopper portrait ----------------------------------------------


def test_hopper_file_is_the_known_portrait():
    data = _bases.hopper_path().read_bytes()
    assert hashlib.sha256(data).hexdigest() == _bases.HOPPER_SHA256
    rgb = BASES["hopper"].load()
    assert rgb.shape == (600, 512, 3) and rgb.dtype == np.uint8


def test_a_changed_or_missing_hopper_file_is_a_clear_error(tmp_path, monkeypatch):
    fake = tmp_path / "grace_hopper.jpg"
    Image.fromarray(np.zeros((600, 512, 3), np.uint8)).save(fake, "JPEG")
    monkeypatch.setattr(_bases, "hopper_path", lambda: fake)
    with pytest.raises(UnreadablePhoto, match="SHA-256") as err:
        BASES["hopper"].load()
    assert err.value.file == str(fake) and "matplotlib" in err.value.fix
    monkeypatch.setattr(_bases, "hopper_path", lambda: tmp_path / "absent.jpg")
    with pytest.raises(UnreadablePhoto, match="cannot be read"):
        BASES["hopper"].load()


def test_unknown_base_face_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown base face"):
        _day(face="mona_lisa")
    with pytest.raises(ValueError, match="unknown base face"):
        generate_course(tmp_path, "normal", face="mona_lisa")
    with pytest.raises(ValueError, match="unknown base face"):
        base_face("mona_lisa")


def test_hopper_masks_at_the_same_scale_as_the_astronaut():
    hop, ast = base_face("hopper"), base_face("astronaut")
    assert hop.source is BASES["hopper"] and ast.source is BASES["astronaut"]
    # both faces at about 4.4 px/mm in the default frame (iris scale)
    assert hop.px_per_mm((1440, 1920)) == pytest.approx(ast.px_per_mm((1440, 1920)), rel=0.05)
    t = hop.template
    assert t["skin"].shape == (600, 450)  # 450 x 600 source px at 1 template px each

    def skin_cm2(face):
        return float((face.template["skin"] >= 0.5).sum()) / face.template_px_per_mm**2 / 100.0

    # the skin mask covers a face-sized area on both (cm^2, measured: Hopper 100, astronaut 94)
    assert 60.0 < skin_cm2(hop) < 160.0 and skin_cm2(hop) == pytest.approx(skin_cm2(ast), rel=0.4)
    core = t["skin_core"] > 0
    assert core.sum() > 0.7 * (t["skin"] >= 0.5).sum()
    assert t["wall"][core].max() == 0.0 and t["clothes"][core].max() == 0.0
    assert t["wall"][:40, :40].min() > 0.99  # top-left corner: the flag, a wall to repaint
    assert t["clothes"][560:, 60:120].min() > 0.99  # bottom left: the uniform
    assert t["wall"][560:, 60:120].max() < 0.01


def test_hopper_repaint_leaves_face_skin_unchanged():
    day = _day(d_hemoglobin=0.2, face="hopper")
    a = render_photo(day, rng=np.random.default_rng(3), size=SMALL)
    skin = _skin_in_photo(a, SMALL, "hopper") > 0.05
    assert skin.mean() > 0.05
    kitchen = dataclasses.replace(day, scene="kitchen_yellow")
    b = render_photo(kitchen, rng=np.random.default_rng(3), size=SMALL)
    assert np.array_equal(a.rgb[skin], b.rgb[skin])
    assert np.any(a.rgb != b.rgb, axis=2).mean() > 0.4


def test_more_hemoglobin_measures_redder_on_hopper(plain_analyzer):
    red, truth = [], []
    for dh in (0.0, 0.15, 0.3):
        r = render_photo(_day(d_hemoglobin=dh, face="hopper"), rng=np.random.default_rng(1), size=SMALL)
        red.append(plain_analyzer.analyze(_png(r.rgb), name=f"hopper hb{dh}.png").face.redness)
        truth.append(r.regions_d_hemoglobin)
    assert red[0] < red[1] < red[2]
    assert red[2] - red[0] == pytest.approx(EI_PER_OD * (truth[2] - truth[0]), rel=0.15)


def test_generate_course_on_hopper_names_its_base(tmp_path):
    paths = generate_course(tmp_path, "normal", seed=1, size=(240, 320), face="hopper")
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert set(truth) == GROUND_TRUTH_KEYS and len(paths) == 16
    base = truth["base_photo"]
    assert base["sha256"] == _bases.HOPPER_SHA256 and "grace_hopper.jpg" in base["source"]
    assert base["field_of_view_px"] == [40.0, 0.0, 450.0, 600.0]
    assert base["upscale"] == pytest.approx(240 / 450, abs=1e-4)
