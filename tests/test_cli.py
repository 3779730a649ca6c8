"""The command-line contract: ``python -m analyzer analyze PHOTO... [--json] [--overlay DIR]``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from analyzer.cli import main
from analyzer.portrait import demo_face
from tests._images import write_bad_inputs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return demo_face(2)


@pytest.fixture(scope="module")
def good_inputs(tmp_path_factory, face) -> dict[str, Path]:
    """The same face in every format the issue lists as 'analysed correctly'."""
    import pillow_heif

    d = tmp_path_factory.mktemp("good")
    out = {}
    out["upright"] = d / "upright.jpg"
    Image.fromarray(face).save(out["upright"], "JPEG", quality=95)
    # EXIF orientation 6: stored rotated 90 deg counter-clockwise, shown after a clockwise turn.
    exif = Image.Exif()
    exif[0x0112] = 6
    out["exif6"] = d / "rotated6.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(face, 1))).save(out["exif6"], "JPEG", quality=95, exif=exif)
    exif[0x0112] = 8
    out["exif8"] = d / "rotated8.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(face, -1))).save(
        out["exif8"], "JPEG", quality=95, exif=exif
    )
    out["png16"] = d / "sixteen.png"
    Image.fromarray(face).save(out["png16"])  # replaced by a true 16-bit file below
    import cv2

    cv2.imwrite(str(out["png16"]), (face[..., ::-1].astype(np.uint16) * 257))
    out["rgba"] = d / "alpha.png"
    Image.fromarray(np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])).save(out["rgba"])
    out["cmyk"] = d / "cmyk.jpg"
    Image.fromarray(face).convert("CMYK").save(out["cmyk"], "JPEG", quality=95)
    pillow_heif.register_heif_opener()
    out["heic"] = d / "phone.heic"
    Image.fromarray(face).save(out["heic"], "HEIF", quality=90)
    return out


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_every_listed_format_is_analysed_with_consistent_numbers(good_inputs):
    paths = [str(p) for p in good_inputs.values()]
    proc = run_cli("analyze", "--json", *paths)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in rows] == paths
    assert all(r["ok"] for r in rows), [r.get("error") for r in rows]
    assert all((r["width"], r["height"]) == (1024, 1024) for r in rows)
    reference = rows[0]["face"]["redness"]
    for name, r in zip(good_inputs, rows):
        print(f"{name:8s} face.redness {r['face']['redness']:.3f}")
        # Same face, other container: within 0.5 EI (a tenth of the day-1 effect).
        assert r["face"]["redness"] == pytest.approx(reference, abs=0.5), name


def test_bad_inputs_fail_one_by_one_and_the_rest_are_analysed(tmp_path, good_inputs):
    bad = write_bad_inputs(tmp_path)
    names = list(bad)
    paths = [str(bad[n]) for n in names]
    sky = tmp_path / "no_face.png"
    Image.fromarray(np.full((480, 640, 3), (110, 150, 220), np.uint8)).save(sky)
    paths += [str(sky), str(good_inputs["upright"])]
    proc = run_cli("analyze", "--json", *paths)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in rows] == paths
    for r in rows[:-1]:
        print(f"{Path(r['file']).name}: {r.get('error')}")
        assert r["ok"] is False
        assert r["error"].startswith(r["file"]), r["error"]
        assert "\n" not in r["error"]
        assert r["face"] is None and r["regions"] == {}
        assert r["quality"] == {"ok": False, "issues": []}
    assert rows[-2]["error"].endswith("in even light") or "no face" in rows[-2]["error"]
    assert rows[-1]["ok"] is True


def test_usage_errors_exit_2():
    assert run_cli("analyze").returncode == 2
    assert run_cli("frobnicate").returncode == 2


def test_overlay_and_table(tmp_path, good_inputs, capsys):
    out = io.StringIO()
    status = main(["analyze", str(good_inputs["upright"]), "--overlay", str(tmp_path)], stdout=out)
    assert status == 0
    text = out.getvalue()
    assert "left_cheek" in text and "1 of 1 photos analysed." in text
    png = tmp_path / "upright.overlay.png"
    img = np.asarray(Image.open(png))
    assert img.ndim == 3 and img.shape[0] > 500
    assert not Image.open(png).info.get("exif")


def test_missing_model_names_the_exact_command(tmp_path, good_inputs):
    import os

    env = {k: v for k, v in os.environ.items() if k != "ANALYZER_FACE_MODEL"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "empty-cache")
    proc = run_cli("analyze", "--json", str(good_inputs["upright"]), env=env)
    assert proc.returncode == 1
    row = json.loads(proc.stdout)
    assert row["ok"] is False
    assert row["error"].startswith(str(good_inputs["upright"]))
    assert "python -m analyzer fetch-model" in row["error"]
