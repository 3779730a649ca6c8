"""Export the store's observations in long form (CSV, Parquet or JSON) with a JSON schema.

One row per observation (photo x region x variable x method).  De-identified by default: a
pseudonym, days since the treatment and the numbers; no names, no absolute dates, no file names,
no images, and only patients with an open research consent.  ``identified=True`` (for the
practitioner) adds names, capture and treatment times and the photo's SHA-256, and marks the
schema as identified.  See docs/data-dictionary.md.

Two steps, each one way: :func:`build_observations` makes the table (a DataFrame with the
schema's dtypes, and the consent counts); :func:`data_bytes` and :func:`schema_for` serialise it
and :func:`write_observations` writes both files.  :func:`export_observations` (the command
line) is the two in a row; the dashboard's research page builds the table, filters it and zips
the same bytes.  Each photo counts its days from the treatment whose course it belongs to
(:mod:`analyzer.service.courses`), exactly as the dashboard and the report show it.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _version
from .._files import write_atomically
from ..colour.balance import BALANCE_METHODS
from ..errors import AnalyzerError
from ..store.db import Store
from ..store.models import Analysis, Patient, Photo
from ..store.query import aware
from ..store.records import has_research_consent
from ..vocab import METRICS, REGIONS
from .courses import course_index, days_since

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "FORMATS",
    "IDENTIFIED_COLUMNS",
    "ExportError",
    "ExportSummary",
    "Observations",
    "build_observations",
    "check_writable",
    "data_bytes",
    "export_observations",
    "schema_for",
    "schema_path_for",
    "schema_text",
    "write_observations",
]

FORMATS = ("csv", "parquet", "json")

COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "patient", "type": "string", "description": "patient pseudonym"},
    {"name": "photo", "type": "integer",
     "description": "photo number within the patient, 1 = first by capture time (groups the rows of one photo)"},
    {"name": "days_since_treatment", "type": "number", "unit": "days", "nullable": True,
     "description": "capture time minus the treatment whose course the photo belongs to: the latest "
                    "treatment at or before it, except that a photo of the last 72 h before a later "
                    "treatment is that treatment's baseline (negative), as is a photo taken before the "
                    "first treatment; elapsed time when both times have a UTC offset, else wall-clock; "
                    "empty without treatment or capture time"},
    {"name": "region", "type": "string", "allowed": list(REGIONS),
     "description": "'face' (area-weighted mean of forehead, cheeks, chin) or an anatomical region"},
    {"name": "variable", "type": "string", "allowed": [m.key for m in METRICS], "description": "what was measured"},
    {"name": "method", "type": "string", "allowed": sorted({m.method for m in METRICS}),
     "description": "how it was measured (see methods)"},
    {"name": "unit", "type": "string", "allowed": sorted({m.unit for m in METRICS}),
     "description": "unit of value"},
    {"name": "value", "type": "number", "description": "the measurement, in unit"},
    {"name": "quality_ok", "type": "boolean",
     "description": "false when the photo's quality gate found a blocking issue (numbers unreliable)"},
    {"name": "calibration_method", "type": "string", "nullable": True,
     "allowed": ["colorchecker", *BALANCE_METHODS],
     "description": "'colorchecker' when a chart was found, else the card-free colour normalisation"},
    {"name": "residual_delta_e00", "type": "number", "unit": "CIEDE2000", "nullable": True,
     "description": "mean colour error over the 24 chart patches after correction; empty without chart"},
    {"name": "analyzer_version", "type": "string", "description": "analyzer version that measured the photo"},
)
"""The de-identified columns, in order."""

IDENTIFIED_COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "name", "type": "string", "nullable": True, "description": "patient's display name"},
    {"name": "captured_at", "type": "string", "format": "date-time", "nullable": True,
     "description": "capture time, ISO 8601 wall-clock (with offset when known)"},
    {"name": "treated_at", "type": "string", "format": "date-time", "nullable": True,
     "description": "the treatment days_since_treatment counts from, ISO 8601 wall-clock"},
    {"name": "photo_sha256", "type": "string", "description": "SHA-256 of the original photo file"},
)
"""Columns added by ``identified=True``."""

_PANDAS_TYPES = {"string": "string", "integer": "Int64", "number": "Float64", "boolean": "boolean"}


class ExportError(AnalyzerError):
    """The export cannot be written (bad format, unwritable path)."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote.

    Attributes
    ----------
    path, schema_path : Path
    rows : int
    patients : int
        Patients with rows in the file.
    excluded_without_consent : int
        Patients left out because they have no open research consent (de-identified only).
    """

    path: Path
    schema_path: Path
    rows: int
    patients: int
    excluded_without_consent: int


def schema_path_for(path: str | os.PathLike) -> Path:
    """``PATH.schema.json`` beside the export."""
    p = Path(path)
    return p.with_name(p.name + ".schema.json")


def check_writable(path: str | os.PathLike) -> None:
    """Raise :class:`ExportError` unless ``path`` can be created or overwritten."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise ExportError(str(p), "is a folder", "give a file name, e.g. out/observations.csv")
    if not parent.is_dir():
        raise ExportError(str(p), f"the folder {parent} does not exist", "create it first or choose another path")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ExportError(str(p), "cannot write here (permission denied)", "choose a folder you can write to")


@dataclass(frozen=True, eq=False)
class Observations:
    """The export's table, before it is written.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per observation; the columns of :data:`COLUMNS` (plus :data:`IDENTIFIED_COLUMNS`
        when identified), in order, with pandas nullable dtypes (``string``, ``Int64``,
        ``Float64``, ``boolean``).
    identified : bool
    patients : int
        Patients included (with or without rows).
    excluded_without_consent : int
        Patients left out for lack of an open research consent (0 when identified).
    """

    table: pd.DataFrame
    identified: bool
    patients: int
    excluded_without_consent: int

    @property
    def columns(self) -> list[dict[str, Any]]:
        """The schema's column descriptions, in file order."""
        return list(COLUMNS) + (list(IDENTIFIED_COLUMNS) if self.identified else [])


def _rows(store: Store, patient: str | None, identified: bool) -> tuple[list[dict[str, Any]], int, int]:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    rows: list[dict[str, Any]] = []
    included = excluded = 0
    with store.sessions() as s:
        q = select(Patient).order_by(Patient.pseudonym).options(
            selectinload(Patient.consents), selectinload(Patient.treatments),
            selectinload(Patient.photos).selectinload(Photo.analyses).selectinload(Analysis.observations),
        )
        if patient is not None:
            q = q.where(Patient.pseudonym == patient)
        for pt in s.scalars(q):
            if not identified and not has_research_consent(pt):
                excluded += 1
                continue
            included += 1
            treated = [aware(t.treated_at, t.utc_offset_min) for t in sorted(pt.treatments, key=lambda t: t.treated_at)]
            photos = sorted(pt.photos, key=lambda p: (p.captured_at is None, p.captured_at or datetime.min, p.id))
            for n, ph in enumerate(photos, start=1):
                if not ph.analyses:
                    continue
                an = max(ph.analyses, key=lambda a: a.id)  # the newest analysis
                when = aware(ph.captured_at, ph.utc_offset_min)
                k = course_index(when, treated)  # the course rule (analyzer.service.courses)
                tr = treated[k] if k is not None else None
                days = days_since(when, tr)
                days = round(days, 4) if days is not None else None
                for ob in sorted(an.observations, key=lambda o: (REGIONS.index(o.region) if o.region in REGIONS
                                                                  else 99, o.variable, o.method)):
                    row = {
                        "patient": pt.pseudonym, "photo": n, "days_since_treatment": days,
                        "region": ob.region, "variable": ob.variable, "method": ob.method, "unit": ob.unit,
                        "value": ob.value, "quality_ok": an.quality_ok,
                        "calibration_method": an.calibration_method,
                        "residual_delta_e00": an.residual_delta_e00, "analyzer_version": an.analyzer_version,
                    }
                    if identified:
                        row.update(name=pt.display_name, captured_at=when.isoformat() if when else None,
                                   treated_at=tr.isoformat() if tr else None, photo_sha256=ph.sha256)
                    rows.append(row)
    return rows, included, excluded


def build_observations(store: Store, *, patient: str | None = None, identified: bool = False) -> Observations:
    """The store's observations as one table (nothing is written).

    Parameters
    ----------
    store : Store
    patient : str, optional
        Only this patient (pseudonym); an unknown one gives an empty table with
        ``patients == excluded_without_consent == 0``.
    identified : bool
        Add names, capture/treatment times and photo hashes; no consent filter.

    Examples
    --------
    >>> import tempfile
    >>> from analyzer.store.db import open_store
    >>> with tempfile.TemporaryDirectory() as d, open_store(f"{d}/a.db") as s:
    ...     obs = build_observations(s)
    >>> len(obs.table), obs.patients, list(obs.table.columns) == [c["name"] for c in COLUMNS]
    (0, 0, True)
    """
    import pandas as pd

    rows, included, excluded = _rows(store, patient, identified)
    columns = list(COLUMNS) + (list(IDENTIFIED_COLUMNS) if identified else [])
    df = pd.DataFrame(rows, columns=[c["name"] for c in columns])
    df = df.astype({c["name"]: _PANDAS_TYPES[c["type"]] for c in columns})
    return Observations(df, identified, included, excluded)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _formula_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell that starts like a spreadsheet formula prefixed by ``'``."""
    from pandas.api.types import is_string_dtype

    text = [c for c in df.columns if df[c].dtype == object or is_string_dtype(df[c])]
    if not text:
        return df
    out = df.copy()
    for c in text:
        out[c] = out[c].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return out


def data_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    """The rows of ``df`` serialised as ``fmt`` (the one serialisation of every export file).

    CSV: UTF-8, header row, no index, empty cells for missing values; a text cell that a
    spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return, e.g. a name ``=HYPERLINK(...)``) is written with a leading apostrophe
    (OWASP, "CSV Injection"); Parquet: pyarrow, the pandas dtypes kept; JSON: an array of row
    objects (UTF-8, not ASCII-escaped).

    Raises
    ------
    ExportError
        For an unknown format.
    """
    if fmt == "csv":
        return _formula_safe(df).to_csv(index=False).encode("utf-8")
    if fmt == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False, engine="pyarrow")
        return buf.getvalue()
    if fmt == "json":
        return df.to_json(orient="records", force_ascii=False).encode("utf-8")
    raise ExportError(f"observations.{fmt}", f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")


def schema_for(df: pd.DataFrame, *, fmt: str, file: str, identified: bool, patients: int,
               excluded_without_consent: int) -> dict[str, Any]:
    """The schema file's content for the rows ``df`` written to ``file`` (docs/data-dictionary.md,
    "The schema file")."""
    columns = list(COLUMNS) + (list(IDENTIFIED_COLUMNS) if identified else [])
    return {
        "title": "analyzer observations (long form)",
        "identified": identified,
        "format": fmt,
        "file": file,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "analyzer_version": _version.__version__,
        "analyzer_versions_in_data": sorted(set(df["analyzer_version"].dropna())),
        "rows": len(df),
        "patients": patients,
        "excluded_without_research_consent": excluded_without_consent,
        "columns": columns,
        "methods": {m.key: {"method": m.method, "unit": m.unit} for m in METRICS},
        "calibration_methods_in_data": sorted(set(df["calibration_method"].dropna())),
        "data_dictionary": "docs/data-dictionary.md",
    }


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as written beside an export: indented JSON, UTF-8 text, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_observations(obs: Observations, out: str | os.PathLike, *, fmt: str = "csv") -> ExportSummary:
    """Write ``obs`` to ``out`` and its schema to ``out.schema.json`` (each atomically).

    Raises
    ------
    ExportError
        For an unknown format, an unwritable path (checked first) or a failed write.
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise ExportError(str(out), f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    schema_path = schema_path_for(out)
    check_writable(out)
    check_writable(schema_path)
    data = data_bytes(obs.table, fmt)
    schema = schema_for(obs.table, fmt=fmt, file=out.name, identified=obs.identified, patients=obs.patients,
                        excluded_without_consent=obs.excluded_without_consent)
    try:
        write_atomically(out, data)
        write_atomically(schema_path, schema_text(schema).encode("utf-8"))
    except OSError as e:
        raise ExportError(str(out), f"cannot write the export ({e.strerror or e})", "check the disk and the path") from e
    return ExportSummary(out, schema_path, len(obs.table), obs.patients, obs.excluded_without_consent)


def export_observations(
    store: Store,
    out: str | os.PathLike,
    *,
    fmt: str = "csv",
    patient: str | None = None,
    identified: bool = False,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> ExportSummary:
    """Write the observations to ``out`` and the schema to ``out.schema.json``:
    :func:`build_observations` then :func:`write_observations`.

    Parameters
    ----------
    store : Store
    out : path
    fmt : {"csv", "parquet", "json"}
        JSON is an array of row objects.
    patient : str, optional
        Only this patient (pseudonym).
    identified : bool
        Add names, capture/treatment times and photo hashes; no consent filter.
    log : callable
        Receives the note on patients left out for lack of research consent.

    Raises
    ------
    ExportError
        For an unknown format or an unwritable path, before any work is done; for a
        ``patient`` the store does not hold, before anything is written.
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise ExportError(str(out), f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    check_writable(out)
    check_writable(schema_path_for(out))

    obs = build_observations(store, patient=patient, identified=identified)
    if patient is not None and obs.patients + obs.excluded_without_consent == 0:
        raise ExportError(
            str(out), f"there is no patient {patient!r} in the store",
            "check the pseudonym, or leave out --patient to export every consenting patient",
        )
    summary = write_observations(obs, out, fmt=fmt)
    if obs.excluded_without_consent:
        log(f"note: {obs.excluded_without_consent} patient(s) left out: no research consent "
            "(record it with analyzer.store.set_consent, or use --identified for the practitioner)")
    return summary
