"""``python -m analyzer series``: the real pipeline once per committed sample course, and the
command line's errors and overrides."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from analyzer.cli import main

SAMPLES = Path(__file__).parents[1] / "sample_images"
TREATED = "2026-11-03T09:00+01:00"


def run(*argv):
    out = io.StringIO()
    code = main(["series", *map(str, argv)], stdout=out)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def course_json():
    cache = {}

    def get(name):
        if name not in cache:
            code, text = run(SAMPLES / name, "--treated-at", TREATED, "--needle-depth", "1.0", "--json")
            assert code == 0
            cache[name] = json.loads(text)
        return cache[name]

    return get


def severities(d, code):
    return {f["severity"] for f in d["flags"] if f["code"] == code}


def test_normal_sample_course_has_no_warning(course_json):
    d = course_json("normal")
    assert [f for f in d["flags"] if f["severity"] in ("warning", "urgent")] == []
    assert len(d["points"]) == 16 and d["baseline"]["photos"] == [str(SAMPLES / "normal/IMG_20261102_091002.jpg")]
    assert d["expected_course"]["peak_source"] == "fitted"
    hours = [p["hours"] for p in d["points"]]
    assert hours == sorted(hours) and hours[0] < 0


def test_persistent_redness_sample(course_json):
    assert severities(course_json("persistent_redness"), "persistent_redness") == {"warning", "urgent"}


def test_redness_rebound_sample(course_json):
    assert severities(course_json("redness_rebound"), "redness_rebound") == {"warning"}


def test_darkening_sample(course_json):
    d = course_json("darkening")
    (f,) = [f for f in d["flags"] if f["code"] == "darkening"]
    assert f["hours"] > 120 and f["severity"] == "warning"


def test_table_form(tmp_path):
    photos = sorted((SAMPLES / "normal").glob("*.jpg"))[:3]
    code, text = run(*photos, "--treated-at", TREATED)
    assert code == 0
    assert "Baseline: redness" in text and "Flags: none" in text and "Aftercare" in text
    assert text.count(".jpg") == 3
    # The verdict comes first: baseline, 3 h and day 1, measured well, nothing due yet.
    assert text.splitlines()[0] == "Verdict: AS EXPECTED. Your recovery looks as expected so far (day 1.0)."
    assert "The course looks as expected" not in text  # the old reassurance without a verdict


def test_usage_errors_exit_2(tmp_path, capsys):
    photo = min((SAMPLES / "normal").glob("*.jpg"))
    assert run(photo, "--treated-at", "next tuesday")[0] == 2
    assert run(photo, "--treated-at", TREATED, "--needle-depth", "5")[0] == 2
    assert run(photo, "--treated-at", TREATED, "--protocol", "nope")[0] == 2
    with pytest.raises(SystemExit) as e:
        run(photo)  # no --treated-at
    assert e.value.code == 2
    bad = tmp_path / "diary.csv"
    bad.write_text("when,symptom,level\n2026-11-04,pain,2\n2026-11-05,pian,3\n")
    capsys.readouterr()
    assert run(photo, "--treated-at", TREATED, "--symptoms", bad)[0] == 2
    err = capsys.readouterr().err
    assert f"{bad}, line 3" in err and "pian" in err


def test_nothing_analysable_exits_1(tmp_path, capsys):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a photo")
    assert run(junk, "--treated-at", TREATED, "--json")[0] == 1
    assert "junk.jpg" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(empty, "--treated-at", TREATED)[0] == 1


def test_broken_photo_skipped_and_missing_time_overridden(tmp_path, capsys):
    src = sorted((SAMPLES / "normal").glob("*.jpg"))
    nodate = tmp_path / "selfie.jpg"
    Image.open(src[2]).save(nodate, quality=90)  # no EXIF, no date in the name
    (tmp_path / "broken.jpg").write_bytes(b"garbage")
    code, text = run(src[0], src[1], tmp_path, src[1], "--treated-at", TREATED, "--json")
    d = json.loads(text)
    assert code == 0 and len(d["points"]) == 2
    skipped = {Path(s["file"]).name: s["reason"] for s in d["skipped"]}
    assert set(skipped) == {"broken.jpg", "selfie.jpg"} and "--date" in skipped["selfie.jpg"]
    assert "selfie.jpg" in capsys.readouterr().err
    code, text = run(src[0], src[1], nodate, "--treated-at", TREATED, "--json",
                     "--date", "selfie.jpg=2026-11-04T09:14+01:00")
    d = json.loads(text)
    assert code == 0 and [round(p["hours"]) for p in d["points"]] == [-24, 3, 24] and d["skipped"] == []


def test_symptom_diary_red_flag_in_table(tmp_path):
    photos = sorted((SAMPLES / "normal").glob("*.jpg"))[:3]
    diary = tmp_path / "diary.csv"
    diary.write_text("when,symptom,level\n2026-11-04T20:00+01:00,pus,1\n")
    code, text = run(*photos, "--treated-at", TREATED, "--symptoms", diary)
    assert code == 0
    assert "[urgent] symptom_urgent" in text and "contact your practitioner" in text
