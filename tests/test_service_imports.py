"""The import use case step by step (plan, analyse, commit) and the analyzer opened one way."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

import analyzer._version
from analyzer.errors import ModelMissing
from analyzer.intake import stored_copy
from analyzer.pipeline import close_shared_analyzers, shared_analyzer
from analyzer.service import analyzers
from analyzer.service.access import Actor
from analyzer.service.analyzers import LazyAnalyzer, analyse_safely
from analyzer.service.imports import (
    AnalysedPhoto,
    ImportTask,
    analyse_photo,
    commit,
    import_photos,
    plan_import,
)
from analyzer.store import open_store, sha256_of
from analyzer.store.models import ImportFailure, Observation, Photo
from analyzer.vocab import METRICS, REGIONS

OP = Actor.operator()

NORMAL = Path(__file__).parents[1] / "sample_images" / "normal"
TWO = sorted(NORMAL.glob("*.jpg"))[:2]


@pytest.fixture
def store(tmp_path, consented):
    with open_store(tmp_path / "db" / "analyzer.db") as s:
        consented(s, "P1")
        yield s


@pytest.fixture
def no_model(monkeypatch):
    """Opening the model fails (as without ``fetch-model``); counts the attempts."""
    calls = []

    def refuse(settings=None):
        calls.append(settings)
        raise ModelMissing("face_landmarker.task", "the face landmark model is not installed",
                           "run: python -m analyzer fetch-model")

    monkeypatch.setattr(analyzers, "open_analyzer", refuse)
    return calls


def test_observations_carry_the_method_and_unit_of_the_vocabulary(store, az):
    assert import_photos(store, TWO[:1], patient="P1", actor=OP, analyzer=az).ok
    with store.sessions() as s:
        rows = s.scalars(select(Observation)).all()
    want = {m.key: (m.method, m.unit) for m in METRICS}
    assert {r.variable for r in rows} == set(want)
    assert all((r.method, r.unit) == want[r.variable] for r in rows)
    assert "face" in {r.region for r in rows} and {r.region for r in rows} <= set(REGIONS)
    # e.g. the default texture scale, 1 mm, is in the texture method's name
    assert want["texture"] == ("highpass_lnY_sigma1mm", "percent")


def test_a_rerun_over_stored_photos_never_loads_the_model(store, az, no_model):
    first = import_photos(store, TWO, patient="P1", actor=OP, analyzer=az)
    assert len(first.imported) == 2
    again = import_photos(store, TWO, patient="P1", actor=OP)  # no analyzer given: opened only if needed
    assert again.ok and again.unchanged == tuple(str(p) for p in TWO)
    assert no_model == []


def test_a_missing_model_fails_every_new_photo_with_one_reason_and_one_attempt(store, no_model):
    s = import_photos(store, TWO, patient="P1", actor=OP)
    assert [src for src, _ in s.failed] == [str(p) for p in TWO]
    assert all("not analysed: face_landmarker.task: the face landmark model is not installed" in r
               for _, r in s.failed)
    assert len(no_model) == 1  # the model was tried once, not once per photo
    with store.sessions() as ses:
        assert len(ses.scalars(select(ImportFailure)).all()) == 2


def test_plan_import_sorts_out_every_photo_before_any_analysis(store, az, tmp_path):
    import_photos(store, TWO[:1], patient="P1", actor=OP, analyzer=az)
    lost = next(store.photo_dir.iterdir())
    lost.unlink()
    twin = tmp_path / "same_bytes_other_name.jpg"
    shutil.copy(TWO[1], twin)
    missing = tmp_path / "gone.jpg"
    version = analyzer._version.__version__

    plan = plan_import(store, [TWO[1], twin, TWO[0], missing], "P1", version)

    assert plan.tasks == (ImportTask(str(TWO[1]), sha256_of(TWO[1].read_bytes()), "new"),)
    assert [(o.source, o.status) for o in plan.done] == [
        (str(twin), "unchanged"),  # the same photo under a second name: analysed once
        (str(TWO[0]), "unchanged"),
        (str(missing), "failed"),
    ]
    assert lost.is_file()  # the lost stored copy of the unchanged photo was written again
    assert "cannot read the file" in plan.done[2].reason
    with store.sessions() as s:
        (fail,) = s.scalars(select(ImportFailure)).all()
        assert fail.source == str(missing) and fail.sha256 is None
        assert len(s.scalars(select(Photo)).all()) == 1  # planning stores nothing new


def test_a_stale_photo_is_planned_for_reanalysis(store, az):
    import_photos(store, TWO[:1], patient="P1", actor=OP, analyzer=az)
    plan = plan_import(store, TWO[:1], "P1", "99.0.0")
    assert [t.status for t in plan.tasks] == ["stale"] and plan.done == ()


def test_analyse_photo_gives_the_stored_copy_of_the_measured_pixels(az):
    data = TWO[0].read_bytes()
    out = analyse_photo(data, "in/" + TWO[0].name, az)
    assert out.error is None and out.result.ok and out.result.file == TWO[0].name
    assert out.stored == stored_copy(data, name=TWO[0].name, settings=az.settings)

    bad = analyse_photo(b"\xff\xd8\xff\xe0 not a jpeg", "in/broken.jpg", az)
    assert bad.stored is None and not bad.result.ok
    assert bad.error.startswith("in/broken.jpg: ") and "broken.jpg: broken.jpg" not in bad.error


def test_commit_records_why_a_photo_cannot_be_stored(store):
    task = ImportTask("x.jpg", "ab" * 32, "new")
    out = commit(store, "P1", task, AnalysedPhoto(None, None, "x.jpg: the file changed during the batch"), "1.0")
    assert out.status == "failed" and out.reason == "x.jpg: the file changed during the batch"
    with store.sessions() as s:
        (fail,) = s.scalars(select(ImportFailure)).all()
        assert (fail.source, fail.sha256, fail.analyzer_version) == ("x.jpg", "ab" * 32, "1.0")
    assert list(store.photo_dir.iterdir()) == []


def test_lazy_analyzer_opens_on_the_first_photo_and_closes(az, monkeypatch):
    opened = []

    def fake_open(settings=None):
        opened.append(settings)
        return az

    monkeypatch.setattr(analyzers, "open_analyzer", fake_open)
    closed = []
    monkeypatch.setattr(az, "close", lambda: closed.append(True))
    with LazyAnalyzer() as lazy:
        assert not lazy.opened and opened == []
        r = analyse_safely(lazy, TWO[0].read_bytes(), name="a.jpg")
        analyse_safely(lazy, TWO[1].read_bytes(), name="b.jpg")
        assert r.ok and r.file == "a.jpg" and len(opened) == 1
    assert closed == [True]
    given = LazyAnalyzer(az)
    given.close()
    assert closed == [True]  # a given analyzer is left open


def test_analyse_safely_turns_a_bug_into_a_failed_result():
    class Broken:
        def analyze(self, source, **kw):
            raise ZeroDivisionError("boom")

    r = analyse_safely(Broken(), b"...", name="p.jpg")
    assert not r.ok and r.error == ("p.jpg: internal error (ZeroDivisionError: boom); "
                                    "please report it with this photo")


def test_shared_analyzer_is_one_per_process_until_closed():
    a = shared_analyzer()
    assert shared_analyzer() is a and a.landmarker is not None
    close_shared_analyzers()
    with pytest.raises(RuntimeError):
        a.landmarker  # closed
    b = shared_analyzer()
    assert b is not a and b.landmarker is not None


@pytest.fixture
def decodes(monkeypatch) -> list:
    """The names of the photos decoded from now on (by the analysis, the stored copy and the
    mirror check); ``monkeypatch.undo()`` stops counting."""
    import analyzer.intake.stored as stored_mod
    import analyzer.pipeline as pipeline_mod
    import analyzer.service.imports as imports_mod
    from analyzer.intake import load_photo

    loads = []

    def counting(*a, **kw):
        loads.append(kw.get("name"))
        return load_photo(*a, **kw)

    for mod in (pipeline_mod, stored_mod, imports_mod):
        monkeypatch.setattr(mod, "load_photo", counting)
    return loads


def test_analyse_decodes_the_photo_once_and_stores_the_measured_pixels(az, monkeypatch, decodes):
    loads = decodes
    data = TWO[0].read_bytes()
    out = analyse_photo(data, "a.jpg", az)
    assert out.error is None and out.result.ok
    assert loads == ["a.jpg"]  # the analysis's decode; the copy reuses its pixels
    monkeypatch.undo()
    assert out.stored == stored_copy(data, name="a.jpg")  # the same bytes a second decode would give


# --- mirrored selfies (analyzer.face.mirror) ----------------------------------------------------------

DAYS = sorted(NORMAL.glob("*.jpg"))


def _mirrored_copy(path: Path, out: Path) -> Path:
    """The photo saved mirrored, as a front camera does: JPEG q95 with its EXIF (capture time)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        ImageOps.mirror(im).save(out, "JPEG", quality=95, exif=im.info.get("exif", b""))
    return out


def _codes(result) -> dict[str, bool]:
    return {i.code: i.blocking for i in result.quality.issues}


def test_a_mirrored_selfie_is_flipped_back_noted_and_keeps_its_cheeks(store, az, tmp_path, monkeypatch):
    from analyzer.intake import load_photo
    from analyzer.store.query import stored_results

    day = DAYS[3]
    selfie = _mirrored_copy(day, tmp_path / "selfie.jpg")
    s = import_photos(store, [DAYS[0], selfie, DAYS[4]], patient="P1", actor=OP, analyzer=az)
    assert s.ok and len(s.imported) == 3
    by_name = {p.original_name: p for p in stored_results(store, "P1")}
    straight = az.analyze(day.read_bytes(), name=day.name)  # the same photo the right way round
    left, right = (straight.regions[k].redness for k in ("left_cheek", "right_cheek"))
    assert abs(left - right) > 1.0  # the cheeks differ, so a swap would show
    got = by_name["selfie.jpg"].result
    assert got.regions["left_cheek"].redness == pytest.approx(left, abs=0.3)  # JPEG re-encoding
    assert got.regions["right_cheek"].redness == pytest.approx(right, abs=0.3)
    assert _codes(got)["mirrored"] is False and got.quality.ok
    note = next(i for i in got.quality.issues if i.code == "mirrored")
    assert note.message == ("This photo was saved mirrored (as the front camera shows it); it was flipped "
                            "back so that your left and right cheeks keep their meaning.")
    assert "mirrored" not in _codes(by_name[DAYS[0].name].result)  # the baseline
    assert "mirrored" not in _codes(by_name[DAYS[4].name].result)  # a photo the right way round
    # the stored copy is the right way round
    kept = load_photo(store.data_dir / by_name["selfie.jpg"].stored_path).pixels.astype(int)
    original = load_photo(day).pixels.astype(int)
    assert np.abs(kept - original).mean() < 2 < np.abs(kept - original[:, ::-1]).mean()

    # analysed again by another version: the same answer from the same check
    monkeypatch.setattr(analyzer._version, "__version__", "99.0.0")
    again = import_photos(store, [DAYS[0], selfie], patient="P1", actor=OP, analyzer=az)
    assert again.ok and len(again.reanalysed) == 2
    redo = {p.original_name: p.result for p in stored_results(store, "P1")}["selfie.jpg"]
    assert "mirrored" in _codes(redo)
    assert redo.regions["left_cheek"].redness == pytest.approx(got.regions["left_cheek"].redness, abs=1e-6)


def test_the_upload_checks_the_baseline_and_decodes_a_mirrored_photo_once(store, az, tmp_path, decodes):
    from analyzer.service.imports import baseline_copy, baseline_signature, import_photo_bytes

    assert baseline_copy(store, "P1") is None and baseline_signature(None, az) is None
    import_photos(store, [DAYS[1], DAYS[0]], patient="P1", actor=OP, analyzer=az)
    base = baseline_copy(store, "P1")
    from analyzer.store.photos import stored_name

    earliest = stored_name(store, sha256_of(DAYS[0].read_bytes()))
    assert base is not None and base == store.data_dir / earliest  # the earliest photo
    data = _mirrored_copy(DAYS[5], tmp_path / "m.jpg").read_bytes()
    out = import_photo_bytes(store, "P1", "m.jpg", data, az, actor=OP)
    assert out.status == "imported" and "mirrored" in _codes(out.result)

    sig = baseline_signature(base, az)
    decodes.clear()
    checked = analyse_photo(data, "in/m.jpg", az, baseline=sig)
    assert decodes == ["m.jpg"]  # decoded once, for the check, then flipped back and measured
    assert checked.mirror.mirrored and checked.mirror.score > 2 * checked.mirror.margin
    assert checked.stored is not None and "mirrored" in _codes(checked.result)
    straight = analyse_photo(DAYS[5].read_bytes(), "in/d.jpg", az, baseline=sig)
    assert not straight.mirror.mirrored and "mirrored" not in _codes(straight.result)
    bad = analyse_photo(b"\xff\xd8\xff\xe0 not a jpeg", "in/broken.jpg", az, baseline=sig)
    assert bad.mirror is None and bad.stored is None and bad.error.startswith("in/broken.jpg: ")


def test_the_batch_flips_a_mirrored_selfie_back_against_its_first_photo(store, tmp_path):
    from analyzer.service.batch import run_batch
    from analyzer.store.query import stored_results

    selfie = _mirrored_copy(DAYS[3], tmp_path / "selfie.jpg")
    s = run_batch(store, [DAYS[0], selfie], patient="P1", actor=OP, workers=1, progress=False)
    assert s.ok and len(s.imported) == 2
    codes = {p.original_name: _codes(p.result) for p in stored_results(store, "P1")}
    assert "mirrored" in codes["selfie.jpg"] and "mirrored" not in codes[DAYS[0].name]
