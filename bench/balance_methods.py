"""Benchmark: how far each card-free balance method lets the face's redness move with the light.

For every method of ``analyzer.colour.balance.BALANCE_METHODS`` the erythema index of the face
skin, EI = 100 log10(mean R / mean G) over the face oval minus the eyes and the mouth, in linear
RGB after the method's gains, is measured on one photo under many lights:

* scenes: NASA's astronaut portrait (x6, 3072 px: selfie resolution, enough sclera pixels) as it is, and the same with everything
  outside the face (grown by 20 %) repainted, once blue-grey and once beige (luminance kept,
  chromaticity of a painted wall), to fool whole-image methods: a different room, or a
  different shirt, on a different day;
* lights: black-body (2700, 3200, 4000 K; Planckian locus by Kim et al. 2002) and CIE
  daylight (5000, 6500, 7500 K; CIE 15:2004) illuminants, as diagonal gains in linear sRGB
  relative to D65 (6504 K), applied at 50 % strength (gains ** 0.5: the cast an imperfect
  camera auto white balance leaves), times exposure 0.7, 1.0 and 1.3;
* every variant is encoded to 8-bit sRGB (clipping) and JPEG q90, decoded, and measured with
  the same landmarks (MediaPipe FaceLandmarker on the untouched photo).  The portrait is
  first darkened in linear light (x 0.4) so that even the warmest light at exposure 1.3 does
  not clip the face skin: clipping would move every method's EI and hide their differences.

Reported per method: the spread (max - min) of EI over the 18 lights of each scene and over
all 54 variants, in EI units and as % of +0.1 OD of haemoglobin (1.67 EI) and of the +0.3 OD
day-1 effect (5.0 EI); how much of a +0.3 OD haemoglobin increase on the face skin survives the
method (100 % = none of the signal is normalised away); and the time of one estimate.

    .venv/bin/python bench/balance_methods.py [--quality 90] [--methods a,b,...] [--face hopper]

``--face hopper`` runs the same on Grace Hopper's portrait (matplotlib's sample data), a face
none of the methods was tuned on (docs/validation.md).

References
----------
Kim, Kim, Lee, Kim & Kim, "Design of advanced color temperature control system for HDTV
applications", J. Korean Phys. Soc. 41:865-871 (2002) (cubic-spline Planckian locus).
CIE 15:2004, Colorimetry, eqs. 3.3-3.4 (daylight locus).  Tsumura et al., JOSA A 16:2169 (1999)
(haemoglobin density vector (0.2988, 0.6838, 0.6657), docs/science.md#tsumura-separation).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer.colour.balance import BALANCE_METHODS, build_context, estimate_gains  # noqa: E402
from analyzer.colour.spaces import BT709_LUMINANCE_WEIGHTS, encoded_to_linear, linear_to_srgb8  # noqa: E402
from analyzer.face.landmarks import Landmarker  # noqa: E402
from analyzer.face.mesh import FACE_OVAL, LEFT_EYE, LIPS_OUTER, RIGHT_EYE  # noqa: E402
from analyzer.measure.chromophores import SIGMA_HEMOGLOBIN  # noqa: E402
from analyzer.samples import BASES, residual_gains  # noqa: E402

EI_PER_0_1_OD = 1.67
DAY1_EI = 5.0
CCTS = (2700, 3200, 4000, 5000, 6500, 7500)
EXPOSURES = (0.7, 1.0, 1.3)
STRENGTH = 0.5

def cast_gains(t: float, strength: float = STRENGTH) -> np.ndarray:
    """Diagonal linear-sRGB gains of illuminant ``t`` K relative to D65, green = 1, ** strength:
    the light model of the sample generator (``analyzer.samples.residual_gains``)."""
    return residual_gains(t, 1.0 - strength)


# ------------------------------------------------------------------------------------------
# Scene
# ------------------------------------------------------------------------------------------


def landmarks(rgb: np.ndarray) -> np.ndarray:
    """(478, 3) MediaPipe landmarks in pixels (x, y, z), from the project's wrapper."""
    with Landmarker() as lm:
        return lm.detect(rgb, name="benchmark photo").points.astype(np.float64)


def polygon(shape, pts: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return m.astype(bool)


def skin_mask(shape, pts: np.ndarray) -> np.ndarray:
    """Face oval minus the eyes and the mouth, each grown by 4 % of the face width."""
    face = polygon(shape, pts[list(FACE_OVAL), :2])
    width = np.ptp(pts[list(FACE_OVAL), 0])
    r = max(1, round(0.04 * width))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    holes = np.zeros(shape, np.uint8)
    for idx in (LEFT_EYE, RIGHT_EYE, LIPS_OUTER):
        holes |= cv2.dilate(polygon(shape, pts[list(idx), :2]).view(np.uint8), kernel)
    return face & (holes == 0)


def repainted(linear: np.ndarray, pts: np.ndarray, colour) -> np.ndarray:
    """Everything outside the face oval grown by 20 % of the face width (feathered) recoloured:
    its luminance is kept and its chromaticity replaced by ``colour`` (linear RGB)."""
    shape = linear.shape[:2]
    face = polygon(shape, pts[list(FACE_OVAL), :2]).view(np.uint8)
    width = np.ptp(pts[list(FACE_OVAL), 0])
    r = max(1, round(0.2 * width))
    keep = cv2.dilate(face, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))).astype(
        np.float32
    )
    keep = cv2.GaussianBlur(keep, (0, 0), 0.05 * width)[..., None]
    colour = np.asarray(colour, np.float32)
    w = BT709_LUMINANCE_WEIGHTS
    paint = (linear @ w)[..., None] * (colour / (colour @ w))
    return keep * linear + (1 - keep) * np.clip(paint, 0, 1)


def photograph(linear: np.ndarray, gains, exposure: float, quality: int) -> np.ndarray:
    """Light ``linear`` with ``gains * exposure``, encode to 8-bit sRGB, JPEG round trip."""
    lin = linear * (np.asarray(gains, np.float32) * np.float32(exposure))
    img = linear_to_srgb8(lin)
    _, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def erythema_index(rgb: np.ndarray, skin: np.ndarray, gains: np.ndarray) -> float:
    mean = encoded_to_linear(rgb[skin]).astype(np.float64).mean(0) * gains
    return float(100 * np.log10(mean[0] / mean[1]))


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality of every variant")
    ap.add_argument("--methods", default=",".join(BALANCE_METHODS), help="comma-separated method names")
    ap.add_argument("--face", default="astronaut", choices=sorted(BASES),
                    help="base portrait (analyzer.samples.BASES): astronaut (tuned on) or hopper (held out)")
    args = ap.parse_args()
    methods = args.methods.split(",")

    source = BASES[args.face].load()
    size = (3072, round(3072 * source.shape[0] / source.shape[1]))  # x6 on both 512 px wide portraits
    photo = cv2.resize(source, size, interpolation=cv2.INTER_CUBIC)
    pts = landmarks(photo)
    skin = skin_mask(photo.shape[:2], pts)
    base = encoded_to_linear(photo)
    # Headroom: the portrait's skin is already near the top of the range; darken it so that the
    # warmest light at the highest exposure does not clip the skin (a clipped channel would
    # move every method's EI and hide the differences between methods).
    worst = max(cast_gains(t).max() for t in CCTS) * max(EXPOSURES)
    headroom = float(np.floor(0.95 / (np.percentile(base[skin].max(1), 99) * worst) * 100) / 100)
    base = base * np.float32(headroom)
    scenes = {
        "original": base,
        "blue-grey wall": repainted(base, pts, (0.22, 0.30, 0.40)),
        "beige wall": repainted(base, pts, (0.45, 0.36, 0.26)),
    }
    lights = [(t, e) for t in CCTS for e in EXPOSURES]
    print(
        f"photo: {args.face} ({'tuned on' if BASES[args.face].tuned_on else 'held out'}) x6 "
        f"({size[0]}x{size[1]} px) x {headroom} in linear light, face skin {skin.sum()} px; "
        f"JPEG q{args.quality}"
    )
    print("cast gains at 50 %: " + ", ".join(f"{t} K {np.round(cast_gains(t), 3).tolist()}" for t in CCTS))

    ei = {m: {s: [] for s in scenes} for m in methods}
    ms = {m: [] for m in methods}
    ms_context = []
    for sname, lin in scenes.items():
        for t, e in lights:
            img = photograph(lin, cast_gains(t), e, args.quality)
            t0 = time.perf_counter()
            ctx = build_context(img, pts)
            ms_context.append(time.perf_counter() - t0)
            for m in methods:
                t0 = time.perf_counter()
                g = estimate_gains(m, ctx)
                ms[m].append(time.perf_counter() - t0)
                ei[m][sname].append(erythema_index(img, skin, g))

    # the day-1 effect: +0.3 OD haemoglobin on the face skin, neutral light
    dose = np.exp(-0.3 * np.asarray(SIGMA_HEMOGLOBIN)).astype(np.float32)
    day1 = base.copy()
    day1[skin] *= dose
    before = photograph(base, (1, 1, 1), 1.0, args.quality)
    after = photograph(day1, (1, 1, 1), 1.0, args.quality)
    ctx0, ctx1 = build_context(before, pts), build_context(after, pts)
    true_effect = erythema_index(after, skin, np.ones(3)) - erythema_index(before, skin, np.ones(3))

    rows = []
    for m in methods:
        spreads = [np.ptp(ei[m][s]) for s in scenes]
        pooled = np.ptp(np.concatenate([ei[m][s] for s in scenes]))
        kept = erythema_index(after, skin, estimate_gains(m, ctx1)) - erythema_index(
            before, skin, estimate_gains(m, ctx0)
        )
        rows.append((m, spreads, pooled, kept / true_effect * 100, np.median(ms[m]) * 1000))

    names = list(scenes)
    print(
        f"\nEI spread = max - min of the face's erythema index over {len(CCTS)} lights x "
        f"{len(EXPOSURES)} exposures; % of +0.1 OD haemoglobin ({EI_PER_0_1_OD} EI) / "
        f"% of the +0.3 OD day-1 effect ({DAY1_EI} EI)"
    )
    head = "".join(f"{n:>22s}" for n in names)
    print(f"{'method':24s}{head}{'all scenes pooled':>26s}{'day-1 kept':>12s}{'ms':>7s}")
    for m, spreads, pooled, kept, t in sorted(rows, key=lambda r: r[2]):
        cells = "".join(
            f"{s:6.2f} ({s / EI_PER_0_1_OD * 100:4.0f}%/{s / DAY1_EI * 100:4.0f}%)" for s in spreads
        )
        share = f"({pooled / EI_PER_0_1_OD * 100:4.0f}%/{pooled / DAY1_EI * 100:4.0f}%)"
        print(f"{m:24s}{cells}  {pooled:6.2f} {share}{kept:10.1f} %{t:7.1f}")
    print(f"build_context from the 3072 px photo: {np.median(ms_context) * 1000:.1f} ms (median)")
    best = min(rows, key=lambda r: r[2] if r[3] > 95 else np.inf)
    print(
        f"\nsmallest pooled spread with >95 % of the day-1 effect kept: {best[0]} "
        f"({best[2]:.2f} EI = {best[2] / DAY1_EI * 100:.0f} % of the day-1 effect)"
    )


if __name__ == "__main__":
    main()
