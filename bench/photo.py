"""Benchmark: analyze_photo on a 12 MP JPEG against a plain full cv2.imread of the same file.

Four photos (docs/performance.md): the bench photo (the astronaut portrait over about a third of
a 4032x3024 frame, so a small face), a portrait
whose face fills most of the frame (the held-out base face), and each again with a Display P3
ICC profile.  Prints, from one run with the two timed alternately: for each photo the median of
each and their ratio (wall clock; then the analysis's CPU time over all its threads, and its
ratio to the decode's); the median time of each step; the peak RSS.  Goal: ratio <= 1.0.

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


def _save(rgb: np.ndarray, path: Path, icc: bytes | None) -> None:
    """JPEG q92 (with ``icc`` embedded when given), after sensor-like noise so the JPEG has
    realistic entropy."""
    rng = np.random.default_rng(0)
    noisy = rgb.astype(np.float32) + rng.normal(0, 3, rgb.shape).astype(np.float32)
    rgb = np.clip(noisy, 0, 255).astype(np.uint8)
    if icc is None:
        cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    else:
        Image.fromarray(rgb).save(path, "JPEG", quality=92, icc_profile=icc)


def make_photo(path: Path, icc: bytes | None = None) -> None:
    """The bench photo: a 4032x3024 JPEG with the demo portrait over about a third of the frame
    (its face about 1.7 px/mm once decoded at half size)."""
    face = cv2.resize(demo_face(1), (2400, 2400), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((3024, 4032, 3), (96, 104, 118), np.uint8)
    canvas[312:2712, 816:3216] = face[:2400]
    _save(canvas, path, icc)


def make_close_photo(path: Path, icc: bytes | None = None) -> None:
    """A 3024x4032 portrait whose face fills most of the frame: the held-out base face (Luis
    Pedro Coelho's portrait, analyzer.samples; never used to tune the pipeline) scaled to the
    frame's width."""
    from analyzer.samples._bases import _luispedro

    face = cv2.resize(_luispedro(), (3024, 3800), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((4032, 3024, 3), (96, 104, 118), np.uint8)
    canvas[:3800] = face
    _save(canvas, path, icc)


PHOTOS = (
    ("bench photo", "IMG_20261105_093012.jpg", make_photo, False),
    ("bench photo, Display P3", "IMG_20261105_093013.jpg", make_photo, True),
    ("face filling the frame", "IMG_20261105_093014.jpg", make_close_photo, False),
    ("face filling the frame, Display P3", "IMG_20261105_093015.jpg", make_close_photo, True),
)
"""(label, file name, maker, with a Display P3 ICC profile as iPhones write)."""


def timed(fn) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of the whole process: OpenCV's and MediaPipe's threads
    included) of one call."""
    c, t = _cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t, _cpu() - c


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--make", metavar="FOLDER", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:
        from tests._images import display_p3_icc

        for _, name, make, p3 in PHOTOS:
            make(Path(args.make) / name, display_p3_icc() if p3 else None)
        return
    with tempfile.TemporaryDirectory() as tmp:
        # Made in a child process so its float buffers do not count in this process's peak RSS.
        subprocess.run([sys.executable, __file__, "--make", tmp], check=True)
        rss_before = _peak_rss_mb()
        rows = []
        for label, name, _, _ in PHOTOS:
            path = Path(tmp) / name
            first = analyze_photo(path)  # warm-up (the first one loads the model)
            if not first.ok:
                sys.exit(f"benchmark photo {label} failed: {first.error}")
            t_an, t_rd = [], []
            for _ in range(args.repeat):  # alternately, so both see the same machine
                t_rd.append(timed(lambda: cv2.imread(str(path))))
                t_an.append(timed(lambda: analyze_photo(path)))
            h, w = cv2.imread(str(path)).shape[:2]
            an, rd = (tuple(statistics.median(x) for x in zip(*t)) for t in (t_an, t_rd))
            rows.append((label, w, h, an, rd))
        steps = {label: _step_times(Path(tmp) / name, args.repeat) for label, name, _, p3 in PHOTOS if not p3}
    peak_mb = _peak_rss_mb()
    print(f"JPEG q92 photos; repeats: {args.repeat}; medians of analyze_photo and of a full cv2.imread")
    print(f"{'photo':36s} {'size':>9s} {'analyze ms':>10s} {'imread ms':>9s} {'ratio':>6s}  "
          "CPU: analyze ms, ratio")
    for label, w, h, an, rd in rows:
        print(f"{label:36s} {w:>4d}x{h:<4d} {an[0] * 1000:10.1f} {rd[0] * 1000:9.1f} {an[0] / rd[0]:6.2f}"
              f"  {an[1] * 1000:.1f}, {an[1] / rd[1]:.2f}")
    print("goal: ratio <= 1.0 (wall clock; CPU time counts every thread, imread uses one)")
    imread = {label: rd[0] for label, _, _, _, rd in rows}
    for label, st in steps.items():
        print(f"steps of the {label} (median ms): " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in st.items()))
        before = sum(st[k] for k in BEFORE_THE_FACE)
        face = sum(st.values()) - before
        print(f"  before the face ({', '.join(BEFORE_THE_FACE)}): {before * 1000:.1f} ms of imread's "
              f"{imread[label] * 1000:.1f}; the face's own steps: {face * 1000:.1f} ms")
    print(
        f"peak RSS: {peak_mb:.0f} MB "
        f"(before the first analysis, with libraries imported: {rss_before:.0f} MB)"
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


STEPS = {
    "load": "load_photo",
    "regions": "locate_regions",
    "light": "light_correction",
    "clipping": "clipping",
    "quality": "assess_quality",
    "measure": "_measure_regions",
    "light reference": "_light_reference",
}
"""Step name -> the function of analyzer.pipeline that does it (timed where the pipeline calls it)."""

BEFORE_THE_FACE = ("load", "landmarks", "light")
"""The steps whose cost hardly depends on the face's size in the photo (the decode, MediaPipe on
its search copy, the chart search and the balance context): what is left of the decode's time
after them is the budget of the face's own steps (docs/performance.md)."""


def _step_times(path: Path, repeat: int) -> dict[str, float]:
    """Median time of each step of the real pipeline (its functions wrapped with a clock where
    :mod:`analyzer.pipeline` calls them, and the landmark detection), and the rest."""
    from analyzer import pipeline
    from analyzer.face.landmarks import Landmarker

    spent: dict[str, float] = {}

    def clocked(step, fn):
        def run(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[step] = spent.get(step, 0.0) + time.perf_counter() - t
        return run

    saved = {name: getattr(pipeline, name) for name in STEPS.values()}
    detect = Landmarker.detect
    times: dict[str, list[float]] = {k: [] for k in ("landmarks", *STEPS, "rest")}
    try:
        for step, name in STEPS.items():
            setattr(pipeline, name, clocked(step, saved[name]))
        Landmarker.detect = clocked("landmarks", detect)
        for _ in range(repeat):
            spent.clear()
            t = time.perf_counter()
            analyze_photo(path)
            total = time.perf_counter() - t
            for k in times:
                times[k].append(spent.get(k, 0.0) if k != "rest" else total - sum(spent.values()))
    finally:
        for name, fn in saved.items():
            setattr(pipeline, name, fn)
        Landmarker.detect = detect
    return {k: statistics.median(v) for k, v in times.items()}


if __name__ == "__main__":
    main()
