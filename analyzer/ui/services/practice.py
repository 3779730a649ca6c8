"""What the Practitioner page does: every patient in one triage table, and a printable report of
one patient's course.

Plain Python (no Streamlit): every function takes the store (and the analyzer when photos are
read) and returns values; nothing is cached here.  The page decides what a user's session may
keep (``analyzer/ui/state.py``).  Who needs attention first is decided by the triage use case
(:mod:`analyzer.service.triage`); this module turns it into a table and the course into HTML.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from PIL import Image

from analyzer import __version__ as ANALYZER_VERSION
from analyzer.errors import plain_message
from analyzer.pipeline import Analyzer
from analyzer.recovery.assessment import reasons_in_words
from analyzer.service import triage as triage_case
from analyzer.service.access import Actor, check
from analyzer.service.audit import record
from analyzer.service.patients import visible_patients
from analyzer.store.db import Store, StoreError
from analyzer.ui.charts import SEVERITY_COLOURS, metric_chart, recovery_chart
from analyzer.vocab import METRICS, TRIAGE_ORDER

from .patient import CourseView, TimelinePhoto, aligned_faces, course_view, overlay_image, timeline

__all__ = [
    "KEY_PHOTO_SIZE",
    "SEVERITY_LABELS",
    "TRIAGE_COLUMNS",
    "KeyPhoto",
    "key_photos",
    "report_file_name",
    "report_html",
    "triage",
]

SEVERITY_LABELS = dict(zip(TRIAGE_ORDER, ("Urgent", "Warning", "Info", "No flag", "Not assessed"), strict=True))
"""How each triage state (:data:`analyzer.vocab.TRIAGE_ORDER`) is written for people."""

TRIAGE_COLUMNS = ("pseudonym", "name", "photos", "last_photo", "days_since_treatment", "severity", "flags",
                  "what_to_do", "distance", "status", "verdict", "cant_tell")
"""The columns of :func:`triage`, in order."""

KEY_PHOTO_SIZE = 320
"""px.  Side of the lined-up face crops in the report."""

_SMALL_CHARTS = ("flaking", "texture", "melanin")
"""The small charts of the report, in order (metrics of :data:`analyzer.ui.charts.METRIC_CHARTS`); their
headings are the metrics' labels (:data:`analyzer.vocab.METRICS`)."""

_LABELS = {m.key: m.label for m in METRICS}

_OVERLAY_MAX_WIDTH = 720
"""px.  The overlay (crop + heat map side by side) is scaled down to at most this width."""


# --- triage ----------------------------------------------------------------------------------------


def triage(store: Store, now: datetime | None = None, *, actor: Actor) -> pd.DataFrame:
    """Every patient within ``actor``'s reach in one table, the ones who need attention first
    (:func:`analyzer.service.triage.triage`).

    Parameters
    ----------
    store : Store
    now : datetime, optional
        The time "days since treatment" is counted to; default: now (UTC).

    Returns
    -------
    DataFrame
        One row per patient, in the use case's order, columns :data:`TRIAGE_COLUMNS` (the
        fields of :class:`analyzer.service.triage.TriageRow`): ``name`` is ``""`` when the
        patient has none, ``flags`` the codes comma separated, most severe first, and
        ``cant_tell`` why the course cannot tell yet, in words, comma separated ("" when it can).
    """
    rows = [{
        "pseudonym": r.pseudonym, "name": r.name or "", "photos": r.photos, "last_photo": r.last_photo,
        "days_since_treatment": r.days_since_treatment, "severity": r.severity, "flags": ", ".join(r.flags),
        "what_to_do": r.what_to_do, "distance": r.distance, "status": r.status, "verdict": r.verdict,
        "cant_tell": reasons_in_words(r.cant_tell),
    } for r in triage_case.triage(store, now, actor=actor)]
    return pd.DataFrame(rows, columns=list(TRIAGE_COLUMNS))


# --- the report --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class KeyPhoto:
    """One photo chosen for the report.

    Attributes
    ----------
    role : {"baseline", "peak", "latest"}
    photo : TimelinePhoto
    point : Series
        Its row of :attr:`CourseView.points` (day, excess, expected, ...).
    """

    role: str
    photo: TimelinePhoto
    point: pd.Series


def key_photos(view: CourseView, photos: Sequence[TimelinePhoto]) -> list[KeyPhoto]:
    """The baseline, the peak-redness and the latest good photo of the course (each once).

    Parameters
    ----------
    view : CourseView
    photos : sequence of TimelinePhoto
        The patient's stored photos (:func:`analyzer.ui.services.patient.timeline`).

    Returns
    -------
    list of KeyPhoto
        In time order; a photo that plays two roles (e.g. peak and latest) is listed once under
        the first of them.  Empty when the course has no points.
    """
    by_sha = {p.sha256: p for p in photos}
    pts = view.points[view.points["sha256"].isin(list(by_sha))]
    if pts.empty:
        return []
    good = pts[pts["quality_ok"].astype(bool)]
    after = good[good["hours"] >= 0]
    before = good[good["hours"] < 0]
    base_files = set(view.series.baseline.photos) if view.series.baseline is not None else set()
    chosen: list[tuple[str, pd.Series]] = []
    base_rows = before[before["file"].isin(base_files)]
    if not base_rows.empty:
        chosen.append(("baseline", base_rows.iloc[-1]))
    elif not before.empty:
        chosen.append(("baseline", before.iloc[-1]))
    if not after.empty:
        chosen.append(("peak", after.loc[after["excess"].idxmax()]))
        chosen.append(("latest", after.iloc[-1]))
    out: list[KeyPhoto] = []
    seen = set()
    for role, row in chosen:
        if row["sha256"] in seen:
            continue
        seen.add(row["sha256"])
        out.append(KeyPhoto(role, by_sha[row["sha256"]], row))
    return out


def report_file_name(pseudonym: str, when: datetime | None = None) -> str:
    """``report-<pseudonym>-<YYYY-MM-DD>.html``, with anything but letters, digits, ``-`` and
    ``_`` in the pseudonym replaced by ``_``."""
    when = when or datetime.now(UTC)
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", pseudonym) or "patient"
    return f"report-{safe}-{when:%Y-%m-%d}.html"


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _jpeg_data_uri(rgb: np.ndarray, max_width: int | None = None) -> str:
    """Re-encode an RGB uint8 array as a base64 JPEG data URI (no metadata of the original)."""
    img = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    if max_width is not None and img.width > max_width:
        img = img.resize((max_width, round(img.height * max_width / img.width)), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _svg(chart, width: int, name: str) -> str:
    """An Altair chart as inline SVG (vl-convert, offline), ``width`` px wide and scaled down to
    fit the page; any ids in it are prefixed with ``name`` so several charts can share a page."""
    import vl_convert as vlc  # imported here: only the report needs it

    spec = chart.to_dict()
    spec["width"] = width
    svg = vlc.vegalite_to_svg(spec)
    tag = f"{name}-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{tag}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{tag}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{tag}{m.group(1)}"', svg)
    return re.sub(r"^<svg ", '<svg role="img" style="max-width:100%;height:auto" ', svg.strip(), count=1)


def _fmt(x: float, spec: str = ".2f", missing: str = "–") -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return missing
    return format(x, spec) if math.isfinite(x) else missing


def _when(dt: datetime | None, zone: bool = False) -> str:
    """``YYYY-MM-DD HH:MM`` (wall clock), with the UTC offset when ``zone`` and known."""
    if dt is None:
        return "unknown"
    text = dt.strftime("%Y-%m-%d %H:%M")
    if zone and dt.utcoffset() is not None:
        off = int(dt.utcoffset().total_seconds() // 60)
        text += " UTC" if off == 0 else f" (UTC{'+' if off > 0 else '-'}{abs(off) // 60:02d}:{abs(off) % 60:02d})"
    return text


_CSS = (":root { --ink:#1f2a27; --muted:#5d6b67; --line:#d9dfdd; --soft:#f4f6f5; "
        + " ".join(f"--{k}:{v};" for k, v in SEVERITY_COLOURS.items()) + " }") + """
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); margin: 0; background: #fff; }
main { max-width: 960px; margin: 0 auto; padding: 28px 32px 40px; }
h1 { font-size: 22px; margin: 0 0 2px; font-weight: 600; }
h2 { font-size: 16px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line);
  font-weight: 600; }
h3 { font-size: 14px; margin: 14px 0 4px; font-weight: 600; }
p { margin: 4px 0 8px; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.confidential { display: inline-block; margin: 6px 0 10px; padding: 3px 10px; border: 1px solid #9a3b31;
  color: #9a3b31; border-radius: 3px; font-size: 12px; font-weight: 600; letter-spacing: .02em; }
header { border-bottom: 2px solid var(--ink); padding-bottom: 10px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 6px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 32px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.poor td { color: var(--muted); }
.badge { display: inline-block; min-width: 64px; text-align: center; padding: 1px 8px; border-radius: 3px;
  font-size: 12px; font-weight: 600; color: #fff; }
.badge.urgent { background: var(--urgent); } .badge.warning { background: var(--warning); }
.badge.info { background: var(--info); } .badge.none { background: #6f7d79; }
.summary { padding: 10px 14px; background: var(--soft); border-left: 4px solid #6f7d79; margin: 14px 0 4px; }
.summary.urgent { border-left-color: var(--urgent); } .summary.warning { border-left-color: var(--warning); }
.summary.info { border-left-color: var(--info); }
figure { margin: 6px 0 10px; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; }
.charts-small { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 10px; }
.photos { display: grid; grid-template-columns: repeat(3, 1fr); gap: 14px; }
.photos img { width: 100%; height: auto; border-radius: 3px; display: block; background: var(--soft); }
.photo-missing { aspect-ratio: 1; display: flex; align-items: center; justify-content: center; padding: 12px;
  background: var(--soft); color: var(--muted); font-size: 12px; text-align: center; border-radius: 3px; }
.overlay img { max-width: 100%; height: auto; border-radius: 3px; }
footer { margin-top: 30px; padding-top: 8px; border-top: 1px solid var(--line); font-size: 12px; color: var(--muted); }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  figure, .photos, .summary, tr, dl.facts { break-inside: avoid; page-break-inside: avoid; }
  .badge, .summary, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
"""


def _badge(severity: str) -> str:
    sev = severity if severity in SEVERITY_LABELS else "none"
    return f'<span class="badge {_e(sev)}">{_e(SEVERITY_LABELS[sev])}</span>'


def _photo_caption(kp: KeyPhoto) -> str:
    role = {"baseline": "Baseline (before treatment)", "peak": "Peak redness", "latest": "Latest photo"}[kp.role]
    parts = [role]
    parts.append(f"day {float(kp.point['day']):.1f}")
    if kp.role != "baseline":
        parts.append(f"redness {float(kp.point['excess']):+.2f} EI above baseline "
                     f"(expected {float(kp.point['expected']):.2f})")
    parts.append(_when(kp.photo.captured_at))
    return " · ".join(parts)


def _photos_section(store: Store, analyzer: Analyzer, view: CourseView, photos: Sequence[TimelinePhoto],
                    with_overlay: bool, actor: Actor) -> str:
    keys = key_photos(view, photos)
    if not keys:
        return '<p class="muted">No usable photo to show.</p>'
    out = []
    try:
        faces = aligned_faces(store, analyzer, [k.photo for k in keys], keys[0].photo, size=KEY_PHOTO_SIZE,
                              actor=actor)
    except Exception as e:  # noqa: BLE001 - the report still goes out, with the reason
        faces = {k.photo.sha256: plain_message(e) for k in keys}
    out.append('<div class="photos">')
    for k in keys:
        face = faces.get(k.photo.sha256, "not available")
        cap = _photo_caption(k)
        if isinstance(face, np.ndarray):
            body = f'<img src="{_jpeg_data_uri(face)}" alt="{_e(cap)}">'
        else:
            body = f'<div class="photo-missing">Could not be shown: {_e(face)}</div>'
        out.append(f"<figure>{body}<figcaption>{_e(cap)}</figcaption></figure>")
    out.append("</div>")
    out.append('<p class="small muted">Faces are lined up with the first photo (same eye positions and size); '
               "the light is corrected as for the measurements, so colour differences are the skin's.</p>")
    if with_overlay:
        latest = keys[-1]
        try:
            ov = overlay_image(store, analyzer, latest.photo, actor=actor)
            out.append('<figure class="overlay">'
                       f'<img src="{_jpeg_data_uri(ov, _OVERLAY_MAX_WIDTH)}" alt="Regions and redness map">'
                       f"<figcaption>{_e(_photo_caption(latest))}: the measured regions (left) and the "
                       "hemoglobin map relative to the face's median (right).</figcaption></figure>")
        except Exception as e:  # noqa: BLE001
            out.append(f'<p class="muted">The redness map could not be made: {_e(plain_message(e))}</p>')
    return "\n".join(out)


def _flags_section(view: CourseView) -> str:
    if view.flags.empty:
        a = view.series.assessment
        if a is not None and a.status == "inconclusive":
            return "<p>No flags, but the photos cannot show everything yet (see the summary above).</p>"
        return '<p>No flags: the course so far is within the expected range.</p>'
    rows = []
    for f in view.flags.itertuples(index=False):
        photo = f.file if isinstance(f.file, str) and f.file else "–"
        rows.append(f"<tr><td>{_badge(str(f.severity))}</td><td class='num'>{_fmt(f.day, '.1f')}</td>"
                    f"<td>{_e(f.code)}</td><td>{_e(f.message)}</td><td class='small'>{_e(photo)}</td></tr>")
    return ("<table><thead><tr><th>Severity</th><th class='num'>Day</th><th>Flag</th>"
            "<th>What it means and what to do (as the patient is told)</th><th>Photo</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _points_section(view: CourseView) -> str:
    pts = view.points
    if pts.empty:
        return '<p class="muted">No analysed photo in this course yet.</p>'
    flagged = set(view.flags["file"].dropna()) if not view.flags.empty else set()
    rows = []
    for p in pts.itertuples(index=False):
        cls = "" if p.colour_ok else ' class="poor"'
        note = "flag" if p.file in flagged else ""
        rows.append(
            f"<tr{cls}><td class='num'>{_fmt(p.day, '.1f')}</td><td>{_e(_when(p.captured_at))}</td>"
            f"<td class='num'>{_fmt(p.excess, '+.2f')} ± {_fmt(2 * p.noise, '.2f')}</td>"
            f"<td class='num'>{_fmt(p.expected, '.2f')}</td>"
            f"<td class='num'>{_fmt(p.low, '.2f')} to {_fmt(p.high, '.2f')}</td>"
            f"<td>{_e(p.quality)}</td><td>{note}</td></tr>")
    return ("<table><thead><tr><th class='num'>Day</th><th>Taken</th>"
            "<th class='num'>Redness above baseline (EI, ± 2 sd)</th><th class='num'>Expected</th>"
            "<th class='num'>Normal range</th><th>Photo quality</th><th></th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>"
            "<p class='small muted'>EI: erythema index, 100·log10(R/G) of linear RGB, unitless. "
            "Normal range: the expected curve's spread between fast and slow healers, widened by "
            "± 2 sd of the measurement noise.</p>")


def report_html(store: Store, analyzer: Analyzer, pseudonym: str, now: datetime | None = None, *,
                actor: Actor, region: str = "face", with_overlay: bool = True) -> str:
    """A self-contained, printable HTML report of one patient's latest treatment.

    Parameters
    ----------
    store : Store
    analyzer : Analyzer
        An open analyzer (photos are read again to line up the faces and draw the overlay).
    pseudonym : str
    now : datetime, optional
        The report's time (generated-at, days since treatment); default: now (UTC).
    region : str
        ``face`` (area-weighted whole face) or one region of
        :data:`analyzer.ui.services.patient.REGION_CHOICES`.
    with_overlay : bool
        Add the latest photo's region outlines and hemoglobin map.

    Returns
    -------
    str
        One HTML document with everything inline (CSS, charts as SVG, photos as base64 JPEG
        re-encoded from pixel arrays, so no metadata of the originals), printable (A4): the
        treatment and baseline, the flags with severity and what to do, the recovery chart and
        the flaking, texture and melanin charts, the baseline, peak-redness and latest photos
        lined up, a table of every photo's numbers, the measurement noise, and the analyzer
        version.  All text is HTML-escaped.  It names the patient (display name and
        pseudonym): it is health data and says so at the top.

    Raises
    ------
    PermissionDenied
        ``actor`` may not see this patient's report (audited).
    StoreError
        When the patient is not in the store.

    Notes
    -----
    Photos that cannot be lined up or overlaid are replaced by their plain reason; the report
    is still made.
    """
    now = now or datetime.now(UTC)
    check(store, actor, "report.view", pseudonym)
    info = next((p for p in visible_patients(store, actor=actor) if p.pseudonym == pseudonym), None)
    if info is None:
        raise StoreError(f"patient {pseudonym}", "no such patient in the store", "check the pseudonym")
    title_name = f"{info.display_name} ({pseudonym})" if info.display_name else pseudonym
    record(store, actor, "report.view", patient=pseudonym)
    view = course_view(store, pseudonym, actor=actor, region=region, now=now)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Recovery report – {_e(title_name)}</title>", f"<style>{_CSS}</style></head><body><main>",
        "<header>",
        f"<h1>Recovery report: {_e(title_name)}</h1>",
        ('<div class="confidential">Confidential: contains health data. Keep it with the patient\'s record; '
         "do not forward.</div>"),
        (f'<p class="small muted">Generated {_e(_when(now, zone=True))} · '
         f"skin recovery analyzer {_e(ANALYZER_VERSION)} · region: {_e(region.replace('_', ' '))}</p>"),
        "</header>",
    ]
    if view is None:
        parts.append("<h2>Treatment</h2><p>No treatment is recorded for this patient, so there is no "
                     "recovery course to report. Add the treatment on the Patient page.</p>")
        parts.append(_footer(now))
        return "\n".join(parts)

    s, tr = view.series, view.treatment
    z, zday = view.distance
    worst = view.worst_severity or "none"
    a = s.assessment
    if worst == "none" and a is not None and a.status == "inconclusive":
        why = reasons_in_words(a.reasons)
        headline = f"No open flags, but the photos cannot tell yet ({why}). {a.advice}"
    elif worst == "none":
        headline = "No open flags: the course so far is within the expected range."
    else:
        f0 = view.flags.iloc[0]
        headline = f"Most severe open flag, {f0['code']} on day {float(f0['day']):.1f}: {f0['message']}"
    parts.append(f'<div class="summary {_e(worst)}">{_badge(worst)} {_e(headline)}</div>')

    facts = [
        ("Treated", _when(tr.treated_at, zone=True)),
        ("Needle depth", f"{tr.needle_depth_mm:g} mm"),
        ("Protocol", tr.protocol),
        ("Areas", ", ".join(a.replace("_", " ") for a in tr.areas) or "–"),
        ("Days since treatment", f"{view.hours_now / 24:.1f}"),
        ("Photos in this course", str(len(view.points))),
    ]
    b = s.baseline
    if b is None:
        base = [("Baseline", "none: no usable photo")]
    else:
        peak_from = "fitted to the first photos" if s.course.peak_source == "fitted" else "protocol default"
        base = [
            ("Baseline", ("estimated from the course" if b.estimated else b.method)),
            ("Baseline photos", ", ".join(b.photos) or "–"),
            ("Baseline redness", f"{b.redness:.2f} EI (± {2 * b.redness_sd:.2f}, 2 sd)"),
            ("Expected peak", f"{s.course.peak_excess_ei:.2f} EI above baseline ({peak_from})"),
            ("Half-life of redness",
             f"{s.course.half_life_h:.0f} h (normal {s.course.half_life_low_h:.0f}–{s.course.half_life_high_h:.0f} h)"),
            ("Latest distance from expected",
             "–" if zday is None or not math.isfinite(z) else f"{z:+.1f} sd (day {zday:.1f})"),
        ]
    parts.append('<h2>Treatment and baseline</h2><div class="columns">'
                 + "".join('<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in group)
                           + "</dl>" for group in (facts, base)) + "</div>")

    parts.append("<h2>Flags</h2>")
    parts.append(_flags_section(view))

    parts.append("<h2>Redness over time</h2>")
    try:
        chart = _svg(recovery_chart(view, height=300), 780, "recovery")
        parts.append(f"<figure>{chart}<figcaption>Redness above baseline "
                     "(dots, with ± 2 sd bars) against the expected curve (line), its normal range for "
                     "healing speed (dark band) and measurement noise (light band); dashed lines mark "
                     "flags.</figcaption></figure>")
        small = []
        for metric in _SMALL_CHARTS:
            small.append(f"<figure><h3>{_e(_LABELS[metric])}</h3>{_svg(metric_chart(view, metric, height=150), 220, metric)}"
                         "<figcaption>Change from baseline, each photo ± 2 sd; grey band: ± 2 sd of the "
                         "baseline.</figcaption></figure>")
        parts.append('<div class="charts-small">' + "".join(small) + "</div>")
    except Exception as e:  # noqa: BLE001
        parts.append(f'<p class="muted">The charts could not be drawn: {_e(plain_message(e))}</p>')
    if s.smallest_real_change is not None:
        parts.append(f"<p><strong>Measurement noise.</strong> Between two photos, a change in redness smaller "
                     f"than {s.smallest_real_change:.2f} EI can be measurement noise (light, angle, camera); "
                     "only larger changes are read as real.</p>")

    parts.append("<h2>Key photos</h2>")
    parts.append(_photos_section(store, analyzer, view, timeline(store, pseudonym, tr, actor=actor),
                                 with_overlay, actor))

    parts.append("<h2>Every photo</h2>")
    parts.append(_points_section(view))
    if s.skipped:
        parts.append("<h3>Photos left out</h3><ul>"
                     + "".join(f"<li>{_e(f)}: {_e(r)}</li>" for f, r in s.skipped) + "</ul>")
    if s.notes:
        parts.append("<h3>Notes</h3><ul>" + "".join(f"<li>{_e(n)}</li>" for n in s.notes) + "</ul>")
    parts.append(_footer(now))
    return "\n".join(parts)


def _footer(now: datetime) -> str:
    return ("<footer>Made by the skin recovery analyzer "
            f"{_e(ANALYZER_VERSION)} on {_e(_when(now))}. The numbers describe the photos, not a diagnosis; "
            "read them with the patient's history and an examination. Confidential: contains health data."
            "</footer></main></body></html>")
