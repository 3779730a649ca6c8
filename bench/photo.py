"""Benchmark: analyze_photo on a 12 MP JPEG against a plain full cv2.imread of the same file.

Prints, from one run with the two timed alternately: the median of each, their ratio, the
median time of each step, and the peak RSS.  Target: ratio <= 1.5 (goal <= 1.0).

    .venv/bin/python bench/photo.py [--repeat N]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer import analyze_photo  # noqa: E402
from analyzer.portrait import demo_face  # noqa: E402


def make_photo(path: Path, icc: bytes | None = None) -> None:
    """A 4032x3024 JPEG (q92) with the demo face filling about a third of the frame, plus
    sensor-like noise so the JPEG has realistic entropy."""
    rng = np.random.default_rng(0)
    face = cv2.resize(demo_face(1), (2400, 2400), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((3024, 4032, 3), (96, 104, 118), np.uint8)
    canvas[312:2712, 816:3216] = face[:2400]
    noisy = canvas.astype(np.float32) + rng.normal(0, 3, canvas.shape).astype(np.float32)
    rgb = np.clip(noisy, 0, 255).astype(np.uint8)
    if icc is None:
        cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    else:
        Image.fromarray(rgb).save(path, "JPEG", quality=92, icc_profile=icc)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--make", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:
        make_photo(Path(args.make))
        from tests._images import display_p3_icc

        make_photo(Path(args.make).with_name("IMG_20261105_093013_P3.jpg"), display_p3_icc())
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "IMG_20261105_093012.jpg"
        # Made in a child process so its float buffers do not count in this process's peak RSS.
        subprocess.run([sys.executable, __file__, "--make", str(path)], check=True)
        rss_before = _peak_rss_mb()
        first = analyze_photo(path)  # warm-up: loads the model once
        if not first.ok:
            sys.exit(f"benchmark photo failed: {first.error}")
        t_an, t_rd = [], []
        for _ in range(args.repeat):
            t_rd.append(timed(lambda: cv2.imread(str(path))))
            t_an.append(timed(lambda: analyze_photo(path)))
        med_an, med_rd = statistics.median(t_an), statistics.median(t_rd)
        p3 = path.with_name("IMG_20261105_093013_P3.jpg")
        analyze_photo(p3)
        t_p3, t_p3rd = [], []
        for _ in range(args.repeat):
            t_p3rd.append(timed(lambda: cv2.imread(str(p3))))
            t_p3.append(timed(lambda: analyze_photo(p3)))
        steps = _step_times(path, args.repeat)
    peak_mb = _peak_rss_mb()
    print(f"photo: 4032x3024 JPEG q92, {path.name}; repeats: {args.repeat}")
    print(f"analyze_photo median: {med_an * 1000:.1f} ms")
    print(f"cv2.imread   median: {med_rd * 1000:.1f} ms")
    print(f"ratio analyze/imread: {med_an / med_rd:.2f}  (target <= 1.5, goal <= 1.0)")
    p3_an, p3_rd = statistics.median(t_p3), statistics.median(t_p3rd)
    print(
        f"with a Display P3 ICC profile (as iPhones write): analyze {p3_an * 1000:.1f} ms, "
        f"imread {p3_rd * 1000:.1f} ms, ratio {p3_an / p3_rd:.2f}"
    )
    print("steps (median ms): " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in steps.items()))
    print(
        f"peak RSS: {peak_mb:.0f} MB "
        f"(before the first analysis, with libraries imported: {rss_before:.0f} MB)"
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _step_times(path: Path, repeat: int) -> dict[str, float]:
    """Median time of each pipeline step, for finding where the time goes."""
    from analyzer.colour.balance import build_context, estimate_gains
    from analyzer.colour.chart_detect import detect_and_fit
    from analyzer.colour.spaces import encoded_to_linear
    from analyzer.face.landmarks import Landmarker
    from analyzer.face.quality import assess_quality
    from analyzer.face.regions import locate_regions
    from analyzer.intake import load_photo
    from analyzer.pipeline import _measure_regions
    from analyzer.settings import DEFAULT

    keys = ("load", "landmarks", "regions", "chart", "balance", "quality", "measure")
    times: dict[str, list[float]] = {k: [] for k in keys}
    with Landmarker() as lm:
        for _ in range(repeat):
            t = time.perf_counter()
            photo = load_photo(path)
            times["load"].append(time.perf_counter() - t)
            t = time.perf_counter()
            marks = lm.detect(photo.pixels)
            times["landmarks"].append(time.perf_counter() - t)
            t = time.perf_counter()
            regions = locate_regions(photo.pixels, marks)
            times["regions"].append(time.perf_counter() - t)
            t = time.perf_counter()
            detect_and_fit(photo.pixels, long_side=DEFAULT.chart_search_long_side)
            times["chart"].append(time.perf_counter() - t)
            t = time.perf_counter()
            ctx = build_context(photo.pixels, marks.points, to_srgb_matrix=photo.to_srgb_matrix)
            estimate_gains(DEFAULT.balance_method, ctx)
            times["balance"].append(time.perf_counter() - t)
            x0, y0, x1, y1 = regions.box
            crop = encoded_to_linear(photo.pixels[y0:y1, x0:x1])
            t = time.perf_counter()
            assess_quality(
                width=photo.width,
                height=photo.height,
                scale=photo.scale,
                landmarks=marks,
                regions=regions,
                linear_crop=crop,
            )
            times["quality"].append(time.perf_counter() - t)
            t = time.perf_counter()
            _measure_regions(crop, regions, DEFAULT)
            times["measure"].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


if __name__ == "__main__":
    main()
