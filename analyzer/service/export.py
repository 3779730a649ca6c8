"""Export the store's observations in long form (CSV, Parquet or JSON) with a JSON schema.

One row per observation (photo x region x variable x method).  Two kinds (docs/data-dictionary.md):

* **de-identified** (the default; researcher or admin, ``export.deidentified``): only patients
  with an open research consent; the ``patient`` column is a keyed pseudonym of the study
  (:func:`keyed_pseudonym`: HMAC-SHA-256 under the study's own key, which never leaves the
  store), never the practice's pseudonym; ``days_since_treatment`` rounded to the nearest
  quarter day; no names, no absolute dates, no file names, no images.
* **identified** (``identified=True``; admin only, ``export.identified``): only patients with an
  open care consent; the practice's pseudonyms, names, capture and treatment times and the
  photo's SHA-256, days at full precision.

Every use case takes the acting user (:class:`analyzer.service.access.Actor`) and checks it
first; a refusal raises :class:`~analyzer.service.access.PermissionDenied` and is audited.  Every
export that leaves the store (a file written, or the dashboard's download built) is written to
the export register (:class:`~analyzer.store.models.ExportRecord`: who, when, which patients by
the practice's pseudonym, which filters) and to the audit log (``export``) in one transaction,
so a withdrawal of consent can be passed on to whoever holds data (:func:`exports_holding`).

Steps: :func:`build_observations` makes the table (a DataFrame with the schema's dtypes, and the
consent counts; nothing is written or registered); :func:`data_bytes` and :func:`schema_for`
serialise it; :func:`register_export` registers it; :func:`write_observations` writes both files
and registers them.  :func:`export_observations` (the command line) is build then write; the
dashboard's research page builds the table, filters it and registers the bytes it hands out.
Each photo counts its days from the treatment whose course it belongs to
(:mod:`analyzer.service.courses`), exactly as the dashboard and the report show it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import _version
from .._files import write_atomically
from ..colour.balance import BALANCE_METHODS
from ..errors import AnalyzerError
from ..store.db import Store
from ..store.models import Analysis, ExportRecord, Patient, Photo
from ..store.query import aware
from ..store.records import has_consent, now
from ..store.secrets import secret
from ..vocab import METRICS, REGIONS
from .access import Actor, check
from .audit import record
from .courses import course_index, days_since

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "DAYS_STEP",
    "DEFAULT_STUDY",
    "FORMATS",
    "IDENTIFIED_COLUMNS",
    "KEYED_PREFIX",
    "KEYED_HEX_DIGITS",
    "ExportEntry",
    "ExportError",
    "ExportSummary",
    "Observations",
    "build_observations",
    "check_study",
    "check_writable",
    "data_bytes",
    "export_observations",
    "export_register",
    "exports_holding",
    "keyed_pseudonym",
    "register_export",
    "schema_for",
    "schema_path_for",
    "schema_text",
    "write_observations",
]

FORMATS = ("csv", "parquet", "json")

DEFAULT_STUDY = "default"
"""The study of an export that names none."""

KEYED_PREFIX = "S-"
KEYED_HEX_DIGITS = 12
"""A keyed pseudonym is ``S-`` and the first 12 hex digits (48 bits) of the HMAC-SHA-256.  Two
patients of one study share one with odds of about n^2 / 2^49: 1 in 5.6 million for 10,000
patients; :func:`build_observations` refuses the export if it ever happens."""

DAYS_STEP = 0.25
"""De-identified exports round ``days_since_treatment`` to the nearest quarter day (6 h)."""

_STUDY = re.compile(r"[A-Za-z0-9_.-]{1,64}")

_DAYS_DESCRIPTION = (
    "capture time minus the treatment whose course the photo belongs to: the latest treatment at or "
    "before it, except that a photo of the last 72 h before a later treatment is that treatment's "
    "baseline (negative), as is a photo taken before the first treatment; elapsed time when both times "
    "have a UTC offset, else wall-clock; empty without treatment or capture time; rounded to the "
    "nearest quarter day (0.25) in de-identified exports, 4 decimals in identified ones")

COLUMNS: tuple[dict[str, Any], ...] = (
    {"name": "patient", "type": "string",
     "description": "de-identified: the study's keyed pseudonym ('S-' and 12 hex digits, the same for a "
                    "patient in every export of the study, unrelated across studies); identified: the "
                    "practice's pseudonym"},
    {"name": "photo", "type": "integer",
     "description": "photo number within the patient, 1 = first by capture time (groups the rows of one photo)"},
    {"name": "days_since_treatment", "type": "number", "unit": "days", "nullable": True,
     "description": _DAYS_DESCRIPTION},
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
"""The columns of every export, in order."""

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
    """The export cannot be made (bad format, study name or path)."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote.

    Attributes
    ----------
    path, schema_path : Path
    rows : int
    patients : int
        Patients included (with or without rows).
    excluded_without_consent : int
        Patients left out for lack of the consent the export needs (research for de-identified,
        care for identified exports).
    """

    path: Path
    schema_path: Path
    rows: int
    patients: int
    excluded_without_consent: int


@dataclass(frozen=True)
class ExportEntry:
    """One line of the export register.

    Attributes
    ----------
    at : datetime
        When, naive UTC.
    actor : str
        Who (login; ``cli:<os user>`` for the command line).
    identified : bool
    study : str or None
        The study of a de-identified export (None for identified ones).
    patients : tuple of str
        The practice's pseudonyms of the patients whose rows the file holds.
    filters : dict
        The filters applied (``{}`` = none; a copy: changing it changes nothing stored).
    rows : int
    fmt : str
    """

    at: datetime
    actor: str
    identified: bool
    study: str | None
    patients: tuple[str, ...]
    filters: dict[str, Any]
    rows: int
    fmt: str


def check_study(study: str) -> str:
    """``study`` if it is a study name (1-64 of ``A-Z a-z 0-9 _ . -``), else :class:`ExportError`."""
    if not isinstance(study, str) or not _STUDY.fullmatch(study):
        raise ExportError(f"study {study!r}", "a study name is 1 to 64 letters, digits, '_', '.' or '-'",
                          "choose a name such as acne-2026")
    return study


def keyed_pseudonym(key: bytes, pseudonym: str) -> str:
    """The study's pseudonym of a patient: ``S-`` + the first :data:`KEYED_HEX_DIGITS` hex digits
    of HMAC-SHA-256(``key``, the practice's ``pseudonym``, UTF-8).

    Without the key (kept in the store, :func:`analyzer.store.secrets.secret` ``study:<name>``)
    nobody can tell which practice pseudonym it stands for, nor link two studies.

    Examples
    --------
    >>> keyed_pseudonym(bytes(32), "P1")
    'S-2f0ae8bf10c3'
    """
    digest = hmac.new(key, pseudonym.encode("utf-8"), hashlib.sha256).hexdigest()
    return KEYED_PREFIX + digest[:KEYED_HEX_DIGITS]


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
        Patients left out for lack of an open consent of :attr:`consent_scope`.
    study : str or None
        The study whose keyed pseudonyms the table holds (None when identified).
    sources : Mapping
        Each ``patient`` value of the table -> the practice's pseudonym, for the export register
        only (never shown nor written into an export).
    """

    table: pd.DataFrame
    identified: bool
    patients: int
    excluded_without_consent: int
    study: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def columns(self) -> list[dict[str, Any]]:
        """The schema's column descriptions, in file order."""
        return list(COLUMNS) + (list(IDENTIFIED_COLUMNS) if self.identified else [])

    @property
    def consent_scope(self) -> str:
        """The consent a patient needs to be in this export: ``care`` (identified) or ``research``."""
        return "care" if self.identified else "research"


def _quarter_day(days: float) -> float:
    return round(days / DAYS_STEP) * DAYS_STEP


def _rows(store: Store, patient: str | None, identified: bool, key: bytes | None,
          study: str | None) -> tuple[list[dict[str, Any]], int, int, dict[str, str]]:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    rows: list[dict[str, Any]] = []
    sources: dict[str, str] = {}
    included = excluded = 0
    scope = "care" if identified else "research"
    with store.sessions() as s:
        q = select(Patient).order_by(Patient.pseudonym).options(
            selectinload(Patient.consents), selectinload(Patient.treatments),
            selectinload(Patient.photos).selectinload(Photo.analyses).selectinload(Analysis.observations),
        )
        if patient is not None:
            q = q.where(Patient.pseudonym == patient)
        for pt in s.scalars(q):
            if not has_consent(pt, scope):
                excluded += 1
                continue
            included += 1
            shown = pt.pseudonym if identified else keyed_pseudonym(key, pt.pseudonym)
            if shown in sources:
                raise ExportError(f"study {study!r}", "two patients share a keyed pseudonym (odds about "
                                  "1 in 5 million for 10,000 patients)", "export under another study name")
            sources[shown] = pt.pseudonym
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
                if days is not None:
                    days = round(days, 4) if identified else _quarter_day(days)
                for ob in sorted(an.observations, key=lambda o: (REGIONS.index(o.region) if o.region in REGIONS
                                                                  else 99, o.variable, o.method)):
                    row = {
                        "patient": shown, "photo": n, "days_since_treatment": days,
                        "region": ob.region, "variable": ob.variable, "method": ob.method, "unit": ob.unit,
                        "value": ob.value, "quality_ok": an.quality_ok,
                        "calibration_method": an.calibration_method,
                        "residual_delta_e00": an.residual_delta_e00, "analyzer_version": an.analyzer_version,
                    }
                    if identified:
                        row.update(name=pt.display_name, captured_at=when.isoformat() if when else None,
                                   treated_at=tr.isoformat() if tr else None, photo_sha256=ph.sha256)
                    rows.append(row)
    return rows, included, excluded, sources


def _check_export(store: Store, actor: Actor, identified: bool, patient: str | None) -> None:
    """The permission checks of an export (each refusal audited by :func:`access.check`)."""
    if identified:
        check(store, actor, "export.identified")
        return
    check(store, actor, "export.deidentified")
    if patient is not None:
        # Filtering by the practice's pseudonym needs the record within reach: a researcher
        # never knows it (they filter the keyed pseudonyms of the table instead).
        check(store, actor, "record.view", patient)


def build_observations(store: Store, *, actor: Actor, patient: str | None = None, identified: bool = False,
                       study: str = DEFAULT_STUDY) -> Observations:
    """The store's observations as one table (nothing is written or registered).

    Parameters
    ----------
    store : Store
    actor : Actor
        A de-identified export needs ``export.deidentified`` (researcher, admin), an identified
        one ``export.identified`` (admin).
    patient : str, optional
        Only this patient, by the practice's pseudonym; an unknown one gives an empty table with
        ``patients == excluded_without_consent == 0``.  For a de-identified export the patient
        must also be within the actor's reach (``record.view``): a researcher cannot filter by a
        practice pseudonym (they filter the table's keyed pseudonyms instead).
    identified : bool
        Practice pseudonyms, names, capture/treatment times and photo hashes, days at full
        precision; only patients with care consent.  Otherwise keyed pseudonyms, days rounded to
        :data:`DAYS_STEP`, only patients with research consent.
    study : str
        The study whose key makes the keyed pseudonyms (:func:`check_study`); ignored when
        identified.

    Raises
    ------
    PermissionDenied
        When ``actor`` may not make this export (audited as ``denied``).
    ExportError
        For a bad study name.

    Examples
    --------
    >>> import tempfile
    >>> from analyzer.store.db import open_store
    >>> with tempfile.TemporaryDirectory() as d, open_store(f"{d}/a.db") as s:
    ...     obs = build_observations(s, actor=Actor.operator())
    >>> len(obs.table), obs.patients, obs.study, list(obs.table.columns) == [c["name"] for c in COLUMNS]
    (0, 0, 'default', True)
    """
    import pandas as pd

    if not identified:
        check_study(study)
    _check_export(store, actor, identified, patient)
    key = None if identified else secret(store, f"study:{study}")
    rows, included, excluded, sources = _rows(store, patient, identified, key, None if identified else study)
    columns = list(COLUMNS) + (list(IDENTIFIED_COLUMNS) if identified else [])
    df = pd.DataFrame(rows, columns=[c["name"] for c in columns])
    df = df.astype({c["name"]: _PANDAS_TYPES[c["type"]] for c in columns})
    return Observations(df, identified, included, excluded, None if identified else study,
                        MappingProxyType(sources))


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

    CSV: UTF-8, header row, no index, empty cells for missing values, RFC 4180 line ends
    (CRLF: a cell holding a carriage return or a line feed is quoted, so it can never start a
    row of its own); a text cell that a spreadsheet would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return, e.g. a name ``=HYPERLINK(...)``) is written
    with a leading apostrophe (OWASP, "CSV Injection"); Parquet: pyarrow, the pandas dtypes kept; JSON: an array of row
    objects (UTF-8, not ASCII-escaped).

    Raises
    ------
    ExportError
        For an unknown format.
    """
    if fmt == "csv":
        return _formula_safe(df).to_csv(index=False, lineterminator="\r\n").encode("utf-8")
    if fmt == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False, engine="pyarrow")
        return buf.getvalue()
    if fmt == "json":
        return df.to_json(orient="records", force_ascii=False).encode("utf-8")
    raise ExportError(f"observations.{fmt}", f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")


def schema_for(df: pd.DataFrame, *, fmt: str, file: str, identified: bool, patients: int,
               excluded_without_consent: int, study: str | None = None) -> dict[str, Any]:
    """The schema file's content for the rows ``df`` written to ``file`` (docs/data-dictionary.md,
    "The schema file").  A de-identified export's schema names its ``study`` and how it was
    de-identified (``deidentification``)."""
    columns = list(COLUMNS) + (list(IDENTIFIED_COLUMNS) if identified else [])
    schema: dict[str, Any] = {
        "title": "analyzer observations (long form)",
        "identified": identified,
        "format": fmt,
        "file": file,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "analyzer_version": _version.__version__,
        "analyzer_versions_in_data": sorted(set(df["analyzer_version"].dropna())),
        "rows": len(df),
        "patients": patients,
        "consent_required": "care" if identified else "research",
        "excluded_without_consent": excluded_without_consent,
    }
    if not identified:
        schema["study"] = study
        schema["deidentification"] = {
            "patient": {"method": "HMAC-SHA-256",
                        "key": "one secret key per study, kept in the practice's store",
                        "format": f"'{KEYED_PREFIX}' + the first {KEYED_HEX_DIGITS} hex digits",
                        "stable": "the same patient has the same pseudonym in every export of the study; "
                                  "pseudonyms of different studies are unrelated"},
            "days_since_treatment_step": DAYS_STEP,
            "left_out": ["names", "absolute dates and times", "file names", "photo hashes", "images",
                         "patients without an open research consent"],
        }
    schema.update({
        "columns": columns,
        "methods": {m.key: {"method": m.method, "unit": m.unit} for m in METRICS},
        "calibration_methods_in_data": sorted(set(df["calibration_method"].dropna())),
        "data_dictionary": "docs/data-dictionary.md",
    })
    return schema


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as written beside an export: indented JSON, UTF-8 text, a final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _register(store: Store, s, obs: Observations, table: pd.DataFrame, actor: Actor, fmt: str,
              filters: Mapping[str, Any] | None) -> None:
    shown = set(table["patient"].dropna()) if len(table) else set()
    unknown = shown - set(obs.sources)
    if unknown:
        raise ExportError(f"observations.{fmt}", "the rows hold patients the export did not include",
                          "pass the export the rows came from")
    patients = sorted(obs.sources[p] for p in shown)
    kept = {k: v for k, v in (filters or {}).items() if v is not None}
    s.add(ExportRecord(at=now(), actor=actor.login, identified=obs.identified, study=obs.study,
                       patients=patients, filters=kept, rows=len(table), fmt=fmt))
    record(store, actor, "export", session=s, detail={
        "identified": obs.identified, "study": obs.study, "patients": len(patients), "rows": len(table),
        "fmt": fmt, "filters": kept})


def register_export(store: Store, obs: Observations, table: pd.DataFrame, *, actor: Actor, fmt: str,
                    filters: Mapping[str, Any] | None = None) -> None:
    """Write one export to the register (:class:`~analyzer.store.models.ExportRecord`) and the
    audit log (``export``), in one transaction.

    Call it when the export's bytes leave the store (a file, a download).  ``table`` is what
    was handed out (``obs.table`` or rows filtered from it); the register lists the practice's
    pseudonyms of the patients with rows in it, and ``filters`` (``None`` values dropped).

    Raises
    ------
    PermissionDenied
        When ``actor`` may not make this export (checked again; audited as ``denied``).
    ExportError
        When ``table`` holds patients ``obs`` did not include.
    """
    _check_export(store, actor, obs.identified, None)
    with store.sessions.begin() as s:
        _register(store, s, obs, table, actor, fmt, filters)


def write_observations(store: Store, obs: Observations, out: str | os.PathLike, *, actor: Actor,
                       fmt: str = "csv", filters: Mapping[str, Any] | None = None) -> ExportSummary:
    """Write ``obs`` to ``out`` and its schema to ``out.schema.json`` (each atomically), and
    register the export (:func:`register_export`): the files and the register line are made
    together or not at all.

    Raises
    ------
    PermissionDenied
        When ``actor`` may not make this export.
    ExportError
        For an unknown format, an unwritable path (checked first) or a failed write.
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise ExportError(str(out), f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    schema_path = schema_path_for(out)
    check_writable(out)
    check_writable(schema_path)
    _check_export(store, actor, obs.identified, None)
    data = data_bytes(obs.table, fmt)
    schema = schema_for(obs.table, fmt=fmt, file=out.name, identified=obs.identified, patients=obs.patients,
                        excluded_without_consent=obs.excluded_without_consent, study=obs.study)
    written: list[Path] = []
    try:
        with store.sessions.begin() as s:
            _register(store, s, obs, obs.table, actor, fmt, filters)
            s.flush()
            write_atomically(out, data)
            written.append(out)
            write_atomically(schema_path, schema_text(schema).encode("utf-8"))
            written.append(schema_path)
    except BaseException as e:
        for f in written:  # the register line was rolled back: no file without it
            f.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise ExportError(str(out), f"cannot write the export ({e.strerror or e})",
                              "check the disk and the path") from e
        raise
    return ExportSummary(out, schema_path, len(obs.table), obs.patients, obs.excluded_without_consent)


def export_observations(
    store: Store,
    out: str | os.PathLike,
    *,
    actor: Actor,
    fmt: str = "csv",
    patient: str | None = None,
    identified: bool = False,
    study: str = DEFAULT_STUDY,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> ExportSummary:
    """Write the observations to ``out`` and the schema to ``out.schema.json``, and register the
    export: :func:`build_observations` then :func:`write_observations`.

    Parameters
    ----------
    store : Store
    out : path
    actor : Actor
        Who exports (the command line: :meth:`Actor.operator`).
    fmt : {"csv", "parquet", "json"}
        JSON is an array of row objects.
    patient : str, optional
        Only this patient (the practice's pseudonym; see :func:`build_observations`).
    identified : bool
        Practice pseudonyms, names, capture/treatment times and photo hashes; care consent.
    study : str
        The study of a de-identified export (its keyed pseudonyms).
    log : callable
        Receives the note on patients left out for lack of consent.

    Raises
    ------
    ExportError
        For an unknown format, a bad study name or an unwritable path, before any work is done;
        for a ``patient`` the store does not hold, before anything is written.
    PermissionDenied
        When ``actor`` may not make this export (audited as ``denied``).
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise ExportError(str(out), f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if not identified:
        check_study(study)
    check_writable(out)
    check_writable(schema_path_for(out))

    obs = build_observations(store, actor=actor, patient=patient, identified=identified, study=study)
    if patient is not None and obs.patients + obs.excluded_without_consent == 0:
        raise ExportError(
            str(out), f"there is no patient {patient!r} in the store",
            "check the pseudonym, or leave out --patient to export every consenting patient",
        )
    summary = write_observations(store, obs, out, actor=actor, fmt=fmt,
                                 filters={"patient": patient} if patient is not None else None)
    if obs.excluded_without_consent:
        scope = obs.consent_scope
        log(f"note: {obs.excluded_without_consent} patient(s) left out: no {scope} consent "
            f"(record it on the patient's page, or with 'import --consent {scope}')")
    return summary


def _entry(r: ExportRecord) -> ExportEntry:
    return ExportEntry(r.at, r.actor, r.identified, r.study, tuple(r.patients or ()), dict(r.filters or {}),
                       r.rows, r.fmt)


def export_register(store: Store, *, actor: Actor) -> list[ExportEntry]:
    """Every export made, newest first (admin: ``audit.view``).

    Raises
    ------
    PermissionDenied
        For anyone but an admin (audited as ``denied``).
    """
    from sqlalchemy import select

    check(store, actor, "audit.view")
    with store.sessions() as s:
        return [_entry(r) for r in s.scalars(select(ExportRecord).order_by(ExportRecord.at.desc(),
                                                                           ExportRecord.id.desc()))]


def exports_holding(store: Store, pseudonym: str, *, actor: Actor) -> list[ExportEntry]:
    """The exports that handed out rows of the patient ``pseudonym`` (the practice's), newest
    first: whom to tell when the patient withdraws consent (admin: ``audit.view``)."""
    return [e for e in export_register(store, actor=actor) if pseudonym in e.patients]
