"""``python -m analyzer.ui.seed_demo``: what ``./run.sh`` calls before starting the dashboard: the demo
patients with their consents, and the demo accounts with passwords printed once."""

from __future__ import annotations

import re

import pytest

from analyzer.service import users
from analyzer.service.consent import has_open_consent
from analyzer.ui.seed_demo import main
from analyzer.ui.services.common import DEMO_PATIENTS, open_app_store, visible
from analyzer.ui.services.patient import course_view
from tests.ui.conftest import OP


def test_demo_loads_into_an_empty_store_once(tmp_path, capsys):
    db = tmp_path / "a.db"
    assert main(["--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "demo patients loaded: 4 patients, 42 photos" in out
    assert "Sign in with one of these (shown once):" in out
    passwords = dict(re.findall(r"username (\S+) +password (\S+)", out))
    assert sorted(passwords) == ["demo-admin", "demo-patient", "demo-practitioner"]
    with open_app_store(db) as store:
        assert [p.pseudonym for p in visible(store, actor=OP)] == [d.pseudonym for d in DEMO_PATIENTS]
        assert all(p.research_consent for p in visible(store, actor=OP))
        assert all(has_open_consent(store, d.pseudonym, "care") for d in DEMO_PATIENTS)
        # each printed password signs its account in, with the rights the demo promises
        practitioner = users.authenticate(store, "demo-practitioner", passwords["demo-practitioner"])
        assert [p.pseudonym for p in visible(store, actor=practitioner)] == [d.pseudonym for d in DEMO_PATIENTS]
        patient = users.authenticate(store, "demo-patient", passwords["demo-patient"])
        assert (patient.role, patient.patient) == ("patient", "DEMO-1")
        assert users.authenticate(store, "demo-admin", passwords["demo-admin"]).role == "admin"
        assert len(set(passwords.values())) == 3
        with pytest.raises(users.AuthError):
            users.authenticate(store, "demo-admin", passwords["demo-patient"])
        flags = {d.folder: set(course_view(store, d.pseudonym, actor=OP).flags["code"]) for d in DEMO_PATIENTS}
    assert flags["normal"] == set()
    assert "persistent_redness" in flags["persistent_redness"]
    assert "redness_rebound" in flags["redness_rebound"]
    assert "darkening" in flags["darkening"]
    assert main(["--db", str(db)]) == 0  # not loaded twice, no password printed again
    again = capsys.readouterr().out
    assert "already has patients" in again and "password" not in again


def test_demo_on_a_bad_store_is_one_plain_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["--db", str(blocker / "a.db")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
