"""``analyzer.store.import_photos`` and ``python -m analyzer import``: idempotent, re-analysis
on a new analyzer version, failures recorded, crash-safe, stored copies without metadata."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

import analyzer._version
from analyzer.cli import main
from analyzer.service import imports
from analyzer.service.access import Actor
from analyzer.service.imports import import_photos
from analyzer.store import open_store, photos
from analyzer.store.models import Analysis, ImportFailure, Observation, Patient, Photo

OP = Actor.operator()

NORMAL = Path(__file__).parents[1] / "sample_images" / "normal"
THREE = sorted(NORMAL.glob("*.jpg"))[:3]


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for p in THREE:
        shutil.copy(p, d / p.name)
    return d


@pytest.fixture
def store(tmp_path, consented):
    with open_store(tmp_path / "db" / "analyzer.db") as s:
        consented(s, "P1")
        yield s


def count(store, model, *where):
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def files(folder):
    return sorted(folder.iterdir())


def test_import_twice_makes_no_duplicates_and_no_second_analysis(store, folder, az):
    first = import_photos(store, files(folder), patient="P1", actor=OP, display_name="Ann", analyzer=az)
    assert len(first.imported) == 3 and first.ok
    second = import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    assert second.imported == () and second.reanalysed == () and len(second.unchanged) == 3
    assert count(store, Photo) == 3 and count(store, Analysis) == 3 and count(store, Patient) == 1
    assert count(store, Observation) > 3 * 6
    stored = sorted(p.name for p in store.photo_dir.iterdir())
    with store.sessions() as s:
        rows = s.scalars(select(Photo)).all()
        assert sorted(Path(r.stored_path).name for r in rows) == stored
        assert all(r.captured_at is not None for r in rows)
        an = s.scalars(select(Analysis)).first()
        assert an.analyzer_version == analyzer._version.__version__ and an.calibration_method
        regions = {o.region for o in an.observations}
        assert "face" in regions and "forehead" in regions


def test_the_same_bytes_under_another_name_are_not_a_second_photo(store, folder, az):
    import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    copy = folder / "copy.jpg"
    shutil.copy(THREE[0], copy)
    s = import_photos(store, [copy], patient="P1", actor=OP, analyzer=az)
    assert s.unchanged == (str(copy),) and count(store, Photo) == 3


def test_new_analyzer_version_reanalyses(store, folder, az, monkeypatch):
    import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    monkeypatch.setattr(analyzer._version, "__version__", "99.0.0")
    s = import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    assert len(s.reanalysed) == 3 and s.imported == ()
    assert count(store, Photo) == 3 and count(store, Analysis) == 6
    assert count(store, Analysis, Analysis.analyzer_version == "99.0.0") == 3
    again = import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    assert len(again.unchanged) == 3 and count(store, Analysis) == 6


def test_broken_file_is_recorded_and_the_others_imported(store, folder, az):
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    s = import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    assert len(s.imported) == 3 and not s.ok
    assert len(s.failed) == 1 and "broken.jpg" in s.failed[0][0]
    assert "FAILED" in s.format() and "broken.jpg" in s.format()
    with store.sessions() as ses:
        fail = ses.scalars(select(ImportFailure)).one()
        assert fail.source.endswith("broken.jpg") and fail.reason and fail.sha256
    assert count(store, Photo) == 3
    again = import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    assert len(again.failed) == 1 and len(again.unchanged) == 3
    assert count(store, ImportFailure) == 1  # the same photo failing again is listed once
    (folder / "gone.jpg").symlink_to(folder / "nowhere.jpg")  # unreadable: recorded by path
    for _ in range(2):
        import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    assert count(store, ImportFailure) == 2


def test_crash_after_file_write_before_commit_then_rerun(store, folder, az, monkeypatch):
    class Crash(RuntimeError):
        pass

    def crash(result):  # inside the transaction, after the stored file and the photo row
        raise Crash(result.file)

    monkeypatch.setattr(photos, "observation_rows", crash)
    with pytest.raises(Crash):
        import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    orphans = list(store.photo_dir.iterdir())
    assert len(orphans) == 1 and count(store, Photo) == 0 and count(store, Analysis) == 0
    inode = orphans[0].stat().st_ino
    monkeypatch.undo()

    s = import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    assert len(s.imported) == 3 and s.ok
    assert count(store, Photo) == 3 and count(store, Analysis) == 3
    assert len(list(store.photo_dir.iterdir())) == 3
    assert orphans[0].stat().st_ino == inode  # the orphan was reused, not rewritten
    assert not list(store.photo_dir.glob(".tmp-*"))


def test_stored_copy_has_no_exif_gps_or_icc(store, tmp_path, az, consented):
    from PIL import ImageCms

    im = Image.open(THREE[0])
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x9003] = "2026:11:02 09:10:02"  # DateTimeOriginal lives in the Exif IFD in real files
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 0.0)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 0.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "gps.jpg"
    im.save(src, exif=exif, icc_profile=icc, quality=92)
    check = Image.open(src)
    assert check.getexif().get_ifd(0x8825) and "icc_profile" in check.info

    consented(store, "P9")
    s = import_photos(store, [src], patient="P9", actor=OP, analyzer=az)
    assert s.ok, s.failed
    stored = list(store.photo_dir.iterdir())
    assert len(stored) == 1
    with Image.open(stored[0]) as out:
        assert dict(out.getexif()) == {}
        assert "exif" not in out.info and "icc_profile" not in out.info
        assert out.size == im.size and out.mode == "RGB"
    data = stored[0].read_bytes()
    assert b"Exif" not in data and b"PhoneMaker" not in data


def test_cli_import_exit_codes_and_treatment(tmp_path, folder, monkeypatch):
    db = tmp_path / "cli.db"
    out = io.StringIO()
    code = main(["import", str(folder), "--patient", "P2", "--name", "Bea",
                 "--treated-at", "2026-11-03T09:00+01:00", "--needle-depth", "1.5",
                 "--consent", "care", "--consent", "research", "--db", str(db)], stdout=out)
    assert code == 0 and "imported 3" in out.getvalue()
    (folder / "bad.png").write_bytes(b"nope")
    out = io.StringIO()
    assert main(["import", str(folder), "--patient", "P2", "--db", str(db)], stdout=out) == 1
    assert "unchanged 3" in out.getvalue() and "failed 1" in out.getvalue()
    with open_store(db) as store, store.sessions() as s:
        p = s.scalars(select(Patient)).one()
        assert p.display_name == "Bea" and len(p.treatments) == 1
        assert p.treatments[0].needle_depth_mm == 1.5 and p.treatments[0].utc_offset_min == 60
        assert [c.kind for c in p.consents] == ["care", "research"]


def test_cli_import_takes_heif_photos_from_a_folder(tmp_path, capsys):
    """A folder of .heif photos (iPhone exports) is imported, not silently skipped."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    d = tmp_path / "phone"
    d.mkdir()
    with Image.open(THREE[0]) as im:
        im.save(d / "IMG_0001.heif", format="HEIF", quality=90, exif=im.info.get("exif"))
    (d / "notes.txt").write_text("not a photo")
    db = tmp_path / "heif.db"
    assert main(["import", str(d), "--patient", "P5", "--consent", "care", "--db", str(db)]) == 0
    assert "imported 1, re-analysed 0, unchanged 0, failed 0" in capsys.readouterr().out
    with open_store(db) as store, store.sessions() as s:
        (photo,) = s.scalars(select(Photo)).all()
        assert photo.original_name == "IMG_0001.heif" and photo.captured_at is not None
        assert (store.data_dir / photo.stored_path).is_file()


def test_cli_import_usage_errors(tmp_path, folder, capsys):
    db = str(tmp_path / "u.db")
    assert main(["import", str(folder), "--patient", "P2", "--needle-depth", "1", "--db", db]) == 2
    assert main(["import", str(folder), "--patient", "P2", "--treated-at", "yesterday", "--db", db]) == 2
    assert main(["import", str(folder), "--patient", "P2", "--treated-at", "2026-11-03T09:00",
                 "--needle-depth", "9", "--db", db]) == 2
    assert main(["import", str(folder), "--patient", "Ann Smith", "--db", db]) == 1
    assert "pseudonym" in capsys.readouterr().err


def test_concurrent_duplicate_counts_as_unchanged(store, folder, az, monkeypatch):
    # Another process commits the same photo between our check and our commit.
    import_photos(store, files(folder)[:1], patient="P1", actor=OP, analyzer=az)
    monkeypatch.setattr(imports, "photo_status", lambda *a: "new")
    s = import_photos(store, files(folder)[:1], patient="P1", actor=OP, analyzer=az)
    assert s.unchanged == (str(files(folder)[0]),) and s.ok
    assert count(store, Photo) == 1 and count(store, Analysis) == 1


def test_lost_stored_copy_is_written_again(store, folder, az):
    import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    lost = min(store.photo_dir.iterdir())
    lost.unlink()
    s = import_photos(store, files(folder), patient="P1", actor=OP, analyzer=az)
    assert len(s.unchanged) == 3 and lost.exists() and count(store, Analysis) == 3


def test_a_database_locked_by_another_process_is_waited_for_not_corrupted(store, folder, az):
    """Another connection holds the write lock for 1.5 s: the import waits (busy timeout) and
    then commits; the database passes SQLite's integrity check."""
    import sqlite3
    import threading
    import time

    import_photos(store, files(folder)[:1], patient="P1", actor=OP, analyzer=az)  # the schema and a first row
    other = sqlite3.connect(store.engine.url.database, check_same_thread=False, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock, as another process would hold it
    released = threading.Event()

    def release_later():
        time.sleep(1.5)
        other.execute("COMMIT")
        released.set()

    threading.Thread(target=release_later, daemon=True).start()
    t0 = time.monotonic()
    summary = import_photos(store, files(folder)[1:2], patient="P1", actor=OP, analyzer=az)
    waited = time.monotonic() - t0
    other.close()
    assert released.is_set() and waited >= 1.0, waited
    assert len(summary.imported) == 1 and summary.ok
    assert count(store, Photo) == 2
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
