"""``python -m ui.seed_demo``: what ``./run.sh`` calls before starting the dashboard."""

from __future__ import annotations

from ui.seed_demo import main
from ui.services.common import DEMO_PATIENTS, all_patients, open_app_store
from ui.services.patient import course_view


def test_demo_loads_into_an_empty_store_once(tmp_path, capsys):
    db = tmp_path / "a.db"
    assert main(["--db", str(db)]) == 0
    assert "demo patients loaded: 4 patients, 42 photos" in capsys.readouterr().out
    with open_app_store(db) as store:
        assert [p.pseudonym for p in all_patients(store)] == [d.pseudonym for d in DEMO_PATIENTS]
        assert all(p.research_consent for p in all_patients(store))
        flags = {d.folder: set(course_view(store, d.pseudonym).flags["code"]) for d in DEMO_PATIENTS}
    assert flags["normal"] == set()
    assert "persistent_redness" in flags["persistent_redness"]
    assert "redness_rebound" in flags["redness_rebound"]
    assert "darkening" in flags["darkening"]
    assert main(["--db", str(db)]) == 0  # not loaded twice
    assert "already has patients" in capsys.readouterr().out


def test_demo_on_a_bad_store_is_one_plain_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["--db", str(blocker / "a.db")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
