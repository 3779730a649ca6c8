"""A symptom diary read from CSV.

Format (one symptom per row, header required, extra columns ignored)::

    when,symptom,level
    2026-11-04T20:00+01:00,pain,3
    2026-11-05,itching,1

``when`` is an ISO 8601 date or date-time (a date alone means noon of that day); ``symptom`` one
of :data:`SYMPTOMS`; ``level`` an integer 0-10 (0 = none; empty means 1 = present).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from .treatment import RecoveryError

__all__ = ["SYMPTOMS", "SymptomEntry", "read_symptoms"]

SYMPTOMS = ("pain", "warmth", "swelling", "pus", "itching", "redness")
"""Symptoms the diary understands (the seed's red flags plus itching and felt redness)."""


@dataclass(frozen=True)
class SymptomEntry:
    """One diary row: when, which symptom, and its level 0-10 (0 = none)."""

    when: datetime
    symptom: str
    level: int = 1


def _parse_when(text: str) -> datetime:
    text = text.strip()
    if "T" not in text and " " not in text:
        return datetime.combine(date.fromisoformat(text), time(12, 0))
    return datetime.fromisoformat(text)


def read_symptoms(path: str | Path) -> tuple[SymptomEntry, ...]:
    """Read a symptom diary CSV.

    Raises
    ------
    RecoveryError
        Naming the file and the line number of the first bad row, or the missing column.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise RecoveryError(str(path), f"cannot be read ({e.strerror})", "check the path") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise RecoveryError(str(path), f"is not a readable CSV file ({e})", "save it as UTF-8 CSV") from None
    if not rows:
        raise RecoveryError(str(path), "is empty", "start it with the header line: when,symptom,level")
    header = [h.strip().lower() for h in rows[0]]
    for col in ("when", "symptom"):
        if col not in header:
            raise RecoveryError(
                str(path), f"line 1: the header has no '{col}' column", "start it with: when,symptom,level"
            )
    iw, isym = header.index("when"), header.index("symptom")
    il = header.index("level") if "level" in header else None
    out = []
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        where = f"{path}, line {lineno}"

        def bad(cause: str, fix: str, where: str = where) -> RecoveryError:
            return RecoveryError(where, cause, fix)

        if len(row) <= max(iw, isym):
            raise bad("too few columns", "each row needs when,symptom,level")
        try:
            when = _parse_when(row[iw])
        except ValueError:
            raise bad(f"'{row[iw].strip()}' is not a date", "write it like 2026-11-04 or 2026-11-04T20:00+01:00") from None
        symptom = row[isym].strip().lower()
        if symptom not in SYMPTOMS:
            raise bad(f"'{row[isym].strip()}' is not a known symptom", f"use one of: {', '.join(SYMPTOMS)}")
        level = 1
        if il is not None and il < len(row) and row[il].strip():
            try:
                level = int(row[il].strip())
            except ValueError:
                level = -1
            if not 0 <= level <= 10:
                raise bad(f"level '{row[il].strip()}' is not a whole number from 0 to 10", "use 0 for none, 10 for worst")
        out.append(SymptomEntry(when, symptom, level))
    return tuple(sorted(out, key=lambda e: (e.when.replace(tzinfo=None) if e.when.tzinfo else e.when, e.symptom)))
