"""Command line: ``python -m analyzer.samples OUT_DIR [--course NAME|all] [--seed N] [--with-chart]
[--size WxH] [--quality Q] [--face astronaut|hopper|luispedro]``.

Writes ``OUT_DIR/<course>/IMG_*.jpg`` and ``OUT_DIR/<course>/ground_truth.json`` for each course
and prints the folders written.  Exit status 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import AnalyzerError
from . import BASES, COURSES, generate_course


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1440x1920, got {text!r}") from None
    return w, h


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analyzer.samples",
        description="Write synthetic daily selfie series after micro-needling, with ground truth.",
    )
    p.add_argument("out_dir", type=Path, help="output folder; each course goes to OUT_DIR/<course>/")
    p.add_argument(
        "--course", default="all", choices=[*COURSES, "all"], help="course to write (default: all)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--with-chart", action="store_true", help="put a ColorChecker 24 in every photo")
    p.add_argument("--size", type=_size, default=None, help="frame WxH, portrait 3:4 (default 1440x1920)")
    p.add_argument("--quality", type=int, default=88, help="JPEG quality (default 88)")
    p.add_argument("--face", default="astronaut", choices=list(BASES),
                   help="base face (default astronaut; hopper and luispedro are held out)")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = list(COURSES) if args.course == "all" else [args.course]
    for name in names:
        try:
            paths = generate_course(args.out_dir / name, name, seed=args.seed, size=args.size, face=args.face,
                                    with_chart=args.with_chart, quality=args.quality)  # fmt: skip
        except (ValueError, AnalyzerError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{args.out_dir / name}: {len(paths)} photos + ground_truth.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
