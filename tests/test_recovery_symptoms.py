"""The symptom diary CSV."""

from __future__ import annotations

import pytest

from analyzer.recovery.symptoms import read_symptoms
from analyzer.recovery.treatment import RecoveryError


def write(tmp_path, text):
    f = tmp_path / "diary.csv"
    f.write_text(text, encoding="utf-8")
    return f


def test_reads_rows_dates_and_levels(tmp_path):
    f = write(tmp_path, "when,symptom,level,note\n2026-11-04T20:00+01:00,Pain,3,x\n\n2026-11-05,itching,\n")
    rows = read_symptoms(f)
    assert [(e.symptom, e.level) for e in rows] == [("pain", 3), ("itching", 1)]
    assert rows[1].when.hour == 12


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("when,symptom,level\n2026-11-04,pain,3\nyesterday,pain,2\n", 3, "not a date"),
        ("when,symptom,level\n2026-11-04,headache,3\n", 2, "not a known symptom"),
        ("when,symptom,level\n2026-11-04,pain,3\n2026-11-05,pain,lots\n", 3, "0 to 10"),
        ("when,symptom,level\n2026-11-04,pain,11\n", 2, "0 to 10"),
        ("when,symptom,level\n2026-11-04\n", 2, "too few columns"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path, text, line, words):
    f = write(tmp_path, text)
    with pytest.raises(RecoveryError) as e:
        read_symptoms(f)
    assert f"{f}, line {line}" in e.value.message and words in e.value.message


def test_missing_column_and_missing_file(tmp_path):
    with pytest.raises(RecoveryError, match="no 'symptom' column"):
        read_symptoms(write(tmp_path, "when,what\n2026-11-04,pain\n"))
    with pytest.raises(RecoveryError, match="cannot be read"):
        read_symptoms(tmp_path / "none.csv")
    with pytest.raises(RecoveryError, match="is empty"):
        read_symptoms(write(tmp_path, ""))
