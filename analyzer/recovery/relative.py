r"""One light for the whole course: map photos onto the baseline's light through the eyes.

A photo's own light correction can fail (no chart, the whites of the eyes too few or not white
enough: ``light_not_corrected``) or put it on another scale than the course's baseline (with the
colour card against without it: ``same_scale`` False).  Such a photo is still comparable with the
course if the colour of parts that the treatment does not change was measured in both: the
iris and the sclera (:mod:`analyzer.colour.reference`).  Under a diagonal change of light
(von Kries) the photo's light differs from the course's anchor light by

.. math:: d = (\ln g_R/g_G,\ \ln g_B/g_G) = \mathrm{ref}_\mathrm{anchor} - \mathrm{ref}_\mathrm{photo}

and its redness and pigment are shifted by exactly :func:`analyzer.measure.redness.erythema_shift`
and :func:`analyzer.measure.chromophores.density_shift` of ``d``.

Rules (each photo, each part present in the photo and the anchor):

* **Anchor.**  Per part and eye, the median over the photos whose light is comparable with the
  course (``Point.colour_ok``), those before the treatment when there are any.  When no photo's
  light was corrected: the photos before the treatment, or else the first photo (:func:`anchor`).
* **Both eyes must agree.**  A part's shift is the mean of the two eyes' shifts; its uncertainty
  per channel is the larger of the pixel statistics (photo and anchor in quadrature) and half the
  difference between the eyes' shifts.
* **The parts must agree.**  With iris and sclera both present, their shifts must lie within
  ``CONSISTENCY_Z`` combined uncertainties; otherwise one of them changed (an irritated eye, a
  catchlight) and the photo is not corrected.  Agreeing parts are combined by inverse variance.
* **Precise enough.**  The shift's uncertainty in erythema index must not exceed
  :data:`MAX_SHIFT_SD_EI`; otherwise the photo keeps its own correction (and its codes).

What is not corrected here: a photo on the course's scale whose light was corrected (it would
only gain the reference's noise), and photos without a measured reference (stored before
migration 0002, eyes closed or hidden).  The model is diagonal: a light whose spectrum changes
the eyes and the skin differently (strongly coloured LEDs, mixed daylight and lamp light on two
sides of the face) is not removed by any three-channel correction.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..measure.chromophores import density_shift
from ..measure.redness import erythema_shift
from ..result import LightReference
from .noise import QUALITY_INFLATION
from .points import Point

__all__ = ["CONSISTENCY_Z", "MAX_SHIFT_SD_EI", "Anchor", "Shift", "anchor", "anchor_of", "onto_anchor", "shift_to"]

MAX_SHIFT_SD_EI = 0.6
"""Erythema index.  Largest uncertainty of a shift that is applied: about the card-free
redness noise (``Settings.redness_noise_sd_card_free_ei``, 0.41 EI) with a margin, an eighth of
the day-1 effect (our choice; docs/validation.md)."""

CONSISTENCY_Z = 3.0
"""Iris and sclera shifts further apart than this many combined sds disagree (our choice)."""

_EYES = ("left", "right")


@dataclass(frozen=True)
class Shift:
    """A photo's light relative to the anchor: add ``d_rg``/``d_bg`` (natural log of the red and
    blue gains relative to green) to map it onto the anchor's light; ``sd_*`` their
    uncertainties; ``parts`` the reference parts used."""

    d_rg: float
    d_bg: float
    sd_rg: float
    sd_bg: float
    parts: tuple[str, ...]

    @property
    def redness(self) -> float:
        """Erythema index to add."""
        return erythema_shift(self.d_rg)

    @property
    def redness_sd(self) -> float:
        return abs(erythema_shift(self.sd_rg))

    @property
    def melanin(self) -> float:
        """Melanin density (OD) to add."""
        return density_shift(self.d_rg, self.d_bg)[0]

    @property
    def melanin_sd(self) -> float:
        return math.hypot(density_shift(self.sd_rg, 0.0)[0], density_shift(0.0, self.sd_bg)[0])


@dataclass(frozen=True)
class Anchor:
    """Per part: each eye's (ln R/G, ln B/G) and the pixel standard errors (rg, bg)."""

    parts: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]]
    photos: tuple[str, ...]


def anchor(points: Sequence[Point]) -> Anchor | None:
    """The course's anchor light (see the module); None when no anchor photo has a reference."""
    with_ref = [p for p in points if p.reference is not None and p.reference.parts]
    ok = [p for p in with_ref if p.colour_ok]
    if ok:  # the course's own corrected frame: all of them are in it
        chosen = [p for p in ok if p.hours < 0] or ok
    else:  # no photo's light was corrected: the light of the photos before, or of the first
        chosen = [p for p in with_ref if p.hours < 0] or sorted(with_ref, key=lambda p: p.hours)[:1]
    return anchor_of([p.reference for p in chosen], tuple(p.file for p in chosen)) if chosen else None


def anchor_of(refs: Sequence[LightReference], photos: tuple[str, ...] = ()) -> Anchor | None:
    """The anchor of the given photos' references: per part and eye, the median (see the
    module); None when none has a part."""
    parts = {}
    for name in {n for r in refs for n in r.parts}:
        cols = [r.parts[name] for r in refs if name in r.parts]
        eyes = tuple(
            tuple(statistics.median(getattr(c, eye)[k] for c in cols) for k in (0, 1)) for eye in _EYES
        )
        se = tuple(statistics.median(getattr(c, f"se_{ch}") for c in cols) / math.sqrt(len(cols))
                   for ch in ("rg", "bg"))
        parts[name] = (eyes[0], eyes[1], se)
    return Anchor(parts, photos) if parts else None


def shift_to(ref: LightReference | None, anc: Anchor) -> Shift | None:
    """The photo's :class:`Shift` onto the anchor, or None when the rules refuse it."""
    if ref is None:
        return None
    estimates = []
    for name, (a_left, a_right, a_se) in sorted(anc.parts.items()):
        col = ref.parts.get(name)
        if col is None:
            continue
        d_left = [a_left[k] - col.left[k] for k in (0, 1)]
        d_right = [a_right[k] - col.right[k] for k in (0, 1)]
        d = [(d_left[k] + d_right[k]) / 2 for k in (0, 1)]
        pix = (col.se_rg, col.se_bg)
        sd = [max(math.hypot(pix[k], a_se[k]), abs(d_left[k] - d_right[k]) / 2) for k in (0, 1)]
        estimates.append((name, d, sd))
    if not estimates:
        return None
    if len(estimates) == 2:
        (_, d1, s1), (_, d2, s2) = estimates
        if any(abs(d1[k] - d2[k]) > CONSISTENCY_Z * math.hypot(s1[k], s2[k]) for k in (0, 1)):
            return None
    d, sd = [], []
    for k in (0, 1):
        w = [1.0 / max(s[k], 1e-6) ** 2 for _, _, s in estimates]
        d.append(sum(wi * e[1][k] for wi, e in zip(w, estimates)) / sum(w))
        sd.append(1.0 / math.sqrt(sum(w)))
    shift = Shift(d[0], d[1], sd[0], sd[1], tuple(n for n, _, _ in estimates))
    return shift if shift.redness_sd <= MAX_SHIFT_SD_EI else None


def _needs_shift(p: Point) -> bool:
    return p.quality_ok and not p.colour_ok


def onto_anchor(points: Sequence[Point]) -> tuple[list[Point], str | None]:
    """Map the photos whose light is not comparable with the course onto its anchor light.

    Returns the points (shifted ones with ``light == "relative"``, their redness, melanin and sds
    updated, ``same_scale`` True) and a note for the series, or None when nothing was shifted.
    """
    todo = [p for p in points if _needs_shift(p)]
    anc = anchor(points) if todo else None
    if anc is None:
        return list(points), None
    out, shifted = [], 0
    for p in points:
        s = shift_to(p.reference, anc) if _needs_shift(p) else None
        if s is None:
            out.append(p)
            continue
        own = p.redness_sd / (QUALITY_INFLATION["light_not_corrected"] if not p.light_ok else 1.0)
        own_mel = p.melanin_sd / (QUALITY_INFLATION["light_not_corrected"] if not p.light_ok else 1.0)
        out.append(replace(
            p, redness=p.redness + s.redness, melanin=p.melanin + s.melanin,
            redness_sd=math.hypot(own, s.redness_sd), melanin_sd=math.hypot(own_mel, s.melanin_sd),
            same_scale=True, light="relative", light_shift_ei=s.redness,
        ))
        shifted += 1
    if not shifted:
        return out, None
    return out, (f"{shifted} photo{'s were' if shifted != 1 else ' was'} mapped onto the light of the "
                 "photos before the treatment through the colour of the eyes (iris and whites), "
                 "because the room's light or the colour card differed.")
