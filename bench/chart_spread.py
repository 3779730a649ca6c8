"""Benchmark: how far ``face.redness`` moves with the light when a ColorChecker is in the frame.

Renders baseline photos with the chart (:mod:`analyzer.samples`, ``Day(..., with_chart=True)``,
JPEG q88 as :mod:`analyzer.validate` does) for the astronaut (tuned on) and Grace Hopper (held
out), each at +0 and +0.5 OD melanin, under held-out lights (3200, 4000, 7500 K at auto white
balance strength 0.5) x exposures (0.8, 1.0, 1.2) x rooms (bathroom, bedroom_blue,
kitchen_yellow), and prints per face:

* how often the chart was found (n / N) and the spread (max - min) of ``face.redness`` over the
  photos where it was, in EI and in % of the day-1 effect (the change for +0.3 OD haemoglobin,
  measured as validate does: doses 0-0.4 OD under the neutral light, interpolated at 0.3);
* a per-condition table: light, exposure, room, redness with the chart fit, residual CIEDE2000,
  patches clipped (NaN or not used by the fit);
* the breakdown that isolates the cause.  The generator knows the light
  (:meth:`analyzer.samples.Light.gains`) and pastes the chart at ``CHART_GAIN`` x its reference,
  so the exact correction is ``diag(1 / (CHART_GAIN x gains))``.  Each photo is measured three
  ways: ``fit`` (the pipeline as it is), ``truth`` (the pipeline with the fitted matrix replaced
  by the exact one: what is left is measurement bias, e.g. the skin pixels dropped as clipped)
  and ``truth, all px`` (the exact matrix and no skin pixel dropped for clipping).
  fit - truth is the fit's error; the spread of ``truth`` is what no chart fit can remove.
  With ``--same-seed`` every condition has the same pose and noise, and a fourth way,
  ``truth, first masks`` (the exact matrix and the skin masks found in the first photo), shows
  how much of that is the skin masks moving with the light;
* the chart miss rate over all renders (the chart is always fully in the frame).

    .venv/bin/python bench/chart_spread.py [--faces astronaut,hopper] [--melanin 0,0.5]
                                            [--size 1440x1920] [--quick] [--same-seed]

Numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer import pipeline
from analyzer.colour.chart import ChartFit, fit_correction
from analyzer.colour.chart_detect import find_chart
from analyzer.samples import NEUTRAL, Day, Light, render_photo
from analyzer.samples._render import CHART_GAIN

LIGHTS = (3200, 4000, 7500)
EXPOSURES = (0.8, 1.0, 1.2)
ROOMS = ("bathroom", "bedroom_blue", "kitchen_yellow")
AWB = 0.5
DOSES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
DAY1_OD = 0.3


def jpeg(rgb: np.ndarray, quality: int = 88) -> bytes:
    buf = BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@contextmanager
def exact_matrix(gains: np.ndarray | None, keep_all: bool = False, regions=None):
    """Within the block the pipeline uses the exact chart matrix (when ``gains`` is given);
    with ``keep_all`` it drops no skin pixel as clipped; with ``regions`` (a
    :class:`~analyzer.face.regions.FaceRegions`) it uses those skin masks instead of the
    photo's own."""
    saved = pipeline.detect_and_fit, pipeline._unclipped, pipeline.locate_regions
    if gains is not None:
        m = np.diag(1.0 / (CHART_GAIN * np.asarray(gains, float)))
        fit = ChartFit(m, 0.0, 0.0, np.full((4, 2), np.nan, np.float32), np.ones(24, bool), "truth")
        pipeline.detect_and_fit = lambda *a, **k: fit
    if keep_all:
        pipeline._unclipped = lambda px, s: np.ones(px.shape[:2], bool)
    if regions is not None:
        pipeline.locate_regions = lambda *a, **k: regions
    try:
        yield
    finally:
        pipeline.detect_and_fit, pipeline._unclipped, pipeline.locate_regions = saved


def redness(az, data: bytes) -> tuple[float, object]:
    r = az.analyze(data, name="bench")
    return (r.face.redness if r.ok and r.face else float("nan")), r


def _regions_of(az, data: bytes):
    """The skin regions the pipeline finds in ``data`` (kept to reuse on other photos)."""
    kept = {}
    original = pipeline.locate_regions

    def keep(*a, **k):
        kept["r"] = original(*a, **k)
        return kept["r"]

    pipeline.locate_regions = keep
    try:
        az.analyze(data, name="bench")
    finally:
        pipeline.locate_regions = original
    return kept.get("r")


def _patches(data: bytes) -> tuple[int, int]:
    """(patches NaN in the measurement, patches the fit did not use); -1 when no chart."""
    rgb = np.asarray(Image.open(BytesIO(data)).convert("RGB"))
    m = find_chart(rgb)
    if m is None:
        return -1, -1
    try:
        unused = int(24 - fit_correction(m[0], m[1]).used.sum())
    except ValueError:
        unused = 24
    return int(np.isnan(m[0]).any(1).sum()), unused


def run_face(az, face: str, melanin: float, size, quick: bool, seed: int, same_seed: bool) -> dict:
    counter = iter(range(seed * 10_000, seed * 10_000 + 10_000))
    doses = (0.0, 0.3) if quick else DOSES

    def render(dose, light, room, chart, fixed=None):
        day = Day(0.0, dose, melanin, 0.0, light, room, with_chart=chart, face=face)
        return render_photo(day, rng=np.random.default_rng(fixed or next(counter)), size=size)

    neutral = [redness(az, jpeg(render(d, NEUTRAL, "bathroom", False).rgb))[0] for d in doses]
    effect = float(np.interp(DAY1_OD, doses, neutral) - neutral[0])
    lights = LIGHTS[:2] if quick else LIGHTS
    exposures = (1.0,) if quick else EXPOSURES
    rooms = ROOMS[:2] if quick else ROOMS
    fixed = seed * 10_000 + 9_999 if same_seed else None
    regions = None
    rows = []
    for cct in lights:
        for e in exposures:
            for room in rooms:
                light = Light(cct, AWB, e)
                data = jpeg(render(0.0, light, room, True, fixed).rgb)
                rd, res = redness(az, data)
                found = res.ok and res.calibration.chart_found
                with exact_matrix(light.gains()):
                    rt, _ = redness(az, data)
                with exact_matrix(light.gains(), keep_all=True):
                    ra, _ = redness(az, data)
                rm = float("nan")
                if same_seed:  # one pose: the first photo's skin masks fit every photo
                    regions = regions or _regions_of(az, data)
                    with exact_matrix(light.gains(), regions=regions):
                        rm, _ = redness(az, data)
                nan_patches, unused = _patches(data)
                rows.append(
                    {"cct": cct, "e": e, "room": room, "fit": rd, "found": found, "truth": rt,
                     "all_px": ra, "masks": rm, "nan": nan_patches, "unused": unused,
                     "de": res.calibration.residual_delta_e00 if found else float("nan")}
                )  # fmt: skip
    return {"face": face, "melanin": melanin, "effect": effect, "neutral0": neutral[0], "rows": rows}


def spread(values) -> float:
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    return float(np.ptp(v)) if len(v) else float("nan")


def report(r: dict) -> str:
    rows, eff = r["rows"], r["effect"]
    n_found = sum(x["found"] for x in rows)
    lines = [
        (
            f"== {r['face']} melanin +{r['melanin']:g} OD: day-1 effect {eff:.2f} EI;"
            f" baseline at neutral light {r['neutral0']:.2f} EI"
        ),
        f"chart found {n_found}/{len(rows)}",
    ]
    parts = [
        ("fit (found)", [x["fit"] for x in rows if x["found"]]),
        ("truth matrix", [x["truth"] for x in rows]),
        ("truth matrix, all px", [x["all_px"] for x in rows]),
        ("truth, first masks", [x["masks"] for x in rows]),
        ("fit - truth", [x["fit"] - x["truth"] for x in rows if x["found"]]),
    ]
    for label, vals in parts:
        if np.isfinite(vals).any():
            s = spread(vals)
            lines.append(f"  spread {label:22s} {s:6.2f} EI = {100 * s / eff:5.1f} % of the day-1 effect")
    lines.append(
        "   light   exp room            found  fit EI  truth  all px  masks  fit-tru  dE00  NaN unused"
    )
    for x in rows:
        lines.append(
            f"  {x['cct']:5d} K {x['e']:4.1f} {x['room']:15s} {'yes' if x['found'] else 'NO ':>5s}"
            f" {x['fit']:7.2f} {x['truth']:6.2f} {x['all_px']:7.2f} {x['masks']:6.2f}"
            f" {x['fit'] - x['truth']:+8.2f} {x['de']:5.2f} {x['nan']:4d} {x['unused']:6d}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", default="astronaut,hopper")
    ap.add_argument("--melanin", default="0,0.5")
    ap.add_argument("--size", default="", help="WxH, e.g. 720x960 (default: the generator's)")
    ap.add_argument("--quick", action="store_true", help="2 lights x 1 exposure x 2 rooms, 2 doses")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--same-seed",
        action="store_true",
        help=(
            "one pose and noise draw for every condition; adds 'truth, first masks' (the exact"
            " matrix and the first photo's skin masks), which isolates the masks' light dependence"
        ),
    )
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.size.split("x")) if args.size else None
    total = found = 0
    with pipeline.Analyzer() as az:
        for face in args.faces.split(","):
            for mel in (float(v) for v in args.melanin.split(",")):
                r = run_face(az, face, mel, size, args.quick, args.seed, args.same_seed)
                print(report(r), flush=True)
                total += len(r["rows"])
                found += sum(x["found"] for x in r["rows"])
    print(f"chart miss rate over all renders: {total - found}/{total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
