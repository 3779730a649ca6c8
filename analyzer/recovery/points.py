"""The numbers the flags work on: one :class:`Point` per photo and the :class:`Baseline`.

Kept apart from images so the course and flag logic can be tested on made-up numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..result import LightReference

__all__ = ["Baseline", "Point"]


@dataclass(frozen=True)
class Point:
    """One photo of the series, reduced to its face values and their noise.

    Units: ``hours`` h since treatment; redness values erythema index (EI); ``melanin`` optical
    density (OD); ``texture`` percent; ``flaking`` flakes/cm^2.  The ``*_sd`` fields are one
    standard deviation in the same units (see :mod:`analyzer.recovery.noise`).
    """

    file: str
    captured_at: datetime
    hours: float
    redness: float
    melanin: float
    texture: float
    flaking: float
    redness_sd: float
    melanin_sd: float
    texture_sd: float
    flaking_sd: float
    quality_ok: bool = True
    quality_issues: tuple[tuple[str, str], ...] = ()
    """(code, message) of each blocking quality problem."""
    issue_codes: tuple[str, ...] = ()
    """Every quality code of the photo, blocking or not (``light_not_corrected``,
    ``low_resolution``, ...)."""
    scale: str = "card_free"
    """The colour scale of its redness and pigment: ``chart`` (corrected with a ColorChecker in
    the photo) or ``card_free`` (the whites of the eyes, or nothing).  The two differ by a
    person-dependent offset (5.6 EI on the sample face), so only photos on the baseline's scale
    are compared with it."""
    same_scale: bool = True
    """False when the photo is on another colour scale than the baseline (set by the series)."""
    reference: LightReference | None = None
    """The colour of the eyes' reference parts (:mod:`analyzer.colour.reference`), if measured."""
    light: str = "own"
    """``own``: the photo's own light correction (a chart, the whites of the eyes, or none);
    ``relative``: mapped onto the course's anchor light through the eyes
    (:mod:`analyzer.recovery.relative`), its redness and melanin shifted by that correction."""
    light_shift_ei: float = 0.0
    """Erythema index added by the ``relative`` correction (0 for ``own``)."""

    @property
    def light_ok(self) -> bool:
        """The photo passed the quality gate and its light was corrected (a chart or the
        card-free reference).  Without a correction the erythema index and melanin follow the
        room's light (docs/validation.md)."""
        return self.quality_ok and (self.light == "relative" or "light_not_corrected" not in self.issue_codes)

    @property
    def colour_ok(self) -> bool:
        """Reliable for redness and pigment: :attr:`light_ok` and on the baseline's colour scale
        (on the other scale the numbers are shifted by the scales' offset).  A photo that is not
        is kept for texture and flaking only."""
        return self.light_ok and self.same_scale


@dataclass(frozen=True)
class Baseline:
    """The skin before treatment: medians of the photos taken before it, or an estimate.

    ``photos`` lists the files used; ``estimated`` is True when there was no photo before the
    treatment and the values were estimated from the course (``method`` says how).
    """

    redness: float
    melanin: float
    texture: float
    flaking: float
    redness_sd: float
    melanin_sd: float
    texture_sd: float
    flaking_sd: float
    photos: tuple[str, ...] = ()
    estimated: bool = False
    method: str = "median of photos before treatment"
    notes: tuple[str, ...] = field(default=())
