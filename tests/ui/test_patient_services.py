"""analyzer.ui.services.patient and analyzer.store.query / analyzer.align: plain unit tests (no Streamlit).

The store is filled once per module with the ``persistent_redness`` sample course (8 photos,
analysed by the session's Analyzer); tests that change it use their own store.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from analyzer.recovery import Treatment, analyze_series
from analyzer.store.db import StoreError
from analyzer.store.query import stored_results
from analyzer.store.records import find_patient
from analyzer.ui.services.common import DEMO_TREATED_AT, open_app_store
from analyzer.ui.services.patient import (
    MAX_FILES_PER_UPLOAD,
    TooManyFiles,
    add_diary,
    aligned_faces,
    baseline_outline,
    consent_view,
    course_view,
    create_patient,
    give_consent,
    overlay_image,
    save_treatment,
    set_photo_time,
    timeline,
    upload_photos,
    withdraw_consent,
)
from tests.ui.conftest import OP, new_patient

ROOT = Path(__file__).parents[2]
PERSISTENT = sorted((ROOT / "sample_images" / "persistent_redness").glob("*.jpg"))
NORMAL = sorted((ROOT / "sample_images" / "normal").glob("*.jpg"))


def files(paths):
    return [(p.name, p.read_bytes()) for p in paths]


@pytest.fixture(scope="module")
def course(tmp_path_factory, az):
    """A store with patient P1: the persistent-redness course and its treatment."""
    store = open_app_store(tmp_path_factory.mktemp("ui-store") / "a.db")
    new_patient(store, "P1", "Ann Example")
    verdicts = upload_photos(store, az, "P1", files(PERSISTENT), actor=OP)
    save_treatment(store, "P1", DEMO_TREATED_AT, 1.0, actor=OP)
    yield store, verdicts
    store.close()


def test_upload_reports_each_photo(course):
    _, verdicts = course
    assert [v.status for v in verdicts] == ["imported"] * len(PERSISTENT)
    assert all(v.quality_ok and v.captured_at is not None and v.sha256 for v in verdicts)


def test_course_from_the_store_equals_the_course_from_the_photos(course, az):
    """The stored numbers rebuild the same course as analysing the photos directly."""
    store, _ = course
    direct = analyze_series([az.analyze(p) for p in PERSISTENT], Treatment(DEMO_TREATED_AT, needle_depth_mm=1.0))
    view = course_view(store, "P1", actor=OP)
    assert [f.code for f in view.series.flags] == [f.code for f in direct.flags]
    assert "persistent_redness" in set(view.flags["code"])
    assert view.flags.iloc[0]["severity"] == "urgent"  # most severe first
    stored = [sp.redness_excess for sp in view.series.points]
    assert np.allclose(stored, [sp.redness_excess for sp in direct.points], atol=2e-3)  # 4-digit storage
    assert list(view.points["day"]) == sorted(view.points["day"])
    # the curve's bands contain the expected line, and the noise band is symmetric around it
    c = view.curve[view.curve["day"] > 0]
    assert (c["band_low"] <= c["expected"] + 1e-9).all() and (c["expected"] <= c["band_high"] + 1e-9).all()
    assert np.allclose(c["noise_high"] - c["expected"], c["expected"] - c["noise_low"])


def test_per_region_course_follows_that_region(course):
    store, _ = course
    face = course_view(store, "P1", actor=OP)
    forehead = course_view(store, "P1", region="forehead", actor=OP)
    rows = stored_results(store, "P1", region="forehead")
    assert [r.result.face.redness for r in rows][:3] == [r.result.regions["forehead"].redness for r in rows][:3]
    assert not np.allclose(face.points["redness"], forehead.points["redness"])
    with pytest.raises(StoreError, match="unknown region"):
        course_view(store, "P1", region="elbow", actor=OP)


def test_same_photo_again_is_unchanged_and_a_broken_one_fails_alone(course, az):
    store, _ = course
    again = upload_photos(store, az, "P1", [("broken.jpg", b"\xff\xd8\xff\xe0 not a photo"),
                                            (PERSISTENT[0].name, PERSISTENT[0].read_bytes())], actor=OP)
    assert again[0].status == "failed" and "broken.jpg" in again[0].message
    assert again[1].status == "unchanged" and again[1].captured_at is not None and again[1].quality_ok
    assert len(stored_results(store, "P1")) == len(PERSISTENT)


def test_rotated_png_and_heic_uploads_are_measured(tmp_path, az):
    store = open_app_store(tmp_path / "b.db")
    src = Image.open(NORMAL[0])
    turned = src.rotate(90, expand=True)  # pixels on their side, EXIF says turn them back
    exif = src.getexif()
    exif[0x0112] = 6
    jpg = io.BytesIO()
    turned.save(jpg, "JPEG", quality=95, exif=exif)
    png = io.BytesIO()
    src.save(png, "PNG")
    from pillow_heif import register_heif_opener

    register_heif_opener()
    heic = io.BytesIO()
    src.save(heic, "HEIF", quality=95)
    new_patient(store, "P2")
    out = upload_photos(store, az, "P2", [("turned.jpg", jpg.getvalue()), ("plain.png", png.getvalue()),
                                          ("phone.heic", heic.getvalue())], actor=OP)
    assert [v.status for v in out] == ["imported"] * 3, [v.message for v in out]
    a, b, c = (r.result for r in stored_results(store, "P2"))
    assert a.face.redness == pytest.approx(b.face.redness, abs=0.3)
    assert c.face.redness == pytest.approx(b.face.redness, abs=0.3)


def test_diary_pus_raises_an_urgent_flag(tmp_path, az):
    store = open_app_store(tmp_path / "c.db")
    new_patient(store, "P3")
    upload_photos(store, az, "P3", files(NORMAL[:4]), actor=OP)
    save_treatment(store, "P3", DEMO_TREATED_AT, 1.0, actor=OP)
    assert "symptom_urgent" not in set(course_view(store, "P3", actor=OP).flags["code"])
    assert add_diary(store, "P3", DEMO_TREATED_AT + timedelta(hours=30), {"pain": 2, "pus": 1, "warmth": 0}, actor=OP) == 3
    flags = course_view(store, "P3", actor=OP).flags
    assert flags.iloc[0]["code"] == "symptom_urgent" and flags.iloc[0]["severity"] == "urgent"
    with pytest.raises(StoreError, match="outside 0-10"):
        add_diary(store, "P3", DEMO_TREATED_AT, {"pain": 11}, actor=OP)
    with pytest.raises(StoreError, match="unknown symptom"):
        add_diary(store, "P3", DEMO_TREATED_AT, {"nausea": 1}, actor=OP)


def test_capture_time_edit_moves_the_point(tmp_path, az):
    store = open_app_store(tmp_path / "d.db")
    new_patient(store, "P4")
    upload_photos(store, az, "P4", files(NORMAL[:3]), actor=OP)
    save_treatment(store, "P4", DEMO_TREATED_AT, 1.0, actor=OP)
    before = course_view(store, "P4", actor=OP).points
    sha = before.iloc[-1]["sha256"]
    set_photo_time(store, "P4", sha, (DEMO_TREATED_AT + timedelta(days=2)).replace(tzinfo=None), actor=OP)
    after = course_view(store, "P4", actor=OP).points.set_index("sha256")
    assert after.loc[sha, "day"] == pytest.approx(2.0, abs=1e-6)
    with pytest.raises(StoreError, match="no such photo"):
        set_photo_time(store, "P4", "0" * 64, datetime(2026, 11, 5, 9), actor=OP)


def test_photos_belong_to_their_treatment(tmp_path, az):
    """With a second treatment, the first course ends where the second's baseline begins (72 h
    before it); every photo is in exactly one course."""
    store = open_app_store(tmp_path / "e.db")
    new_patient(store, "P5")
    upload_photos(store, az, "P5", files(NORMAL), actor=OP)
    first = save_treatment(store, "P5", DEMO_TREATED_AT, 1.0, actor=OP)
    second = save_treatment(store, "P5", DEMO_TREATED_AT + timedelta(days=7), 1.0, actor=OP)
    a = course_view(store, "P5", treatment_id=first, actor=OP)
    b = course_view(store, "P5", treatment_id=second, actor=OP)
    assert a.points["hours"].max() <= 4 * 24
    assert -72 < b.points["hours"].min() < 0 and not b.series.baseline_estimated  # days 4-6 of the first
    assert len(a.points) + len(b.points) == len(NORMAL)
    assert not set(a.points["sha256"]) & set(b.points["sha256"])
    assert course_view(store, "P5", actor=OP).treatment_id == second  # the latest by default


def test_no_treatment_no_course(tmp_path, az):
    store = open_app_store(tmp_path / "f.db")
    create_patient(store, "P6", actor=OP)
    assert course_view(store, "P6", actor=OP) is None
    with pytest.raises(StoreError):
        create_patient(store, "has spaces", actor=OP)


def test_new_patient_with_a_taken_pseudonym_is_refused_not_renamed(tmp_path):
    store = open_app_store(tmp_path / "g.db")
    create_patient(store, "P7", "Ann Example", actor=OP)
    with pytest.raises(StoreError) as e:
        create_patient(store, " P7 ", "Someone Else", actor=OP)
    assert e.value.message == ("patient 'P7': a patient with this pseudonym already exists. choose another "
                               "pseudonym, or select that patient in the list")
    with store.sessions() as s:
        assert find_patient(s, "P7").display_name == "Ann Example"


def test_aligned_faces_line_up_with_the_baseline(course, az):
    store, _ = course
    photos = timeline(store, "P1", None, actor=OP)
    faces = aligned_faces(store, az, photos[:3], photos[0], size=240, actor=OP)
    assert all(isinstance(faces[p.sha256], np.ndarray) and faces[p.sha256].shape == (240, 240, 3) for p in photos[:3])
    # The same face lined up on itself and the next day's face agree closely in shape: compare
    # edge maps (lighting differs, geometry should not).
    def edges(img):
        g = img.astype(np.float32).mean(axis=2)
        return np.hypot(*np.gradient(g))
    e0, e1 = edges(faces[photos[0].sha256]), edges(faces[photos[1].sha256])
    shifted = np.roll(e1, 12, axis=1)
    assert np.corrcoef(e0.ravel(), e1.ravel())[0, 1] > np.corrcoef(e0.ravel(), shifted.ravel())[0, 1] + 0.1
    outline = baseline_outline(store, az, photos[0], size=200, actor=OP)
    assert outline.shape == (200, 200, 3) and outline.dtype == np.uint8
    over = overlay_image(store, az, photos[1], actor=OP)
    assert over.ndim == 3 and over.shape[2] == 3 and over.shape[1] > over.shape[0]


def test_services_do_not_import_streamlit():
    code = ("import sys; import analyzer.ui.services.common, analyzer.ui.services.patient, analyzer.ui.charts, analyzer.align; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def test_typical_noise_band_uses_the_measured_sd(course):
    store, _ = course
    view = course_view(store, "P1", actor=OP)
    half = float((view.curve["noise_high"] - view.curve["expected"]).iloc[-1])
    assert half == pytest.approx(2 * math.hypot(0.41, 0.41), rel=0.05)  # card-free sd, photo and baseline


def test_user_text_is_escaped_for_markdown():
    from analyzer.ui.services.common import md_text

    evil = "[x](http://e.vil)\n![t](http://e.vil/t.png) :red[urgent] **bold** $x$ <b>.png"
    out = md_text(evil)
    assert "](" not in out.replace("\\]\\(", "") and ":red[" not in out and "**" not in out
    assert "\n" not in out  # a line break cannot start a heading or a list
    # Every special character carries its backslash, so the text reads back exactly (line
    # breaks folded to spaces).
    assert out.replace("\\", "") == " ".join(evil.split())
    assert all(out[i - 1] == "\\" for i, ch in enumerate(out) if ch in "[]()!*:$<>")


def test_no_photo_is_stored_without_care_consent(tmp_path, az):
    from analyzer.service.consent import ConsentRequired

    store = open_app_store(tmp_path / "h.db")
    new_patient(store, "P8", consent=())
    with pytest.raises(ConsentRequired) as e:
        upload_photos(store, az, "P8", files(NORMAL[:2]), actor=OP)
    assert "no care consent is recorded" in e.value.message and "give consent on the Patient page" in e.value.message
    assert stored_results(store, "P8") == []
    give_consent(store, "P8", "care", actor=OP)
    assert [v.status for v in upload_photos(store, az, "P8", files(NORMAL[:1]), actor=OP)] == ["imported"]
    withdraw_consent(store, "P8", "care", actor=OP)
    with pytest.raises(ConsentRequired):
        upload_photos(store, az, "P8", files(NORMAL[1:2]), actor=OP)
    assert len(stored_results(store, "P8")) == 1
    care, research = consent_view(store, "P8", actor=OP)
    assert (care.scope, care.given, care.version, research.given) == ("care", False, "care-1", False)
    assert [(r.recorded_by, r.withdrawn_by) for r in care.history] == [(OP.login, OP.login)]


def test_more_files_than_the_cap_import_nothing(tmp_path, az):
    store = open_app_store(tmp_path / "i.db")
    new_patient(store, "P9")
    too_many = files(NORMAL[:1]) * (MAX_FILES_PER_UPLOAD + 1)
    with pytest.raises(TooManyFiles) as e:
        upload_photos(store, az, "P9", too_many, actor=OP)
    assert e.value.message == (f"{MAX_FILES_PER_UPLOAD + 1} photos: at most {MAX_FILES_PER_UPLOAD} photos can be "
                               f"added at once. choose {MAX_FILES_PER_UPLOAD} or fewer and add the others afterwards")
    assert stored_results(store, "P9") == []
