"""The expected course of redness after micro-needling, as formulas over a :class:`Protocol`.

Redness excess over baseline (erythema index units, EI) decays exponentially::

    E(t) = E0 * 2 ** (-t / t_half)

with ``t`` in hours since the treatment and ``t_half`` from the protocol's table by needle depth
(about 22 h near 1 mm; docs/science.md#expected-course).  The band of normal
variation uses the protocol's low and high half-life factors: ``E0 * 2 ** (-t / (f_low t_half))``
to ``E0 * 2 ** (-t / (f_high t_half))``.  Before the treatment the expected excess is 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .treatment import Protocol

__all__ = ["ExpectedCourse", "expected_excess", "fit_peak_excess"]


def expected_excess(hours: float, peak_excess: float, half_life_h: float) -> float:
    """E(t) = E0 * 2^(-t/t_half) for t >= 0, else 0.

    Parameters
    ----------
    hours : float
        Time since treatment, h.
    peak_excess : float
        E0, the excess at t = 0, EI.
    half_life_h : float
        t_half, h (> 0).

    Examples
    --------
    >>> expected_excess(22.0, 5.0, 22.0)
    2.5
    """
    if hours < 0:
        return 0.0
    return peak_excess * 2.0 ** (-hours / half_life_h)


def fit_peak_excess(
    points: Sequence[tuple[float, float, float]], half_life_h: float, window_h: float
) -> float | None:
    """E0 back-extrapolated from early photos along the expected curve.

    Parameters
    ----------
    points : sequence of (hours, excess EI, sd EI)
        Measured excess and its noise sd per photo.
    half_life_h, window_h : float
        Curve half-life, h; only photos with 0 <= hours <= ``window_h`` are used.

    Returns
    -------
    float or None
        The inverse-variance weighted mean of ``excess * 2^(t/t_half)`` (each estimate's sd
        scaled by the same factor), or None without a photo in the window.
    """
    num = den = 0.0
    for h, e, sd in points:
        if 0 <= h <= window_h:
            g = 2.0 ** (h / half_life_h)
            w = 1.0 / max(sd * g, 1e-9) ** 2
            num += w * e * g
            den += w
    return num / den if den > 0 else None


@dataclass(frozen=True)
class ExpectedCourse:
    """The expected redness excess for one patient and treatment.

    Attributes
    ----------
    peak_excess_ei : float
        E0, EI.
    peak_source : {"fitted", "protocol_default"}
        Whether E0 came from the patient's early photos or the protocol default.
    half_life_h, half_life_low_h, half_life_high_h : float
        Central half-life and the band's shorter and longer half-lives, h.
    """

    peak_excess_ei: float
    peak_source: str
    half_life_h: float
    half_life_low_h: float
    half_life_high_h: float

    @classmethod
    def for_treatment(
        cls, protocol: Protocol, depth_mm: float, peak_excess_ei: float | None
    ) -> ExpectedCourse:
        """The course for a needle depth, with a fitted E0 or (None) the protocol default."""
        t = protocol.half_life_for_depth(depth_mm)
        fitted = peak_excess_ei is not None and math.isfinite(peak_excess_ei) and peak_excess_ei > 0
        return cls(
            peak_excess_ei=float(peak_excess_ei) if fitted else protocol.default_peak_excess_ei,
            peak_source="fitted" if fitted else "protocol_default",
            half_life_h=t,
            half_life_low_h=t * protocol.half_life_low_factor,
            half_life_high_h=t * protocol.half_life_high_factor,
        )

    def at(self, hours: float) -> float:
        """Expected excess at ``hours``, EI."""
        return expected_excess(hours, self.peak_excess_ei, self.half_life_h)

    def band(self, hours: float) -> tuple[float, float]:
        """(low, high) of normal variation at ``hours``, EI, from the half-life range alone."""
        return (
            expected_excess(hours, self.peak_excess_ei, self.half_life_low_h),
            expected_excess(hours, self.peak_excess_ei, self.half_life_high_h),
        )
