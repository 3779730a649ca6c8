"""One light for the whole course: photos mapped onto the baseline's light through the eyes.

Made-up courses: every photo is the normal course (tests/test_recovery_support.py) seen under a
light whose log gains (d_rg, d_bg) are known, so its redness reads erythema_shift(d_rg) higher
and its eyes' ratios move by the same d.  Mapped through the eyes, the course must read as if
every photo had been taken in the baseline's light.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from analyzer.measure.chromophores import density_shift
from analyzer.measure.redness import erythema_shift
from analyzer.recovery.relative import MAX_SHIFT_SD_EI, anchor, onto_anchor, shift_to
from analyzer.recovery.series import series_from_points
from analyzer.result import LightReference, PartColour
from tests.test_recovery_support import DAYS, TREATMENT, normal_day, point

IRIS = (0.47, -0.51)
SCLERA = (0.03, -0.03)
NOT_CORRECTED = ("light_not_corrected",)


def _ref(d_rg: float, d_bg: float, *, se: float = 0.002, eye_gap: float = 0.0, iris_extra: float = 0.0):
    """The eyes under a light of log gains (d_rg, d_bg); ``eye_gap`` moves the right eye's
    reading apart, ``iris_extra`` the iris alone (a changed part)."""
    def part(base, extra=0.0):
        left = (base[0] + d_rg + extra, base[1] + d_bg)
        right = (base[0] + d_rg + extra + eye_gap, base[1] + d_bg)
        return PartColour(left=left, right=right, se_rg=se, se_bg=se, px=400)
    return LightReference({"iris": part(IRIS, iris_extra), "sclera": part(SCLERA)})


def _lit(hours: float, d_rg: float, d_bg: float, *, codes=NOT_CORRECTED, **ref_kw):
    """A photo of the normal course under a light (d_rg, d_bg), not corrected by itself."""
    v = normal_day(hours)
    p = point(hours, codes=codes, redness=v["redness"] + erythema_shift(d_rg),
              melanin=v["melanin"] + density_shift(d_rg, d_bg)[0], sd=0.41 * 5)
    return dataclasses.replace(p, reference=_ref(d_rg, d_bg, **ref_kw))


LIGHTS = [(0.0, 0.0), (0.35, -0.6), (-0.12, 0.2), (0.2, -0.3), (0.05, 0.1), (-0.2, 0.25)]


def test_every_photo_reads_as_in_the_baseline_light():
    pts = [_lit(h, *LIGHTS[i % len(LIGHTS)]) for i, h in enumerate(DAYS)]
    # Uncorrected, the lights move redness by -8.7 to +15.2 EI.
    assert max(p.redness - normal_day(p.hours)["redness"] for p in pts) == pytest.approx(15.2, abs=0.05)
    out, note = onto_anchor(pts)
    assert note.startswith(f"{len(DAYS)} photos were mapped onto the light")
    for p in out:
        assert p.light == "relative" and p.light_ok and p.colour_ok
        assert p.redness == pytest.approx(normal_day(p.hours)["redness"], abs=1e-9)
        assert p.melanin == pytest.approx(normal_day(p.hours)["melanin"], abs=1e-9)
        # The photo's own sd without the 5x inflation for an uncorrected light, and the shift's.
        assert 0.41 < p.redness_sd < 0.41 + 0.2
    s = series_from_points(out, TREATMENT)
    assert s.assessment.status == "as_expected" and [f.code for f in s.flags if f.severity != "info"] == []


def test_the_same_course_unmapped_cannot_be_judged():
    pts = [dataclasses.replace(_lit(h, *LIGHTS[i % len(LIGHTS)]), reference=None) for i, h in enumerate(DAYS)]
    s = series_from_points(pts, TREATMENT)
    assert s.assessment.status == "inconclusive" and "light_not_corrected" in s.assessment.reasons


def test_the_anchor_is_the_corrected_photos_before_the_treatment():
    # Photos corrected by themselves (no code) keep their values and define the anchor.
    pts = [_lit(-24, 0.0, 0.0, codes=()), _lit(-20, 0.0, 0.0, codes=()), _lit(24, 0.3, -0.4)]
    anc = anchor(pts)
    assert anc.photos == ("p-24h.jpg", "p-20h.jpg")
    out, _ = onto_anchor(pts)
    assert [p.light for p in out] == ["own", "own", "relative"]
    assert out[2].light_shift_ei == pytest.approx(-erythema_shift(0.3))
    assert out[0] == pts[0]


def test_shifts_the_rules_refuse():
    anc = anchor([_lit(-24, 0.0, 0.0)])
    assert shift_to(_ref(0.2, -0.2), anc).parts == ("iris", "sclera")
    assert shift_to(None, anc) is None
    # The eyes disagree by 0.06 (2.6 EI): half of it is the shift's sd, above MAX_SHIFT_SD_EI.
    assert erythema_shift(0.03) > MAX_SHIFT_SD_EI
    assert shift_to(_ref(0.2, -0.2, eye_gap=0.06), anc) is None
    # The iris changed (0.1 more red) but the sclera did not: the parts disagree.
    assert shift_to(_ref(0.2, -0.2, iris_extra=0.1), anc) is None
    # Too few pixels: a pixel sd of 0.02 per part gives 0.61 EI combined.
    assert shift_to(_ref(0.2, -0.2, se=0.02), anc) is None
    ok = shift_to(_ref(0.2, -0.2, se=0.01), anc)
    assert ok.redness == pytest.approx(-erythema_shift(0.2))
    # Per part: photo 0.01 and anchor 0.002 in quadrature; two agreeing parts: / sqrt(2).
    assert ok.redness_sd == pytest.approx(erythema_shift(math.hypot(0.01, 0.002) / math.sqrt(2)), rel=1e-6)


def test_a_photo_whose_eyes_cannot_be_used_keeps_its_codes():
    pts = [_lit(-24, 0.0, 0.0), _lit(24, 0.3, -0.4, eye_gap=0.08)]
    out, note = onto_anchor(pts)
    assert out[1] == pts[1] and not out[1].light_ok
    assert note.startswith("1 photo was mapped")  # the baseline photo itself
