"""Export the store's observations in long form (CSV, Parquet or JSON) with a JSON schema.

One row per observation (photo x region x variable x method).  De-identified by default: a
pseudonym, days since the treatment and the numbers; no names, no absolute dates, no file names,
no images, and only patients with an open research consent.  ``identified=True`` (for the
practitioner) adds names, capture and treatment times and the photo's SHA-256, and marks the
schema as identified.  See docs/data-dictionary.md.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import Any

from . import _version
from .colour.balance import BALANCE_METHODS
from .errors import AnalyzerError
from .store.db import Store
from .store.importer import REGIONS, VARIABLES
from .store.models import Analysis, Patient, Photo
from .store.records import has_research_consent

__all__ = [
    "COLUMNS",
    "FORMATS",
    "IDENTIFIED_COLUMNS",
    "ExportError",
    "ExportSummary",
    "check_writable",
    "export_observations",
    "schema_path_for",
]

FORMATS = ("csv", "parquet", "json")

COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "patient", "type": "string", "description": "patient pseudonym"},
    {"name": "photo", "type": "integer",
     "description": "photo number within the patient, 1 = first by capture time (groups the rows of one photo)"},
    {"name": "days_since_treatment", "type": "number", "unit": "days", "nullable": True,
     "description": "capture time minus the latest treatment at or before it, or minus the first "
                    "treatment for photos taken before it (negative); wall-clock; empty without treatment "
                    "or capture time"},
    {"name": "region", "type": "string", "allowed": list(REGIONS),
     "description": "'face' (area-weighted mean of forehead, cheeks, chin) or an anatomical region"},
    {"name": "variable", "type": "string", "allowed": list(VARIABLES), "description": "what was measured"},
    {"name": "method", "type": "string", "allowed": sorted({m for m, _ in VARIABLES.values()}),
     "description": "how it was measured (see methods)"},
    {"name": "unit", "type": "string", "allowed": sorted({u for _, u in VARIABLES.values()}),
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


def _iso(dt: datetime | None, offset_min: int | None) -> str | None:
    if dt is None:
        return None
    if offset_min is not None:
        from datetime import timedelta

        dt = dt.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    return dt.isoformat()


def _rows(store: Store, patient: str | None, identified: bool) -> tuple[list[dict[str, Any]], int, int, set[str]]:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    rows: list[dict[str, Any]] = []
    included = excluded = 0
    cal_methods: set[str] = set()
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
            treatments = sorted(pt.treatments, key=lambda t: t.treated_at)
            photos = sorted(pt.photos, key=lambda p: (p.captured_at is None, p.captured_at or datetime.min, p.id))
            for n, ph in enumerate(photos, start=1):
                if not ph.analyses:
                    continue
                an = max(ph.analyses, key=lambda a: a.id)  # the newest analysis
                tr = None
                if ph.captured_at is not None and treatments:
                    # The latest treatment at or before the photo; a baseline photo taken before
                    # the first treatment counts from that one (negative days).
                    before = [t for t in treatments if t.treated_at <= ph.captured_at]
                    tr = before[-1] if before else treatments[0]
                days = round((ph.captured_at - tr.treated_at).total_seconds() / 86400, 4) if tr else None
                if an.calibration_method:
                    cal_methods.add(an.calibration_method)
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
                        row.update(name=pt.display_name, captured_at=_iso(ph.captured_at, ph.utc_offset_min),
                                   treated_at=_iso(tr.treated_at, tr.utc_offset_min) if tr else None,
                                   photo_sha256=ph.sha256)
                    rows.append(row)
    return rows, included, excluded, cal_methods


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_observations(
    store: Store,
    out: str | os.PathLike,
    *,
    fmt: str = "csv",
    patient: str | None = None,
    identified: bool = False,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> ExportSummary:
    """Write the observations to ``out`` and the schema to ``out.schema.json``.

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
    import pandas as pd

    out = Path(out)
    if fmt not in FORMATS:
        raise ExportError(str(out), f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    schema_path = schema_path_for(out)
    check_writable(out)
    check_writable(schema_path)

    rows, included, excluded, cal_methods = _rows(store, patient, identified)
    if patient is not None and included + excluded == 0:
        raise ExportError(
            str(out), f"there is no patient {patient!r} in the store",
            "check the pseudonym, or leave out --patient to export every consenting patient",
        )
    columns = list(COLUMNS) + (list(IDENTIFIED_COLUMNS) if identified else [])
    df = pd.DataFrame(rows, columns=[c["name"] for c in columns])
    df = df.astype({c["name"]: _PANDAS_TYPES[c["type"]] for c in columns})

    def write(tmp: Path) -> None:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        elif fmt == "parquet":
            df.to_parquet(tmp, index=False, engine="pyarrow")
        else:
            tmp.write_text(df.to_json(orient="records", force_ascii=False), encoding="utf-8")

    try:
        _write_atomically(out, write)
        schema = {
            "title": "analyzer observations (long form)",
            "identified": identified,
            "format": fmt,
            "file": out.name,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "analyzer_version": _version.__version__,
            "analyzer_versions_in_data": sorted(set(df["analyzer_version"].dropna())),
            "rows": len(df),
            "patients": included,
            "excluded_without_research_consent": excluded,
            "columns": columns,
            "methods": {v: {"method": m, "unit": u} for v, (m, u) in VARIABLES.items()},
            "calibration_methods_in_data": sorted(cal_methods),
            "data_dictionary": "docs/data-dictionary.md",
        }
        text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        _write_atomically(schema_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as e:
        raise ExportError(str(out), f"cannot write the export ({e.strerror or e})", "check the disk and the path") from e
    if excluded:
        log(f"note: {excluded} patient(s) left out: no research consent "
            "(record it with analyzer.store.set_consent, or use --identified for the practitioner)")
    return ExportSummary(out, schema_path, len(df), included, excluded)
