"""``analyzer.service.export`` and ``python -m analyzer export``: long form, de-identified by default,
research consent, identified mode, schema beside the file, unwritable paths fail first."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import analyzer.service.export as export_mod
from analyzer.cli import main
from analyzer.recovery.treatment import Treatment as TreatmentSpec
from analyzer.service.export import COLUMNS, ExportError, export_observations
from analyzer.service.imports import import_photos
from analyzer.store import add_treatment, open_store, set_consent
from analyzer.vocab import METRICS, REGIONS

NORMAL = Path(__file__).parents[1] / "sample_images" / "normal"
TWO = sorted(NORMAL.glob("*.jpg"))[:2]
BASE = [c["name"] for c in COLUMNS]


@pytest.fixture(scope="module")
def db(tmp_path_factory, az):
    """P1 (named, research consent, treated), P2 (no research consent)."""
    path = tmp_path_factory.mktemp("exp") / "analyzer.db"
    with open_store(path) as s:
        import_photos(s, TWO, patient="P1", display_name="Ann Example", analyzer=az)
        import_photos(s, TWO[:1], patient="P2", display_name="Bob Example", analyzer=az)
        add_treatment(s, "P1", TreatmentSpec(datetime.fromisoformat("2026-11-02T08:00")))
        set_consent(s, "P1", "research")
        set_consent(s, "P1", "care")
        set_consent(s, "P2", "care")
        add_treatment(s, "P2", TreatmentSpec(datetime.fromisoformat("2026-11-05T09:10:02")))
    return path


@pytest.fixture
def store(db):
    with open_store(db) as s:
        yield s


def test_csv_deidentified_long_form(store, tmp_path):
    notes = []
    out = tmp_path / "obs.csv"
    s = export_observations(store, out, fmt="csv", log=notes.append)
    assert s.patients == 1 and s.excluded_without_consent == 1
    assert notes and "1 patient(s) left out" in notes[0]
    df = pd.read_csv(out)
    assert list(df.columns) == BASE and len(df) == s.rows > 0
    assert set(df["patient"]) == {"P1"}
    assert set(df["region"]) <= set(REGIONS) and "face" in set(df["region"])
    assert set(df["variable"]) == {m.key for m in METRICS}
    for m in METRICS:
        sub = df[df["variable"] == m.key]
        assert set(sub["method"]) == {m.method} and set(sub["unit"]) == {m.unit}
    assert df["days_since_treatment"].min() == pytest.approx(1 / 24 + 10 / 1440 + 2 / 86400, abs=1e-4)
    text = out.read_text()
    for secret in ("Ann", "Bob", "2026", ".jpg", "IMG_"):
        assert secret not in text
    assert set(df["photo"]) == {1, 2}


def test_schema_beside_the_export(store, tmp_path):
    out = tmp_path / "obs.json"
    export_observations(store, out, fmt="json", log=lambda m: None)
    schema = json.loads((tmp_path / "obs.json.schema.json").read_text())
    assert schema["identified"] is False and schema["format"] == "json"
    assert [c["name"] for c in schema["columns"]] == BASE
    assert schema["analyzer_version"] and schema["exported_at"].endswith("+00:00")
    assert schema["methods"]["redness"] == {"method": "erythema_index_100log10RG", "unit": "unitless"}
    cols = {c["name"]: c for c in schema["columns"]}
    assert cols["region"]["allowed"] == list(REGIONS) and cols["value"]["type"] == "number"
    assert schema["excluded_without_research_consent"] == 1 and schema["rows"] > 0
    rows = json.loads(out.read_text())
    assert set(rows[0]) == set(BASE) and rows[0]["patient"] == "P1"


def test_parquet_identified_has_names_and_dates_and_no_consent_filter(store, tmp_path):
    out = tmp_path / "obs.parquet"
    notes = []
    s = export_observations(store, out, fmt="parquet", identified=True, log=notes.append)
    assert s.patients == 2 and s.excluded_without_consent == 0 and notes == []
    df = pd.read_parquet(out)
    assert {"name", "captured_at", "treated_at", "photo_sha256"} <= set(df.columns)
    assert set(df["name"]) == {"Ann Example", "Bob Example"}
    assert df["captured_at"].str.startswith("2026-11-02").any()
    assert str(df["value"].dtype) in ("Float64", "float64") and str(df["quality_ok"].dtype) in ("boolean", "bool")
    schema = json.loads(Path(str(out) + ".schema.json").read_text())
    assert schema["identified"] is True


def test_patient_filter_and_withdrawn_consent(store, tmp_path):
    s = export_observations(store, tmp_path / "p2.csv", patient="P2", log=lambda m: None)
    assert s.rows == 0 and s.excluded_without_consent == 1
    assert list(pd.read_csv(tmp_path / "p2.csv").columns) == BASE
    s = export_observations(store, tmp_path / "p1.csv", patient="P1", identified=True)
    assert s.patients == 1 and set(pd.read_csv(tmp_path / "p1.csv")["patient"]) == {"P1"}


def test_unwritable_path_fails_before_any_work(store, tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("work was done")

    monkeypatch.setattr(export_mod, "_rows", boom)
    with pytest.raises(ExportError, match="does not exist"):
        export_observations(store, tmp_path / "missing" / "x.csv")
    with pytest.raises(ExportError, match="is a folder"):
        export_observations(store, tmp_path)
    with pytest.raises(ExportError, match="unknown format"):
        export_observations(store, tmp_path / "x.xlsx", fmt="xlsx")
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(ExportError, match="permission denied"):
                export_observations(store, ro / "x.csv")
        finally:
            ro.chmod(0o700)


def test_cli_export(db, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o.csv"
    assert main(["export", "--format", "csv", "--out", str(out), "--db", str(db)], stdout=io.StringIO()) == 0
    assert "1 patient(s) left out" in capsys.readouterr().err
    assert out.exists() and Path(str(out) + ".schema.json").exists()
    # An unwritable path fails before the store is even opened.
    import analyzer.store.db as dbmod

    monkeypatch.setattr(dbmod, "open_store", lambda *a, **k: pytest.fail("store opened"))
    code = main(["export", "--format", "parquet", "--out", str(tmp_path / "nope" / "o.parquet"),
                 "--db", str(db)], stdout=io.StringIO())
    assert code == 1 and "does not exist" in capsys.readouterr().err


def test_baseline_before_the_first_treatment_has_negative_days(store, tmp_path):
    export_observations(store, tmp_path / "p2.csv", patient="P2", identified=True)
    df = pd.read_csv(tmp_path / "p2.csv")
    assert list(df["days_since_treatment"].unique()) == [pytest.approx(-3.0)]
    assert set(df["treated_at"]) == {"2026-11-05T09:10:02"}


def test_an_unknown_patient_is_a_clear_error_and_nothing_is_written(store, tmp_path):
    out = tmp_path / "nobody.csv"
    with pytest.raises(ExportError, match="there is no patient 'NOBODY'"):
        export_observations(store, out, patient="NOBODY")
    assert not out.exists() and not Path(str(out) + ".schema.json").exists()


def test_the_table_has_the_schema_dtypes_and_is_written_one_way(store, tmp_path):
    from analyzer.service.export import IDENTIFIED_COLUMNS, build_observations, data_bytes, write_observations

    obs = build_observations(store, identified=True)
    names = [c["name"] for c in COLUMNS + IDENTIFIED_COLUMNS]
    assert list(obs.table.columns) == names and [c["name"] for c in obs.columns] == names
    types = {"string": "string", "integer": "Int64", "number": "Float64", "boolean": "boolean"}
    assert [str(t) for t in obs.table.dtypes] == [types[c["type"]] for c in COLUMNS + IDENTIFIED_COLUMNS]
    assert obs.patients == 2 and obs.excluded_without_consent == 0
    s = write_observations(obs, tmp_path / "o.json", fmt="json")
    assert (tmp_path / "o.json").read_bytes() == data_bytes(obs.table, "json") and s.rows == len(obs.table)
    schema = json.loads(s.schema_path.read_text())
    assert schema["patients"] == 2 and schema["file"] == "o.json" and schema["identified"] is True
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

    df = pd.DataFrame({"name": ['=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "-2+3", "Ann", None],
                       "value": [-1.5, 2.0, 3.0, -4.0, 5.0, 6.0]})
    text = data_bytes(df, "csv").decode("utf-8").splitlines()
    back = pd.read_csv(io.StringIO("\n".join(text)))
    assert list(back["name"].fillna("")) == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'@SUM(A1)", "'-2+3", "Ann", ""]
    assert list(back["value"]) == [-1.5, 2.0, 3.0, -4.0, 5.0, 6.0]  # numbers stay numbers
    # Parquet and JSON keep the text as it is (no spreadsheet runs them).
    assert pd.read_parquet(io.BytesIO(data_bytes(df, "parquet")))["name"][0].startswith("=")
