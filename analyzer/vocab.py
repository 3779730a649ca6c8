"""The project's vocabulary: the one list of each name that the library, the store, the export,
the command line and the dashboard share.

Everything else imports these; nothing writes them again.

=====================  ==================================================================
name                   what it lists
=====================  ==================================================================
:data:`METRICS`        the six measurements: key, method, unit, label (methods built from
                       :data:`analyzer.settings.DEFAULT`, so a changed setting renames its method)
:data:`REGION_KEYS`    anatomical regions in report order; ``left``/``right`` are the patient's
:data:`FACE_REGIONS`   the regions whose skin-weighted mean is the face value
:data:`REGIONS`        ``"face"`` and the regions: the ``region`` values of an observation
:data:`REFERENCE_PARTS`  parts of the eyes a photo's light reference records
:data:`QUALITY_CODES`  the quality gate's codes and whether each makes the numbers unreliable
:data:`SEVERITIES`     flag severities in rising order; :data:`TRIAGE_ORDER` and
                       :func:`severity_rank` put the most pressing first
:data:`FLAG_CODES`     the recovery flags
:data:`ASSESSMENT_STATUSES`  a course's verdict; :data:`ASSESSMENT_REASONS` why it cannot tell
:data:`PHOTO_EXTENSIONS`  the file endings read as photos inside a folder and offered for upload
=====================  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .settings import DEFAULT, Settings

__all__ = [
    "ASSESSMENT_REASONS",
    "ASSESSMENT_STATUSES",
    "FACE_REGIONS",
    "FLAG_CODES",
    "METRICS",
    "METRIC_KEYS",
    "NON_BLOCKING_CODES",
    "PHOTO_EXTENSIONS",
    "QUALITY_CODES",
    "REFERENCE_PARTS",
    "REGIONS",
    "REGION_KEYS",
    "SEVERITIES",
    "TRIAGE_ORDER",
    "Metric",
    "QualityCode",
    "is_photo_file",
    "metrics_for",
    "severity_rank",
]


# --- measurements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One measured variable.

    Attributes
    ----------
    key : str
        The name in results, JSON and the export (``redness``, ...).
    method : str
        How it is measured, a stable identifier stored beside every observation.
    unit : str
        Unit of the value, as stored and exported.
    label : str
        A short human name for tables and charts.
    """

    key: str
    method: str
    unit: str
    label: str


def metrics_for(settings: Settings = DEFAULT) -> tuple[Metric, ...]:
    """The six metrics with the method names that ``settings`` give (docs/metrics.md).

    The texture method names its Gaussian scale and the flaking method its speck diameters, so
    observations measured with other settings never share a method name with the default's.
    """
    return (
        Metric("redness", "erythema_index_100log10RG", "unitless", "Redness (erythema index)"),
        Metric("hemoglobin", "tsumura_1999", "ln_optical_density", "Hemoglobin"),
        Metric("melanin", "tsumura_1999", "ln_optical_density", "Pigment (melanin)"),
        Metric("a_star", "cielab_a_star_d65", "unitless", "CIELAB a*"),
        Metric("texture", f"highpass_lnY_sigma{settings.texture_sigma_mm:g}mm", "percent",
               "Texture (roughness)"),
        Metric("flaking", f"bright_specks_{settings.flake_min_mm:g}_{settings.flake_max_mm:g}mm", "per_cm2",
               "Flaking"),
    )


METRICS: tuple[Metric, ...] = metrics_for(DEFAULT)
"""The six metrics of the default settings, in report order."""

METRIC_KEYS: tuple[str, ...] = tuple(m.key for m in METRICS)
"""The six numbers reported per region and for the face (docs/metrics.md for units)."""


# --- regions ---------------------------------------------------------------------------------------

REGION_KEYS: tuple[str, ...] = ("forehead", "left_cheek", "right_cheek", "chin", "nose")
"""Anatomical regions, in report order.  ``left``/``right`` are the patient's own sides."""

REFERENCE_PARTS: tuple[str, ...] = ("iris", "sclera")
"""Parts of the eyes whose colour a photo's light reference records, in this order
(:mod:`analyzer.colour.reference`)."""

FACE_REGIONS: tuple[str, ...] = ("forehead", "left_cheek", "right_cheek", "chin")
"""The regions whose skin-pixel-weighted mean is the face value (the nose is reported
alone)."""

REGIONS: tuple[str, ...] = ("face",) + REGION_KEYS
"""``region`` values of an observation: the face value and the anatomical regions."""


# --- quality -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityCode:
    """One code of the quality gate.

    ``blocking`` is True when the issue makes the photo's numbers unreliable, False when it is
    a note only, and None when the gate decides per photo (``region_occluded``,
    ``overexposed``: blocking when two or more face regions are covered or washed out, see
    :mod:`analyzer.face.quality`).
    """

    code: str
    blocking: bool | None
    what: str


QUALITY_CODES: MappingProxyType[str, QualityCode] = MappingProxyType({q.code: q for q in (
    QualityCode("several_faces", False, "more than one face; the largest was measured"),
    QualityCode("face_too_small", True, "the face is too small in the photo"),
    QualityCode("low_resolution", False, "texture and flaking measured on upsampled pixels"),
    QualityCode("head_turned", True, "the head is turned to a side"),
    QualityCode("head_tilted", True, "the head is tilted up, down or sideways"),
    QualityCode("blurred", True, "the photo is blurred"),
    QualityCode("overexposed", None, "part of the skin is clipped white (blocking when too little is left)"),
    QualityCode("underexposed", True, "too much of the skin is black"),
    QualityCode("region_occluded", None, "a region is covered (hair, glasses, hands)"),
    QualityCode("light_not_corrected", False, "no reference for the colour of the light was found"),
    QualityCode("mirrored", False, "saved mirrored (front camera); flipped back before measuring"),
)})
"""Every quality code, in the order the gate reports them."""

NON_BLOCKING_CODES: frozenset[str] = frozenset(c for c, q in QUALITY_CODES.items() if q.blocking is False)
"""Codes that never make the numbers unreliable (used for analyses stored before the
``blocking`` key was kept beside each issue)."""


# --- recovery flags -------------------------------------------------------------------------------

SEVERITIES: tuple[str, ...] = ("info", "warning", "urgent")
"""Flag severities in rising order."""

FLAG_CODES: tuple[str, ...] = (
    "persistent_redness",
    "redness_rebound",
    "darkening",
    "prolonged_peeling",
    "slow_fading",
    "poor_photo",
    "symptom_urgent",
    "itching_with_redness",
)
"""The recovery flags (docs/recovery.md says when each is raised)."""


ASSESSMENT_STATUSES: tuple[str, ...] = ("as_expected", "needs_attention", "inconclusive")
"""A course's verdict (:mod:`analyzer.recovery.assessment`)."""

ASSESSMENT_REASONS: tuple[str, ...] = (
    "no_photo_since_treatment",
    "no_reliable_photo",
    "too_far",
    "light_not_corrected",
    "mixed_calibration",
    "too_noisy",
    "no_reliable_photo_in_window",
    "baseline_estimated",
)
"""Why a course is inconclusive (:mod:`analyzer.recovery.assessment` says when each holds)."""

TRIAGE_ORDER: tuple[str, ...] = tuple(reversed(SEVERITIES)) + ("none", "not assessed")
"""A patient's state for triage, most pressing first: the worst flag's severity, ``none`` (a
course without flags) or ``not assessed`` (no treatment or no usable photo yet)."""


def severity_rank(severity: str) -> int:
    """Sort key, most pressing first (the index in :data:`TRIAGE_ORDER`: urgent 0, warning 1,
    info 2, none 3, not assessed 4).

    Raises
    ------
    ValueError
        For a name that is not in :data:`TRIAGE_ORDER`.
    """
    try:
        return TRIAGE_ORDER.index(severity)
    except ValueError:
        raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(TRIAGE_ORDER)}") from None


# --- files ---------------------------------------------------------------------------------------------

PHOTO_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff")
"""File endings read as photos inside a folder and offered by the upload (case-insensitive):
every container :func:`analyzer.intake.load_photo` decodes."""


def is_photo_file(name: str) -> bool:
    """True when ``name`` ends with one of :data:`PHOTO_EXTENSIONS` (any case)."""
    return name.lower().endswith(PHOTO_EXTENSIONS)


# --- accounts, consent and the audit trail (docs/security.md) ---------------------------------------

ROLES: tuple[str, ...] = ("patient", "practitioner", "researcher", "admin")
"""Who may sign in: a **patient** sees and adds to their own record only; a **practitioner** the
patients assigned to them; a **researcher** only the de-identified export of consenting
patients; an **admin** users, assignments, the identified export, deletion and the audit log.
:mod:`analyzer.service.access` is the one place that says what each role may do."""

CONSENT_SCOPES: tuple[str, ...] = ("care", "research")
"""``care``: the practice may store and analyse the patient's photos (nothing is stored or
analysed without it); ``research``: de-identified exports may include the patient."""

AUDIT_OUTCOMES: tuple[str, ...] = ("ok", "denied", "failed")
"""How an audited attempt ended: done, refused by the role policy, or failed (a wrong password,
an expired invite)."""
