"""What the Research and Methods pages do: the filtered observation export, its downloads, the
data dictionary and the method notes.

Plain Python (no Streamlit), nothing cached here.  The table is the export use case's own
(:func:`analyzer.service.export.build_observations`), filtered here; nothing is computed twice
and nothing goes through a temporary file.  De-identified by default: only patients with an
open research consent, each under the study's keyed pseudonym, days rounded to a quarter day,
no names, no absolute dates, no file names, no photo hashes (docs/data-dictionary.md).

Every function takes the acting user (``actor``, keyword) and passes it to the use case, which
checks it: a researcher or admin for the de-identified export, an admin for the identified one.
A download is written to the export register when its bytes are built (:func:`export_bytes`).

Downloads
---------
Each download is a ZIP holding what a statistician needs to read the file without asking:

* ``observations.<csv|parquet|json>``: the filtered rows, serialised by the same function as
  ``python -m analyzer export`` (:func:`analyzer.service.export.data_bytes`);
* ``observations.<ext>.schema.json``: the export's schema (docs/data-dictionary.md, "The schema
  file"), with ``file``, ``format``, ``rows``, ``patients``, ``analyzer_versions_in_data`` and
  ``calibration_methods_in_data`` describing the filtered file, and one added key, ``filters``,
  recording the filters applied (``null`` = not filtered); ``excluded_without_consent`` still
  counts the patients the consent rule left out;
* ``data-dictionary.md``: the column and method definitions.

The ZIP's name says ``deidentified`` or ``IDENTIFIED``, so an identified file is hard to share
by mistake.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from analyzer import _version
from analyzer.errors import AnalyzerError
from analyzer.recovery.noise import smallest_real_change
from analyzer.service.access import Actor
from analyzer.service.export import (
    DEFAULT_STUDY,
    FORMATS,
    ExportError,
    Observations,
    build_observations,
    check_study,
    data_bytes,
    register_export,
    schema_for,
    schema_path_for,
    schema_text,
)
from analyzer.settings import DEFAULT
from analyzer.store.db import Store
from analyzer.vocab import METRIC_KEYS, REGIONS

__all__ = [
    "DEFAULT_STUDY",
    "DOCS",
    "FORMATS",
    "Download",
    "ExportError",
    "ExportOptions",
    "NoiseFigure",
    "Observations",
    "analyzer_version",
    "check_study",
    "data_dictionary_markdown",
    "deferred_download",
    "download_name",
    "export_bytes",
    "export_options",
    "export_table",
    "filter_rows",
    "load_export",
    "methods_sections",
    "noise_figures",
]

DOCS = Path(__file__).resolve().parents[2] / "docs"
"""The project's documentation (the Methods page and the data dictionary read it):
``analyzer/docs`` is a link to the checkout's ``docs/``, and the installed package holds a copy
(package data)."""

DATA_NAME = "observations"
"""Stem of the data file inside a download ZIP."""

_MIME = {"zip": "application/zip"}


@dataclass(frozen=True)
class ExportOptions:
    """What the filters can offer, read from the export's rows.

    Attributes
    ----------
    patients : tuple of str
        The table's pseudonyms with at least one row, sorted (keyed pseudonyms of the study in a
        de-identified export).
    regions, variables : tuple of str
        Values present, in the vocabulary's order (:data:`analyzer.vocab.REGIONS`,
        :data:`analyzer.vocab.METRIC_KEYS`).
    days : (float, float) or None
        Whole-day bounds around the ``days_since_treatment`` values present (floor of the
        smallest, ceiling of the largest), in days; ``None`` when no row has a day.
    rows_without_day : int
        Rows with no ``days_since_treatment`` (no treatment or no capture time).
    """

    patients: tuple[str, ...]
    regions: tuple[str, ...]
    variables: tuple[str, ...]
    days: tuple[float, float] | None
    rows_without_day: int


class Download(NamedTuple):
    """One download: the bytes, the file name to offer and its MIME type."""

    data: bytes
    file_name: str
    mime: str


@dataclass(frozen=True)
class NoiseFigure:
    """One measured noise figure from :data:`analyzer.settings.DEFAULT`."""

    label: str
    value: float
    """Standard deviation, in ``unit``."""
    unit: str
    note: str

    @property
    def smallest_real_change(self) -> float:
        """The smallest difference between two photos of this noise called real (about 95 %,
        :func:`analyzer.recovery.noise.smallest_real_change`), in ``unit``."""
        return smallest_real_change(self.value)


def load_export(store: Store, *, actor: Actor, identified: bool = False,
                study: str = DEFAULT_STUDY) -> Observations:
    """The store's observations, as the export use case builds them
    (:func:`analyzer.service.export.build_observations`; nothing is registered).

    Parameters
    ----------
    store : Store
    actor : Actor
        Who asks (checked by the use case).
    identified : bool
        False (default): de-identified, research-consent patients only, keyed pseudonyms of
        ``study``.  True (admin only): care-consent patients with the practice's pseudonyms,
        names, capture and treatment times and photo hashes.
    study : str
        The study whose keyed pseudonyms a de-identified export carries.

    Raises
    ------
    PermissionDenied
        When ``actor`` may not make this export.
    ExportError
        For a bad study name.

    Returns
    -------
    Observations
        ``table`` (columns :data:`analyzer.service.export.COLUMNS`, plus ``IDENTIFIED_COLUMNS``
        when identified; pandas nullable dtypes), ``identified``, ``patients`` (included, with
        or without rows) and ``excluded_without_consent``.
    """
    return build_observations(store, actor=actor, identified=identified, study=study)


def export_options(table: pd.DataFrame) -> ExportOptions:
    """The filter choices the rows of ``table`` (an export's table) allow."""
    present_regions = set(table["region"].dropna())
    present_vars = set(table["variable"].dropna())
    days = table["days_since_treatment"].dropna()
    return ExportOptions(
        patients=tuple(sorted(set(table["patient"].dropna()))),
        regions=tuple(r for r in REGIONS if r in present_regions) + tuple(sorted(present_regions - set(REGIONS))),
        variables=(tuple(v for v in METRIC_KEYS if v in present_vars)
                   + tuple(sorted(present_vars - set(METRIC_KEYS)))),
        days=(float(math.floor(days.min())), float(math.ceil(days.max()))) if len(days) else None,
        rows_without_day=int(table["days_since_treatment"].isna().sum()),
    )


def _check_names(kind: str, given: Sequence[str] | None, allowed: Sequence[str]) -> None:
    if given is None:
        return
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ExportError(f"{kind} filter", f"unknown {kind} {', '.join(map(repr, unknown))}",
                          f"use some of {', '.join(allowed)}")


def filter_rows(
    table: pd.DataFrame,
    *,
    patients: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    variables: Sequence[str] | None = None,
    days: tuple[float, float] | None = None,
    quality_ok_only: bool = False,
) -> pd.DataFrame:
    """The rows of an export's table that pass the filters (a new frame, index 0..n-1).

    Parameters
    ----------
    table : pandas.DataFrame
        An export's table (:attr:`Observations.table`).
    patients : sequence of str, optional
        The table's pseudonyms to keep (keyed ones in a de-identified table); ``None`` keeps all
        (an empty sequence keeps none).
    regions : sequence of str, optional
        Regions to keep, from :data:`analyzer.vocab.REGIONS`; ``None`` keeps all.
    variables : sequence of str, optional
        Variables to keep, from :data:`analyzer.vocab.METRIC_KEYS`; ``None`` keeps all.
    days : (float, float), optional
        Keep rows with ``lo <= days_since_treatment <= hi`` (days, inclusive); rows without a
        day are then left out.  ``None`` keeps every row, with or without a day.
    quality_ok_only : bool
        Keep only rows of photos that passed the quality gate (``quality_ok`` true).

    Raises
    ------
    ExportError
        For a region or variable name the analyzer does not know, or ``lo > hi``.
    """
    _check_names("region", regions, REGIONS)
    _check_names("variable", variables, METRIC_KEYS)
    keep = pd.Series(True, index=table.index)
    if patients is not None:
        keep &= table["patient"].isin(list(patients)).fillna(False).astype(bool)
    if regions is not None:
        keep &= table["region"].isin(list(regions)).fillna(False).astype(bool)
    if variables is not None:
        keep &= table["variable"].isin(list(variables)).fillna(False).astype(bool)
    if days is not None:
        lo, hi = float(days[0]), float(days[1])
        if lo > hi:
            raise ExportError("day filter", f"the range {lo:g} to {hi:g} days is empty",
                              "give the smaller number first")
        d = table["days_since_treatment"]
        keep &= ((d >= lo) & (d <= hi)).fillna(False).astype(bool)
    if quality_ok_only:
        keep &= table["quality_ok"].fillna(False).astype(bool)
    return table[keep.to_numpy()].reset_index(drop=True)


def export_table(
    store: Store,
    *,
    actor: Actor,
    patients: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    variables: Sequence[str] | None = None,
    days: tuple[float, float] | None = None,
    quality_ok_only: bool = False,
    identified: bool = False,
    study: str = DEFAULT_STUDY,
) -> pd.DataFrame:
    """The store's observations in long form, filtered; de-identified by default.

    :func:`load_export` then :func:`filter_rows` (see both for the parameters).

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`analyzer.service.export.COLUMNS` (de-identified) or with
        :data:`analyzer.service.export.IDENTIFIED_COLUMNS` added (``identified=True``).
    """
    ex = load_export(store, actor=actor, identified=identified, study=study)
    return filter_rows(ex.table, patients=patients, regions=regions, variables=variables, days=days,
                       quality_ok_only=quality_ok_only)


def download_name(source: Observations, fmt: str) -> str:
    """The file name of a download of ``source`` in ``fmt``:
    ``observations-<deidentified|IDENTIFIED>-<fmt>.zip`` (known before the bytes are built)."""
    kind = "IDENTIFIED" if source.identified else "deidentified"
    return f"{DATA_NAME}-{kind}-{fmt}.zip"


def _checked_member(df: pd.DataFrame, fmt: str, source: Observations) -> str:
    """The data file's name inside the ZIP, after checking the format and that ``df`` has the
    columns of ``source`` (:class:`ExportError` naming the fix otherwise)."""
    name = f"{DATA_NAME}.{fmt}"
    if fmt not in FORMATS:
        raise ExportError(name, f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if list(df.columns) != [c["name"] for c in source.columns]:
        raise ExportError(name, "the rows do not match the schema's columns",
                          "pass the export the rows came from")
    return name


def export_bytes(
    store: Store,
    df: pd.DataFrame,
    fmt: str,
    *,
    actor: Actor,
    source: Observations,
    filters: dict[str, Any] | None = None,
) -> Download:
    """A ZIP of the filtered rows in ``fmt``, their schema and the data dictionary, written to
    the export register (:func:`analyzer.service.export.register_export`: who, the practice's
    pseudonyms of the patients in ``df``, the filters) and the audit log as it is built.

    Parameters
    ----------
    store : Store
    df : pandas.DataFrame
        Rows from :func:`filter_rows` or :func:`export_table`.
    fmt : {"csv", "parquet", "json"}
    actor : Actor
        Who downloads (checked again by the use case).
    source : Observations
        The export the rows came from (:func:`load_export`); its ``identified`` flag names the
        ZIP (:func:`download_name`), its consent count and study go into the schema.
    filters : dict, optional
        The filters applied, recorded under ``filters`` in the schema (JSON-serialisable).

    Returns
    -------
    Download
        ``(data, file_name, mime)``: ZIP bytes, ``observations-<deidentified|IDENTIFIED>-<fmt>.zip``,
        ``application/zip``.  Members: ``observations.<fmt>`` and
        ``observations.<fmt>.schema.json``, serialised by the export use case exactly as
        ``python -m analyzer export`` writes them (:func:`analyzer.service.export.data_bytes`,
        :func:`analyzer.service.export.schema_for`; ``rows``, ``patients``,
        ``analyzer_versions_in_data`` and ``calibration_methods_in_data`` describe the filtered
        rows, and ``filters`` is added), and ``data-dictionary.md``.

    Raises
    ------
    ExportError
        For an unknown format, or rows whose columns or patients are not the source's.
    PermissionDenied
        When ``actor`` may not make this export.
    """
    name = _checked_member(df, fmt, source)
    schema = schema_for(df, fmt=fmt, file=name, identified=source.identified,
                        patients=int(df["patient"].nunique()) if len(df) else 0,
                        excluded_without_consent=source.excluded_without_consent, study=source.study)
    schema["filters"] = filters
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data_bytes(df, fmt))
        z.writestr(schema_path_for(name).name, schema_text(schema))
        z.writestr("data-dictionary.md", data_dictionary_markdown())
    data = buf.getvalue()
    register_export(store, source, df, actor=actor, fmt=fmt, filters=filters)
    return Download(data, download_name(source, fmt), _MIME["zip"])


def deferred_download(
    store: Store,
    df: pd.DataFrame,
    fmt: str,
    *,
    actor: Actor,
    source: Observations,
    filters: dict[str, Any] | None = None,
) -> Callable[[], bytes]:
    """A function that builds (and registers) the download of ``df`` in ``fmt`` when called:
    for ``st.download_button(data=...)``, which calls it when the button is clicked, so drawing
    the page hands nothing out and each click is one line of the export register.

    The format and columns are checked now (:class:`ExportError`), the rest when called
    (:func:`export_bytes`).
    """
    _checked_member(df, fmt, source)

    def build() -> bytes:
        return export_bytes(store, df, fmt, actor=actor, source=source, filters=filters).data

    return build


def _read_doc(name: str) -> str:
    path = DOCS / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise AnalyzerError(f"docs/{name}", "the documentation file cannot be read",
                            "install the package again (pip install skin-recovery-analyzer): its docs/ folder is incomplete") from e


def data_dictionary_markdown() -> str:
    """docs/data-dictionary.md as Markdown text.

    Raises
    ------
    AnalyzerError
        When the file is missing.
    """
    return _read_doc("data-dictionary.md")


_FENCE = re.compile(r"^\s*(```|~~~)")
_ANCHOR_LINK = re.compile(r"\[([^\]]+)\]\(#[^)]*\)")
_HEADING = re.compile(r"^(#{1,6}) (.*)$")


def _sections(text: str) -> list[tuple[str, str]]:
    """Split Markdown at level-2 headings (outside code fences): [(heading, body)], the text
    before the first one under heading ``""`` (its level-1 title line dropped); headings inside
    bodies are lowered one level so they sit under the page's own, and in-page links
    (``[text](#anchor)``) become their text."""
    out: list[tuple[str, list[str]]] = [("", [])]
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        m = None if fenced else _HEADING.match(line)
        if m and len(m.group(1)) == 1:
            continue
        if m and len(m.group(1)) == 2:
            out.append((m.group(2).strip(), []))
            continue
        if m:
            line = "#" + line if len(m.group(1)) < 6 else line
        elif not fenced:
            line = _ANCHOR_LINK.sub(r"\1", line)  # in-page links break once split into tabs
        out[-1][1].append(line)
    return [(h, "\n".join(body).strip()) for h, body in out]


def _join(parts: list[tuple[str, str]]) -> str:
    return "\n\n".join((f"### {h}\n\n{b}" if h else b) for h, b in parts if b or h).strip()


def methods_sections() -> list[tuple[str, str]]:
    """The Methods page, as (title, Markdown) sections taken from the docs.

    ``How each metric is computed`` (docs/metrics.md up to the colour normalisation),
    ``How light is corrected`` (its colour normalisation), ``Quality gate``,
    ``Recovery curve and bands`` (docs/recovery.md without its command-line section),
    ``Validation`` (docs/validation.md) and ``References``.  Each section starts with the
    file it comes from and the analyzer version; math is plain text as in the docs.

    Raises
    ------
    AnalyzerError
        When a documentation file is missing.
    """
    metrics = _sections(_read_doc("metrics.md"))
    recovery = _sections(_read_doc("recovery.md"))
    validation = _sections(_read_doc("validation.md"))

    def pick(parts, names):
        return [p for p in parts if p[0] in names]

    def upto(parts, stop):
        out = []
        for p in parts:
            if p[0] == stop:
                break
            out.append(p)
        return out

    later = {"Colour normalisation", "Quality gate", "References"}
    groups = [
        ("How each metric is computed", "docs/metrics.md",
         [p for p in upto(metrics, "Colour normalisation") if p[0] not in later]),
        ("How light is corrected", "docs/metrics.md", pick(metrics, {"Colour normalisation"})),
        ("Quality gate", "docs/metrics.md", pick(metrics, {"Quality gate"})),
        ("Recovery curve and bands", "docs/recovery.md", [p for p in recovery if p[0] != "Command line"]),
        ("Validation", "docs/validation.md", validation),
        ("References", "docs/metrics.md", pick(metrics, {"References"})),
    ]
    v = _version.__version__
    out = []
    for title, src, parts in groups:
        body = _join(parts)
        if not body:
            continue
        out.append((title, f"*From `{src}`; analyzer {v}.*\n\n{body}"))
    return out


def analyzer_version() -> str:
    """The analyzer's version (``analyzer._version.__version__``)."""
    return _version.__version__


def noise_figures() -> list[NoiseFigure]:
    """The measured redness noise from :data:`analyzer.settings.DEFAULT` (docs/validation.md)."""
    return [
        NoiseFigure("Redness noise, card-free (sclera)", DEFAULT.redness_noise_sd_card_free_ei, "EI",
                    "face redness at baseline over held-out lights, exposures and rooms, no chart"),
        NoiseFigure("Redness noise, ColorChecker in frame", DEFAULT.redness_noise_sd_chart_ei, "EI",
                    "the same with a ColorChecker chart beside the face"),
    ]
