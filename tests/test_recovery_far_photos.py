"""Never a wrong "as expected": the four sample courses at selfie resolution (4.5 px/mm) and
downsized as a far or reduced photo is (2.3 and 1.8 px/mm), through the whole pipeline.

At selfie resolution every course is judged right.  Downsized, the whites of the eyes are too
small to correct the light, so the verdict must be ``inconclusive`` with the advice to come
closer (or the right flag); it must never be ``as_expected`` for an anomalous course, and no
false warning may be raised on the normal one.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from analyzer.recovery import analyze_series
from analyzer.recovery.treatment import Treatment

SAMPLES = Path(__file__).parents[1] / "sample_images"
TREATMENT = Treatment(datetime.fromisoformat("2026-11-03T09:00+01:00"), needle_depth_mm=1.0)
EXPECTED_FLAG = {"normal": None, "persistent_redness": "persistent_redness",
                 "redness_rebound": "redness_rebound", "darkening": "darkening"}
"""The warning each course must raise (sample_images/README.md)."""


def _downsized(data: bytes, factor: float) -> bytes:
    """The photo reduced by ``factor`` (Lanczos), saved as JPEG q88 with its EXIF kept."""
    im = Image.open(io.BytesIO(data))
    exif = im.info.get("exif", b"")
    im = im.resize((round(im.width / factor), round(im.height / factor)), Image.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=88, exif=exif)
    return buf.getvalue()


def _series(az, course: str, factor: float):
    results = []
    for f in sorted((SAMPLES / course).glob("*.jpg")):
        data = f.read_bytes()
        results.append(az.analyze(data if factor == 1 else _downsized(data, factor), name=f.name))
    return results, analyze_series(results, TREATMENT)


@pytest.mark.parametrize("course", list(EXPECTED_FLAG))
def test_selfie_resolution_is_judged_right(az, course):
    results, s = _series(az, course, 1)
    assert all(r.ok and r.quality.ok for r in results)
    warnings = {f.code for f in s.flags if f.severity in ("warning", "urgent")}
    if EXPECTED_FLAG[course] is None:
        assert s.assessment.status == "as_expected" and warnings == set()
    else:
        assert s.assessment.status == "needs_attention" and EXPECTED_FLAG[course] in warnings


@pytest.mark.parametrize("factor", [2, 2.5])
@pytest.mark.parametrize("course", list(EXPECTED_FLAG))
def test_a_far_photo_never_reassures(az, course, factor):
    results, s = _series(az, course, factor)
    scale = results[1].scale_px_per_mm
    assert 1.5 < scale < 2.5  # what the test is about: 1-2.5 px/mm, not a selfie
    a = s.assessment
    warnings = {f.code for f in s.flags if f.severity in ("warning", "urgent")}
    assert a.status != "as_expected"
    if EXPECTED_FLAG[course] is None:
        assert warnings == set()  # no false warning either
    if a.status == "needs_attention":
        assert EXPECTED_FLAG[course] in warnings
    else:
        assert a.status == "inconclusive" and "too_far" in a.reasons
        assert a.advice.startswith("Your face is too small")


def test_mapping_through_the_eyes_lets_a_far_course_be_flagged(az):
    # At 2.3 px/mm the photos' own correction fails; the series maps those whose eyes agree onto
    # the baseline's light (analyzer/recovery/relative.py) and the lasting redness is seen.
    results, s = _series(az, "persistent_redness", 2)
    mapped = [p for p in s.points if p.point.light == "relative"]
    assert 3 <= len(mapped) < len(s.points)
    assert all(not r.quality.ok or any(i.code == "light_not_corrected" for i in r.quality.issues)
               for r in results)
    assert s.assessment.status == "needs_attention"
    assert "persistent_redness" in {f.code for f in s.flags if f.severity in ("warning", "urgent")}
