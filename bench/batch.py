"""Benchmark ``analyzer.service.batch``: 200 photos with 1 and with 2 Dask worker processes.

Run from the repository root::

    .venv/bin/python bench/batch.py [--photos 200] [--workers 1 2]

The photos are the sample photos of ``sample_images/normal`` copied and made distinct (a few
bytes appended after the JPEG end marker, so each has its own SHA-256 and is analysed).  Each
run gets a fresh LocalCluster (processes, one thread each) and a fresh SQLite store; the model
is loaded on every worker before the clock starts, so the figure is the steady throughput of the
whole path (client hashing + worker analysis and stripping + client commits).  Peak memory is
``ru_maxrss`` of each worker process, read with ``client.run``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer.service.access import Actor  # noqa: E402
from analyzer.service.batch import _worker_analyzer, run_batch, worker_peak_rss_mb  # noqa: E402
from analyzer.service.consent import give_consent  # noqa: E402
from analyzer.service.patients import ensure_patient  # noqa: E402
from analyzer.store import open_store  # noqa: E402


def make_photos(dest: Path, n: int) -> list[str]:
    """``n`` distinct photos (different SHA-256) from the sample photos."""
    samples = sorted((ROOT / "sample_images" / "normal").glob("*.jpg"))
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        src = samples[i % len(samples)]
        p = dest / f"{i:04d}_{src.name}"
        p.write_bytes(src.read_bytes() + b"\0" * (1 + i // len(samples)))
        out.append(str(p))
    return out


def _load_model() -> bool:
    _worker_analyzer()
    return True


def run(photos: list[str], workers: int, work: Path) -> dict:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        client.run(_load_model)  # warm: the model is loaded once per worker, before timing
        with open_store(work / f"w{workers}" / "analyzer.db") as store:
            operator = Actor.operator()
            ensure_patient(store, "BENCH", actor=operator)
            give_consent(store, "BENCH", "care", actor=operator)
            t0 = time.perf_counter()
            summary = run_batch(store, photos, patient="BENCH", actor=operator,
                                scheduler=cluster.scheduler_address, progress=False)
            seconds = time.perf_counter() - t0
        peaks = client.run(worker_peak_rss_mb)
    assert summary.ok and len(summary.imported) == len(photos), summary.format()
    return {"workers": workers, "seconds": seconds, "rate": len(photos) / seconds,
            "peak_mb": sorted(peaks.values())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        photos = make_photos(work / "in", args.photos)
        print(f"{len(photos)} photos generated in {time.perf_counter() - t0:.1f} s")
        rows = [run(photos, w, work) for w in args.workers]
    base = rows[0]["rate"]
    print(f"{'workers':>7} {'seconds':>8} {'photos/s':>9} {'speedup':>8}  peak RSS per worker (MiB)")
    for r in rows:
        peaks = ", ".join(f"{m:.0f}" for m in r["peak_mb"])
        print(f"{r['workers']:>7} {r['seconds']:>8.1f} {r['rate']:>9.2f} {r['rate'] / base:>7.2f}x  {peaks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
