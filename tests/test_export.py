"""``analyzer.service.export`` and ``python -m analyzer export``: long form, de-identified by default
(keyed pseudonyms per study, quarter days, research consent), identified for the admin only (care
consent), who may export, the export register, schema beside the file, unwritable paths fail first."""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import analyzer.service.export as export_mod
from analyzer.cli import main
from analyzer.recovery.treatment import Treatment as TreatmentSpec
from analyzer.service.access import Actor, PermissionDenied
from analyzer.service.audit import events
from analyzer.service.export import (
    COLUMNS,
    DAYS_STEP,
    ExportError,
    build_observations,
    check_study,
    export_observations,
    export_register,
    exports_holding,
    keyed_pseudonym,
)
from analyzer.service.imports import import_photos
from analyzer.store import add_treatment, open_store, set_consent
from analyzer.store.secrets import secret
from analyzer.vocab import METRICS, REGIONS

NORMAL = Path(__file__).parents[1] / "sample_images" / "normal"
TWO = sorted(NORMAL.glob("*.jpg"))[:2]
BASE = [c["name"] for c in COLUMNS]
PRACTICE = ("PX-01", "PX-02", "PX-03")
NAMES = ("Ann Example", "Bob Example", "Cy Example")

ADMIN = Actor("ada", "admin", user_id=1)
RESEARCHER = Actor("rita", "researcher", user_id=2)
PRACTITIONER = Actor("pam", "practitioner", user_id=3)
PATIENT = Actor("ann", "patient", user_id=4, patient="PX-01")
OP = Actor.operator()


def _import(store, files, patient, name, az):
    """Import with care consent first (photos are never stored without it)."""
    set_consent(store, patient, "care")
    kw = {"actor": OP} if "actor" in inspect.signature(import_photos).parameters else {}
    import_photos(store, files, patient=patient, display_name=name, analyzer=az, **kw)


@pytest.fixture(scope="module")
def db(tmp_path_factory, az):
    """PX-01 (Ann: care + research, treated), PX-02 (Bob: care only, treated later),
    PX-03 (Cy: research, care withdrawn)."""
    path = tmp_path_factory.mktemp("exp") / "analyzer.db"
    with open_store(path) as s:
        _import(s, TWO, "PX-01", NAMES[0], az)
        _import(s, TWO[:1], "PX-02", NAMES[1], az)
        _import(s, TWO[1:], "PX-03", NAMES[2], az)
        add_treatment(s, "PX-01", TreatmentSpec(datetime.fromisoformat("2026-11-02T08:00")))
        add_treatment(s, "PX-02", TreatmentSpec(datetime.fromisoformat("2026-11-05T09:10:02")))
        set_consent(s, "PX-01", "research")
        set_consent(s, "PX-03", "research")
        set_consent(s, "PX-03", "care", withdrawn_at=datetime(2026, 11, 20))
    return path


@pytest.fixture
def store(db, tmp_path):
    """A private copy of the module's store (exports write to its register)."""
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    with open_store(copy) as s:
        yield s


def _k(store, pseudonym, study="default"):
    return keyed_pseudonym(secret(store, f"study:{study}"), pseudonym)


def test_csv_deidentified_long_form(store, tmp_path):
    notes = []
    out = tmp_path / "obs.csv"
    s = export_observations(store, out, actor=RESEARCHER, fmt="csv", log=notes.append)
    assert s.patients == 2 and s.excluded_without_consent == 1
    assert notes == ["note: 1 patient(s) left out: no research consent (record it on the patient's page, "
                     "or with 'import --consent research')"]
    df = pd.read_csv(out)
    assert list(df.columns) == BASE and len(df) == s.rows > 0
    assert set(df["patient"]) == {_k(store, "PX-01"), _k(store, "PX-03")}
    assert set(df["region"]) <= set(REGIONS) and "face" in set(df["region"])
    assert set(df["variable"]) == {m.key for m in METRICS}
    for m in METRICS:
        sub = df[df["variable"] == m.key]
        assert set(sub["method"]) == {m.method} and set(sub["unit"]) == {m.unit}
    ann = df[df["patient"] == _k(store, "PX-01")]
    assert set(ann["photo"]) == {1, 2}
    text = out.read_text()
    for secret_text in ("Ann", "Bob", "Cy ", "2026", ".jpg", "IMG_"):
        assert secret_text not in text


def test_days_are_quarter_days_of_the_identified_ones(store):
    de = build_observations(store, actor=ADMIN).table
    ident = build_observations(store, actor=ADMIN, identified=True).table
    days = de["days_since_treatment"].dropna()
    assert len(days) > 0 and ((days * 4) == (days * 4).round()).all()  # multiples of 0.25, exactly
    # the identified export keeps the precision (4 decimals): Ann's photos, the same order
    full = ident[ident["patient"] == "PX-01"]["days_since_treatment"].to_numpy()
    mine = de[de["patient"] == _k(store, "PX-01")]["days_since_treatment"].to_numpy()
    assert len(full) == len(mine) > 0
    assert list(mine) == [round(d / DAYS_STEP) * DAYS_STEP for d in full]
    assert any(d != round(d * 4) / 4 for d in full)  # the rounding did something
    cols = {c["name"]: c for c in COLUMNS}
    assert "nearest quarter day (0.25) in de-identified" in cols["days_since_treatment"]["description"]


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_researchers_export_has_no_practice_pseudonym_anywhere(store, tmp_path, fmt):
    out = tmp_path / f"obs.{fmt}"
    export_observations(store, out, actor=RESEARCHER, fmt=fmt, study="acne-2026", log=lambda m: None)
    df = {"parquet": pd.read_parquet, "csv": pd.read_csv, "json": pd.read_json}[fmt](out)
    cells = [str(v) for v in df.to_numpy().ravel()] + [str(c) for c in df.columns]
    schema_text = (tmp_path / f"obs.{fmt}.schema.json").read_text()
    for p in PRACTICE:
        assert not any(p in c for c in cells), p
        assert p not in schema_text, p
        if fmt != "parquet":
            assert p not in out.read_text(), p
    for name in NAMES:
        assert not any(name in c for c in cells) and name not in schema_text
    assert set(df["patient"]) == {_k(store, "PX-01", "acne-2026"), _k(store, "PX-03", "acne-2026")}
    assert all(len(p) == 14 and p.startswith("S-") for p in df["patient"])


def test_schema_names_the_study_and_the_deidentification(store, tmp_path):
    out = tmp_path / "obs.json"
    export_observations(store, out, actor=RESEARCHER, fmt="json", study="acne-2026", log=lambda m: None)
    schema = json.loads((tmp_path / "obs.json.schema.json").read_text())
    assert schema["identified"] is False and schema["format"] == "json" and schema["study"] == "acne-2026"
    de = schema["deidentification"]
    assert de["patient"]["method"] == "HMAC-SHA-256" and de["days_since_treatment_step"] == 0.25
    assert [c["name"] for c in schema["columns"]] == BASE
    assert schema["analyzer_version"] and schema["exported_at"].endswith("+00:00")
    assert schema["methods"]["redness"] == {"method": "erythema_index_100log10RG", "unit": "unitless"}
    cols = {c["name"]: c for c in schema["columns"]}
    assert cols["region"]["allowed"] == list(REGIONS) and cols["value"]["type"] == "number"
    assert schema["consent_required"] == "research" and schema["excluded_without_consent"] == 1
    assert schema["rows"] > 0 and schema["patients"] == 2
    rows = json.loads(out.read_text())
    assert set(rows[0]) == set(BASE) and rows[0]["patient"] == _k(store, "PX-01", "acne-2026")


def test_keyed_pseudonym_stable_within_a_study_and_unrelated_across(store):
    a1 = build_observations(store, actor=RESEARCHER, study="study-A").table
    a2 = build_observations(store, actor=ADMIN, study="study-A").table
    b = build_observations(store, actor=RESEARCHER, study="study-B").table
    assert list(a1["patient"]) == list(a2["patient"])  # the same in every export of the study
    ka, kb = sorted(set(a1["patient"])), sorted(set(b["patient"]))
    assert len(ka) == len(kb) == 2 and not set(ka) & set(kb)
    # the key is the store's own, one per study: the HMAC of the practice pseudonym under it
    assert set(ka) == {_k(store, "PX-01", "study-A"), _k(store, "PX-03", "study-A")}
    assert secret(store, "study:study-A") != secret(store, "study:study-B")
    assert keyed_pseudonym(bytes(32), "PX-01") != keyed_pseudonym(bytes(32), "PX-03")


@pytest.mark.parametrize("bad", ["", "a b", "x" * 65, "étude", "../x", "a/b", "ok\n"])
def test_bad_study_name_is_refused_in_words(store, tmp_path, bad):
    msg = (f"study {bad!r}: a study name is 1 to 64 letters, digits, '_', '.' or '-'. "
           "choose a name such as acne-2026")
    with pytest.raises(ExportError) as e:
        build_observations(store, actor=RESEARCHER, study=bad)
    assert str(e.value) == msg
    with pytest.raises(ExportError, match="a study name is 1 to 64"):
        export_observations(store, tmp_path / "x.csv", actor=RESEARCHER, study=bad)
    assert not (tmp_path / "x.csv").exists()


def test_good_study_names_pass():
    for good in ("default", "x" * 64, "acne_2026.v2-B", "7"):
        assert check_study(good) == good


def test_researcher_asking_identified_is_refused_and_audited(store, tmp_path):
    for call in (lambda: build_observations(store, actor=RESEARCHER, identified=True),
                 lambda: export_observations(store, tmp_path / "i.csv", actor=RESEARCHER, identified=True)):
        with pytest.raises(PermissionDenied) as e:
            call()
        assert str(e.value) == ("export.identified: your account may not do this. "
                                "sign in with an account that may, or ask the clinic's admin")
    assert not (tmp_path / "i.csv").exists()
    denied = events(store, ADMIN, who="rita", outcome="denied")
    assert [(d.action, d.role) for d in denied] == [("export.identified", "researcher")] * 2
    assert export_register(store, actor=ADMIN) == []


@pytest.mark.parametrize("actor", [PATIENT, PRACTITIONER], ids=["patient", "practitioner"])
def test_patient_and_practitioner_may_not_export(store, tmp_path, actor):
    for identified in (False, True):
        with pytest.raises(PermissionDenied, match="your account may not do this"):
            build_observations(store, actor=actor, identified=identified)
        with pytest.raises(PermissionDenied):
            export_observations(store, tmp_path / "o.csv", actor=actor, identified=identified)
    assert not (tmp_path / "o.csv").exists()
    denied = events(store, ADMIN, who=actor.login, outcome="denied")
    assert {d.action for d in denied} == {"export.deidentified", "export.identified"} and len(denied) == 4


def test_researcher_cannot_filter_by_a_practice_pseudonym(store, tmp_path):
    with pytest.raises(PermissionDenied) as e:
        build_observations(store, actor=RESEARCHER, patient="PX-01")
    assert str(e.value).startswith("patient PX-01: your account may not do this")
    # the same words whether or not the patient exists
    with pytest.raises(PermissionDenied, match="patient NOBODY: your account may not do this"):
        build_observations(store, actor=RESEARCHER, patient="NOBODY")
    denied = events(store, ADMIN, who="rita", outcome="denied")
    assert {(d.action, d.patient) for d in denied} == {("record.view", "PX-01"), ("record.view", "NOBODY")}
    # an admin (and the command line) may: the practice's pseudonym in, the keyed one out
    obs = build_observations(store, actor=OP, patient="PX-01")
    assert set(obs.table["patient"]) == {_k(store, "PX-01")} and obs.patients == 1


def test_identified_is_admin_only_and_care_consented_only(store, tmp_path):
    out = tmp_path / "obs.parquet"
    notes = []
    s = export_observations(store, out, actor=ADMIN, fmt="parquet", identified=True, log=notes.append)
    assert s.patients == 2 and s.excluded_without_consent == 1  # PX-03 withdrew care consent
    assert notes == ["note: 1 patient(s) left out: no care consent (record it on the patient's page, "
                     "or with 'import --consent care')"]
    df = pd.read_parquet(out)
    assert {"name", "captured_at", "treated_at", "photo_sha256"} <= set(df.columns)
    assert set(df["patient"]) == {"PX-01", "PX-02"} and set(df["name"]) == {"Ann Example", "Bob Example"}
    assert df["captured_at"].str.startswith("2026-11-02").any()
    assert str(df["value"].dtype) in ("Float64", "float64")
    assert str(df["quality_ok"].dtype) in ("boolean", "bool")
    schema = json.loads(Path(str(out) + ".schema.json").read_text())
    assert schema["identified"] is True and schema["consent_required"] == "care"
    assert schema["excluded_without_consent"] == 1
    assert "study" not in schema and "deidentification" not in schema


def test_every_export_is_registered_with_its_patients(store, tmp_path):
    export_observations(store, tmp_path / "a.csv", actor=RESEARCHER, study="s1", log=lambda m: None)
    export_observations(store, tmp_path / "b.json", actor=ADMIN, fmt="json", identified=True,
                        log=lambda m: None)
    export_observations(store, tmp_path / "c.csv", actor=OP, patient="PX-01", log=lambda m: None)
    reg = export_register(store, actor=ADMIN)
    assert len(reg) == 3
    c, b, a = reg  # newest first
    assert (a.actor, a.identified, a.study, a.patients, a.fmt, dict(a.filters)) == (
        "rita", False, "s1", ("PX-01", "PX-03"), "csv", {})
    assert a.rows == len(pd.read_csv(tmp_path / "a.csv")) > 0
    assert (b.actor, b.identified, b.study, b.patients, b.fmt) == (
        "ada", True, None, ("PX-01", "PX-02"), "json")
    assert (c.actor, c.study, c.patients, dict(c.filters)) == (
        OP.login, "default", ("PX-01",), {"patient": "PX-01"})
    assert a.at <= b.at <= c.at
    assert dataclasses.asdict(c)["filters"] == {"patient": "PX-01"}  # plain values (the admin page's table)
    audit = [e for e in events(store, ADMIN, action="export", outcome="ok") if e.action == "export"]
    assert [(e.actor, dict(e.detail)) for e in audit] == [
        (OP.login, {"identified": False, "study": "default", "patients": 1, "rows": c.rows, "fmt": "csv",
                    "filters": {"patient": "PX-01"}}),
        ("ada", {"identified": True, "study": None, "patients": 2, "rows": b.rows, "fmt": "json",
                 "filters": {}}),
        ("rita", {"identified": False, "study": "s1", "patients": 2, "rows": a.rows, "fmt": "csv",
                  "filters": {}}),
    ]
    assert [e.patients for e in exports_holding(store, "PX-02", actor=ADMIN)] == [("PX-01", "PX-02")]
    assert len(exports_holding(store, "PX-01", actor=ADMIN)) == 3
    assert exports_holding(store, "NOBODY", actor=ADMIN) == []


def test_only_an_admin_reads_the_register(store):
    for actor in (RESEARCHER, PRACTITIONER, PATIENT):
        with pytest.raises(PermissionDenied, match="audit.view: your account may not do this"):
            export_register(store, actor=actor)
        with pytest.raises(PermissionDenied):
            exports_holding(store, "PX-01", actor=actor)


def test_withdrawn_research_consent_leaves_the_next_export(store, tmp_path):
    export_observations(store, tmp_path / "before.csv", actor=RESEARCHER, log=lambda m: None)
    assert _k(store, "PX-03") in set(pd.read_csv(tmp_path / "before.csv")["patient"])
    set_consent(store, "PX-03", "research", withdrawn_at=datetime(2026, 11, 21))
    s = export_observations(store, tmp_path / "after.csv", actor=RESEARCHER, log=lambda m: None)
    assert set(pd.read_csv(tmp_path / "after.csv")["patient"]) == {_k(store, "PX-01")}
    assert s.patients == 1 and s.excluded_without_consent == 2
    # whom to tell: the earlier export holds PX-03's rows, the later one does not
    holding = exports_holding(store, "PX-03", actor=ADMIN)
    assert len(holding) == 1 and holding[0].patients == ("PX-01", "PX-03")


def test_an_export_without_rows_registers_no_patients(store, tmp_path):
    s = export_observations(store, tmp_path / "p2.csv", actor=OP, patient="PX-02", log=lambda m: None)
    assert s.rows == 0 and s.patients == 0 and s.excluded_without_consent == 1
    assert list(pd.read_csv(tmp_path / "p2.csv").columns) == BASE
    (entry,) = export_register(store, actor=ADMIN)
    assert entry.patients == () and entry.rows == 0


def test_a_failed_write_leaves_no_file_and_no_register_line(store, tmp_path, monkeypatch):
    real = export_mod.write_atomically

    def second_fails(path, data):
        if str(path).endswith(".schema.json"):
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(export_mod, "write_atomically", second_fails)
    with pytest.raises(ExportError, match="cannot write the export \\(No space left on device\\)"):
        export_observations(store, tmp_path / "o.csv", actor=ADMIN, log=lambda m: None)
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "o.csv.schema.json").exists()
    assert export_register(store, actor=ADMIN) == []
    assert not [e for e in events(store, ADMIN, action="export") if e.action == "export"]


def test_a_keyed_pseudonym_collision_is_refused(store, monkeypatch):
    monkeypatch.setattr(export_mod, "keyed_pseudonym", lambda key, p: "S-000000000000")
    with pytest.raises(ExportError, match="two patients share a keyed pseudonym"):
        build_observations(store, actor=RESEARCHER, study="tiny")


def test_unwritable_path_fails_before_any_work(store, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("work was done")

    monkeypatch.setattr(export_mod, "_rows", boom)
    with pytest.raises(ExportError, match="does not exist"):
        export_observations(store, tmp_path / "missing" / "x.csv", actor=OP)
    with pytest.raises(ExportError, match="is a folder"):
        export_observations(store, tmp_path, actor=OP)
    with pytest.raises(ExportError, match="unknown format"):
        export_observations(store, tmp_path / "x.xlsx", actor=OP, fmt="xlsx")
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(ExportError, match="permission denied"):
                export_observations(store, ro / "x.csv", actor=OP)
        finally:
            ro.chmod(0o700)


def test_cli_export(db, tmp_path, capsys, monkeypatch):
    copy = tmp_path / "cli.db"
    shutil.copy(db, copy)
    out = tmp_path / "o.csv"
    assert main(["export", "--format", "csv", "--out", str(out), "--db", str(copy), "--study", "cli-study"],
                stdout=io.StringIO()) == 0
    assert "1 patient(s) left out" in capsys.readouterr().err
    assert out.exists() and Path(str(out) + ".schema.json").exists()
    with open_store(copy) as s:
        assert set(pd.read_csv(out)["patient"]) == {_k(s, "PX-01", "cli-study"), _k(s, "PX-03", "cli-study")}
        (entry,) = export_register(s, actor=ADMIN)
        assert entry.actor == OP.login and entry.study == "cli-study" and entry.patients == ("PX-01", "PX-03")
    # An unwritable path fails before the store is even opened.
    import analyzer.store.db as dbmod

    monkeypatch.setattr(dbmod, "open_store", lambda *a, **k: pytest.fail("store opened"))
    code = main(["export", "--format", "parquet", "--out", str(tmp_path / "nope" / "o.parquet"),
                 "--db", str(copy)], stdout=io.StringIO())
    assert code == 1 and "does not exist" in capsys.readouterr().err


def test_baseline_before_the_first_treatment_has_negative_days(store, tmp_path):
    export_observations(store, tmp_path / "p2.csv", actor=ADMIN, patient="PX-02", identified=True)
    df = pd.read_csv(tmp_path / "p2.csv")
    assert list(df["days_since_treatment"].unique()) == [pytest.approx(-3.0)]
    assert set(df["treated_at"]) == {"2026-11-05T09:10:02"}


def test_an_unknown_patient_is_a_clear_error_and_nothing_is_written(store, tmp_path):
    out = tmp_path / "nobody.csv"
    with pytest.raises(ExportError, match="there is no patient 'NOBODY'"):
        export_observations(store, out, actor=OP, patient="NOBODY")
    assert not out.exists() and not Path(str(out) + ".schema.json").exists()
    assert export_register(store, actor=ADMIN) == []


def test_the_table_has_the_schema_dtypes_and_is_written_one_way(store, tmp_path):
    from analyzer.service.export import IDENTIFIED_COLUMNS, data_bytes, write_observations

    obs = build_observations(store, actor=ADMIN, identified=True)
    names = [c["name"] for c in COLUMNS + IDENTIFIED_COLUMNS]
    assert list(obs.table.columns) == names and [c["name"] for c in obs.columns] == names
    types = {"string": "string", "integer": "Int64", "number": "Float64", "boolean": "boolean"}
    assert [str(t) for t in obs.table.dtypes] == [types[c["type"]] for c in COLUMNS + IDENTIFIED_COLUMNS]
    assert obs.patients == 2 and obs.excluded_without_consent == 1 and obs.study is None
    de = build_observations(store, actor=ADMIN)
    assert dict(de.sources) == {_k(store, "PX-01"): "PX-01", _k(store, "PX-03"): "PX-03"}
    assert "PX-0" not in repr(de)  # the register's mapping is kept out of the repr
    s = write_observations(store, obs, tmp_path / "o.json", actor=ADMIN, fmt="json")
    assert (tmp_path / "o.json").read_bytes() == data_bytes(obs.table, "json") and s.rows == len(obs.table)
    schema = json.loads(s.schema_path.read_text())
    assert schema["patients"] == 2 and schema["file"] == "o.json" and schema["identified"] is True
    assert len(export_register(store, actor=ADMIN)) == 1
    with pytest.raises(PermissionDenied):  # writing checks the actor too
        write_observations(store, obs, tmp_path / "r.json", actor=RESEARCHER, fmt="json")
    assert not (tmp_path / "r.json").exists()
    with pytest.raises(ExportError, match="unknown format 'xlsx'"):
        data_bytes(obs.table, "xlsx")


def test_allowed_values_come_from_the_vocabulary():
    cols = {c["name"]: c for c in COLUMNS}
    assert cols["variable"]["allowed"] == [m.key for m in METRICS]
    assert set(cols["method"]["allowed"]) == {m.method for m in METRICS}
    assert set(cols["unit"]["allowed"]) == {m.unit for m in METRICS}
    assert cols["region"]["allowed"] == list(REGIONS)


def test_csv_cells_that_a_spreadsheet_would_run_are_written_as_text():
    from analyzer.service.export import data_bytes

    names = ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2+3", "\t=1+1", "\r=1+1", "Ann", None]
    df = pd.DataFrame({"name": names, "value": [-1.5, 2.0, 3.0, -4.0, 0.5, 0.25, 5.0, 6.0]})
    raw = data_bytes(df, "csv")
    back = pd.read_csv(io.BytesIO(raw), keep_default_na=False)
    assert list(back["name"]) == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'@SUM(A1)", "'-2+3", "'\t=1+1",
                                  "'\r=1+1", "Ann", ""]
    assert list(back["value"]) == [-1.5, 2.0, 3.0, -4.0, 0.5, 0.25, 5.0, 6.0]  # numbers stay numbers
    # a carriage return inside a cell is quoted: it cannot start a row a spreadsheet would run
    assert b'"\'\r=1+1"' in raw and b"\r\n=" not in raw and raw.count(b"\r\n") == len(df) + 1
    # Parquet and JSON keep the text as it is (no spreadsheet runs them).
    assert pd.read_parquet(io.BytesIO(data_bytes(df, "parquet")))["name"][0].startswith("=")
