"""``analyzer.ui.services.research``: the filtered export (de-identified by default: research consent
only, keyed pseudonyms of the study), its ZIP downloads (each one written to the export
register), who may make which, the data dictionary and the Methods sections, on the four demo
patients built once for the module."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from analyzer import _version
from analyzer.service.access import Actor, PermissionDenied
from analyzer.service.audit import events
from analyzer.service.export import (
    COLUMNS,
    IDENTIFIED_COLUMNS,
    ExportError,
    export_observations,
    export_register,
    keyed_pseudonym,
)
from analyzer.settings import DEFAULT
from analyzer.store.models import Patient
from analyzer.store.records import set_consent
from analyzer.store.secrets import secret
from analyzer.ui.services import research as rs
from analyzer.ui.services.common import DEMO_PATIENTS, open_app_store
from analyzer.vocab import METRIC_KEYS, REGIONS
from tests.ui.conftest import demo_copy

ROOT = Path(__file__).resolve().parents[2]
BASE = [c["name"] for c in COLUMNS]
IDENT = [c["name"] for c in IDENTIFIED_COLUMNS]
DEMO_IDS = {d.pseudonym for d in DEMO_PATIENTS}
DEMO_NAMES = [d.display_name for d in DEMO_PATIENTS]
BAD_PHOTO = ("DEMO-4", 1)
"""The fixture marks this photo (patient, photo number) as failing the quality gate."""
ADMIN = Actor("ada", "admin", user_id=1)
RESEARCHER = Actor("rita", "researcher", user_id=2)


def _keyed(store, pseudonym: str, study: str = "default") -> str:
    return keyed_pseudonym(secret(store, f"study:{study}"), pseudonym)


@pytest.fixture(scope="module")
def store(tmp_path_factory, demo_template):
    """The demo store; DEMO-4's first photo's analysis is set to ``quality_ok = False`` (the
    demo photos all pass, and the quality filter needs one that does not)."""
    s = open_app_store(demo_copy(demo_template, tmp_path_factory.mktemp("research") / "store"))
    with s.sessions.begin() as ses:
        p = ses.scalars(select(Patient).where(Patient.pseudonym == BAD_PHOTO[0])).one()
        first = min((ph for ph in p.photos if ph.analyses), key=lambda ph: ph.captured_at)
        for an in first.analyses:
            an.quality_ok = False
    yield s
    s.close()


@pytest.fixture(scope="module")
def ex(store) -> rs.Observations:
    return rs.load_export(store, actor=RESEARCHER)


@pytest.fixture(scope="module")
def keyed(store) -> dict[str, str]:
    """The demo patients' keyed pseudonyms in the study ``default``."""
    return {p: _keyed(store, p) for p in DEMO_IDS}


def _members(dl: rs.Download) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(dl.data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_deidentified_by_default(store, ex, keyed):
    df = rs.export_table(store, actor=RESEARCHER)
    assert list(df.columns) == BASE == list(ex.table.columns)
    assert not set(IDENT) & set(df.columns)
    assert set(df["patient"]) == set(keyed.values()) and ex.study == "default"
    assert ex.patients == 4 and ex.excluded_without_consent == 0 and ex.identified is False
    assert len(df) == len(ex.table) > 1000
    assert set(df["region"]) == set(REGIONS) and set(df["variable"]) == set(METRIC_KEYS)
    assert [str(t) for t in df.dtypes] == [{"string": "string", "integer": "Int64", "number": "Float64",
                                            "boolean": "boolean"}[c["type"]] for c in COLUMNS]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_download_has_no_names_dates_file_names_or_practice_pseudonyms(store, ex, fmt):
    dl = rs.export_bytes(store, ex.table, fmt, actor=RESEARCHER, source=ex)
    assert dl.file_name == f"observations-deidentified-{fmt}.zip" == rs.download_name(ex, fmt)
    assert dl.mime == "application/zip"
    members = _members(dl)
    for name, data in members.items():
        for display in DEMO_NAMES:
            assert display.encode() not in data, (name, display)
        assert b"DEMO-" not in data, name  # the practice's pseudonyms: not in the rows, schema or dictionary
    data = members[f"observations.{fmt}"]
    assert b"IMG_" not in data and b".jpg" not in data
    assert b"2026-" not in data  # no absolute dates (capture, treatment) in the rows
    if fmt == "parquet":  # compressed: look at the values too
        back = pd.read_parquet(io.BytesIO(data))
        cells = {str(c) for c in back.to_numpy().ravel()}
        assert not cells & set(DEMO_NAMES)
        assert not any(c.startswith(("IMG_", "2026-", "DEMO-")) for c in cells)


def test_identified_export_is_marked_and_named(store):
    ex = rs.load_export(store, actor=ADMIN, identified=True)
    assert list(ex.table.columns) == BASE + IDENT
    assert set(ex.table["name"]) == set(DEMO_NAMES) and set(ex.table["patient"]) == DEMO_IDS
    assert ex.table["captured_at"].str.startswith("2026-11").all()
    dl = rs.export_bytes(store, ex.table, "csv", actor=ADMIN, source=ex)
    assert dl.file_name == "observations-IDENTIFIED-csv.zip"
    schema = json.loads(_members(dl)["observations.csv.schema.json"])
    assert schema["identified"] is True
    assert [c["name"] for c in schema["columns"]] == BASE + IDENT


def test_only_an_admin_gets_the_identified_export(store, ex):
    before = len(events(store, ADMIN, who="rita", outcome="denied"))
    with pytest.raises(PermissionDenied, match="export.identified: your account may not do this"):
        rs.load_export(store, actor=RESEARCHER, identified=True)
    with pytest.raises(PermissionDenied):
        rs.export_table(store, actor=RESEARCHER, identified=True)
    ident = rs.load_export(store, actor=ADMIN, identified=True)
    with pytest.raises(PermissionDenied):  # the download checks the actor again
        rs.export_bytes(store, ident.table, "csv", actor=RESEARCHER, source=ident)
    assert len(events(store, ADMIN, who="rita", outcome="denied")) == before + 3
    for role in ("patient", "practitioner"):
        actor = Actor(f"x-{role}", role, user_id=9, patient="DEMO-1" if role == "patient" else None)
        with pytest.raises(PermissionDenied):
            rs.load_export(store, actor=actor)
        with pytest.raises(PermissionDenied):
            rs.export_bytes(store, ex.table, "csv", actor=actor, source=ex)


def test_each_download_is_registered_with_the_practice_pseudonyms_of_its_rows(store, ex, keyed):
    before = len(export_register(store, actor=ADMIN))
    filters = {"patients": [keyed["DEMO-3"]], "regions": ["face"], "days_since_treatment": None}
    df = rs.filter_rows(ex.table, patients=filters["patients"], regions=filters["regions"])
    rs.export_bytes(store, df, "parquet", actor=RESEARCHER, source=ex, filters=filters)
    reg = export_register(store, actor=ADMIN)
    assert len(reg) == before + 1
    new = reg[0]
    assert (new.actor, new.identified, new.study, new.patients, new.rows, new.fmt) == (
        "rita", False, "default", ("DEMO-3",), len(df), "parquet")
    assert dict(new.filters) == {"patients": [keyed["DEMO-3"]], "regions": ["face"]}
    audit = events(store, ADMIN, who="rita", action="export", outcome="ok", limit=1)[0]
    assert audit.action == "export" and audit.detail["patients"] == 1 and audit.detail["rows"] == len(df)
    # rows of another study's table are not this export's: refused, nothing registered
    other = rs.load_export(store, actor=RESEARCHER, study="other")
    with pytest.raises(ExportError, match="the rows hold patients the export did not include"):
        rs.export_bytes(store, other.table, "csv", actor=RESEARCHER, source=ex)
    assert len(export_register(store, actor=ADMIN)) == before + 1


def test_a_deferred_download_is_registered_only_when_built(store, ex):
    before = len(export_register(store, actor=ADMIN))
    build = rs.deferred_download(store, ex.table, "json", actor=RESEARCHER, source=ex,
                                 filters={"regions": None})
    assert len(export_register(store, actor=ADMIN)) == before  # made, not called: nothing handed out
    data = build()
    members = _members(rs.Download(data, "x.zip", "application/zip"))
    assert len(json.loads(members["observations.json"])) == len(ex.table)
    reg = export_register(store, actor=ADMIN)
    assert len(reg) == before + 1 and reg[0].fmt == "json" and reg[0].patients == tuple(sorted(DEMO_IDS))
    with pytest.raises(ExportError, match="unknown format 'xlsx'"):
        rs.deferred_download(store, ex.table, "xlsx", actor=RESEARCHER, source=ex)
    # rows of another shape are refused when the button is drawn, not when it is clicked
    with pytest.raises(ExportError, match="the rows do not match the schema's columns"):
        rs.deferred_download(store, ex.table.drop(columns=["region"]), "json", actor=RESEARCHER, source=ex)
    assert len(export_register(store, actor=ADMIN)) == before + 1


def test_another_study_has_other_pseudonyms(store, ex, keyed):
    other = rs.load_export(store, actor=RESEARCHER, study="trial.B")
    assert set(other.table["patient"]) == {_keyed(store, p, "trial.B") for p in DEMO_IDS}
    assert not set(other.table["patient"]) & set(keyed.values())
    assert list(other.table.drop(columns="patient").columns) == list(ex.table.drop(columns="patient").columns)
    with pytest.raises(ExportError, match="a study name is 1 to 64 letters"):
        rs.load_export(store, actor=RESEARCHER, study="trial B")


def test_withdrawn_research_consent_leaves_the_export(store, keyed):
    set_consent(store, "DEMO-2", "research", withdrawn_at=datetime(2026, 11, 20, 10, 0))
    try:
        ex = rs.load_export(store, actor=RESEARCHER)
        assert set(ex.table["patient"]) == {keyed[p] for p in DEMO_IDS - {"DEMO-2"}}
        assert ex.patients == 3 and ex.excluded_without_consent == 1
        dl = rs.export_bytes(store, ex.table, "csv", actor=RESEARCHER, source=ex)
        schema = json.loads(_members(dl)["observations.csv.schema.json"])
        assert schema["excluded_without_consent"] == 1 and schema["patients"] == 3
        kept = ("DEMO-1", "DEMO-3", "DEMO-4")
        assert rs.export_options(ex.table).patients == tuple(sorted(keyed[p] for p in kept))
        dl = rs.export_bytes(store, ex.table, "json", actor=RESEARCHER, source=ex)
        assert keyed["DEMO-2"].encode() not in _members(dl)["observations.json"]
        assert export_register(store, actor=ADMIN)[0].patients == ("DEMO-1", "DEMO-3", "DEMO-4")
        # the identified export (care consent) still has everyone
        assert "DEMO-2" in set(rs.export_table(store, actor=ADMIN, identified=True)["patient"])
    finally:
        set_consent(store, "DEMO-2", "research")
    assert keyed["DEMO-2"] in set(rs.load_export(store, actor=RESEARCHER).table["patient"])


def test_options_come_from_the_data(ex, keyed):
    opts = rs.export_options(ex.table)
    assert opts.patients == tuple(sorted(keyed.values()))
    assert opts.regions == REGIONS and opts.variables == METRIC_KEYS
    days = ex.table["days_since_treatment"]
    lo, hi = opts.days
    assert lo == math.floor(days.min()) and hi == math.ceil(days.max())
    assert lo < 0 < hi  # the demo series start with a baseline photo the day before
    assert opts.rows_without_day == 0


def test_filters_regions_variables_patients(ex, keyed):
    t = ex.table
    nose = rs.filter_rows(t, regions=["nose"])
    assert set(nose["region"]) == {"nose"} and len(nose) == (t["region"] == "nose").sum() > 0
    two = rs.filter_rows(t, variables=["redness", "flaking"])
    assert set(two["variable"]) == {"redness", "flaking"}
    assert len(two) == t["variable"].isin(["redness", "flaking"]).sum()
    both = rs.filter_rows(t, patients=[keyed["DEMO-3"]], regions=["face"], variables=["redness"])
    assert set(both["patient"]) == {keyed["DEMO-3"]}
    assert len(both) == both["photo"].nunique() == t[t["patient"] == keyed["DEMO-3"]]["photo"].nunique()
    assert len(rs.filter_rows(t, patients=["DEMO-3"])) == 0  # the practice's pseudonym is not in the table
    assert len(rs.filter_rows(t, patients=[])) == 0
    assert len(rs.filter_rows(t, patients=["NOBODY"])) == 0
    assert list(rs.filter_rows(t).index) == list(range(len(t)))


def test_filter_days_inclusive(ex):
    t = ex.table
    d = rs.filter_rows(t, days=(0, 3))
    assert 0 < len(d) < len(t)
    assert d["days_since_treatment"].between(0, 3).all()
    assert len(d) == t["days_since_treatment"].between(0, 3).sum()
    base = rs.filter_rows(t, days=(-2, -0.5))
    assert len(base) > 0 and (base["days_since_treatment"] < 0).all()
    with pytest.raises(ExportError, match="give the smaller number first"):
        rs.filter_rows(t, days=(3, 0))


def test_filter_quality_ok_only(ex, keyed):
    t = ex.table
    bad = (t["patient"] == keyed[BAD_PHOTO[0]]) & (t["photo"] == BAD_PHOTO[1])
    assert bad.sum() > 0 and not t.loc[bad, "quality_ok"].any()
    ok = rs.filter_rows(t, quality_ok_only=True)
    assert ok["quality_ok"].all() and len(ok) == len(t) - bad.sum()
    assert not ((ok["patient"] == keyed[BAD_PHOTO[0]]) & (ok["photo"] == BAD_PHOTO[1])).any()


def test_unknown_region_or_variable_is_refused_in_words(ex):
    with pytest.raises(ExportError, match="unknown region 'cheek'"):
        rs.filter_rows(ex.table, regions=["cheek"])
    with pytest.raises(ExportError, match="unknown variable 'erythema'"):
        rs.filter_rows(ex.table, variables=["erythema"])


def test_parquet_round_trip_keeps_values_and_types(store, ex):
    df = rs.filter_rows(ex.table, regions=["face", "chin"], quality_ok_only=True)
    dl = rs.export_bytes(store, df, "parquet", actor=RESEARCHER, source=ex)
    back = pd.read_parquet(io.BytesIO(_members(dl)["observations.parquet"]))
    pd.testing.assert_frame_equal(back, df)
    assert str(back["photo"].dtype) == "Int64" and str(back["value"].dtype) == "Float64"
    assert str(back["quality_ok"].dtype) == "boolean"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_unfiltered_file_is_byte_identical_to_the_analyzer_export(store, ex, tmp_path, fmt):
    """The download re-serialises the rows exactly as ``python -m analyzer export`` does."""
    out = tmp_path / f"obs.{fmt}"
    export_observations(store, out, actor=RESEARCHER, fmt=fmt, log=lambda m: None)
    members = _members(rs.export_bytes(store, ex.table, fmt, actor=RESEARCHER, source=ex))
    assert members[f"observations.{fmt}"] == out.read_bytes()
    cli = json.loads((tmp_path / f"obs.{fmt}.schema.json").read_text())
    zipped = json.loads(members[f"observations.{fmt}.schema.json"])
    assert set(zipped) == set(cli) | {"filters"}
    for key in ("columns", "methods", "rows", "patients", "identified", "excluded_without_consent",
                "consent_required", "study", "deidentification", "analyzer_versions_in_data",
                "calibration_methods_in_data"):
        assert zipped[key] == cli[key], key


def test_zip_holds_data_schema_and_dictionary(store, ex):
    filters = {"regions": ["face"], "quality_ok_only": True}
    df = rs.filter_rows(ex.table, regions=["face"], quality_ok_only=True)
    members = _members(rs.export_bytes(store, df, "csv", actor=RESEARCHER, source=ex, filters=filters))
    assert set(members) == {"observations.csv", "observations.csv.schema.json", "data-dictionary.md"}
    assert len(pd.read_csv(io.BytesIO(members["observations.csv"]))) == len(df)
    schema = json.loads(members["observations.csv.schema.json"])
    assert schema["rows"] == len(df) and schema["file"] == "observations.csv" and schema["format"] == "csv"
    assert schema["patients"] == 4 and schema["filters"] == filters and schema["identified"] is False
    assert schema["study"] == "default" and schema["deidentification"]["days_since_treatment_step"] == 0.25
    assert [c["name"] for c in schema["columns"]] == BASE
    assert schema["analyzer_versions_in_data"] == [_version.__version__]
    assert members["data-dictionary.md"].decode() == (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")


def test_export_bytes_refuses_bad_input(store, ex):
    before = len(export_register(store, actor=ADMIN))
    with pytest.raises(ExportError, match="unknown format 'xlsx'"):
        rs.export_bytes(store, ex.table, "xlsx", actor=RESEARCHER, source=ex)
    with pytest.raises(ExportError, match="do not match the schema"):
        rs.export_bytes(store, ex.table.drop(columns=["unit"]), "csv", actor=RESEARCHER, source=ex)
    with pytest.raises(ExportError, match="do not match the schema"):  # identified rows, de-identified source
        rs.export_bytes(store, ex.table.assign(name="x", captured_at=None, treated_at=None, photo_sha256="0"),
                        "csv", actor=RESEARCHER, source=ex)
    assert len(export_register(store, actor=ADMIN)) == before  # nothing handed out, nothing registered


def test_empty_store_exports_no_rows(tmp_path):
    with open_app_store(tmp_path / "empty.db") as s:
        ex = rs.load_export(s, actor=RESEARCHER)
        assert ex.table.empty and list(ex.table.columns) == BASE and ex.patients == 0
        opts = rs.export_options(ex.table)
        assert opts.patients == () and opts.days is None
        members = _members(rs.export_bytes(s, ex.table, "csv", actor=RESEARCHER, source=ex))
        assert members["observations.csv"].decode().strip() == ",".join(BASE)
        assert export_register(s, actor=ADMIN)[0].patients == ()


def test_methods_sections_from_the_docs():
    sections = rs.methods_sections()
    titles = [t for t, _ in sections]
    assert titles == ["How each metric is computed", "How light is corrected", "Quality gate",
                      "Recovery curve and bands", "Validation", "References"]
    text = dict(sections)
    assert "100·log10(mean R / mean G)" in text["How each metric is computed"]
    assert "ColorChecker" in text["How light is corrected"] and "sclera" in text["How light is corrected"]
    assert "E(t) = E0 · 2^(−t/t½)" in text["Recovery curve and bands"]
    assert "Contract keys (never renamed)" not in text["Recovery curve and bands"]  # the CLI section is left out
    assert "### Limits" in text["Recovery curve and bands"]  # level-2 headings become level 3
    assert "Spearman rho" in text["Validation"]
    assert "Tsumura" in text["References"]
    for title, body in sections:
        assert f"analyzer {_version.__version__}" in body
        assert "](#" not in body  # in-page links would point into another tab
        outside_code = "\n".join(line for i, line in enumerate(body.split("```")) if i % 2 == 0)
        assert not any(line.startswith(("# ", "## ")) for line in outside_code.splitlines()), title


def test_noise_figures_are_the_settings():
    card_free, chart = rs.noise_figures()
    assert card_free.value == DEFAULT.redness_noise_sd_card_free_ei
    assert chart.value == DEFAULT.redness_noise_sd_chart_ei
    # docs/recovery.md: smallest real change 1.16 EI card-free, 0.37 EI with a chart
    assert round(card_free.smallest_real_change, 2) == 1.16 and round(chart.smallest_real_change, 2) == 0.37
    assert rs.analyzer_version() == _version.__version__


def test_data_dictionary_markdown_is_the_doc():
    text = rs.data_dictionary_markdown()
    assert text == (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    for col in BASE + IDENT:
        assert f"`{col}`" in text


def test_services_do_not_import_streamlit():
    code = ("import sys, analyzer.ui.services.research, analyzer.ui.services.common; "
            "sys.exit(1 if any(m == 'streamlit' or m.startswith('streamlit.') for m in sys.modules) else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 0, r.stderr
