"""The chart fit's bias from patches an sRGB photo cannot record (issue 11, item 2).

A photo in sRGB cannot hold the ColorChecker's cyan (reference R = -0.044 in linear sRGB): the
camera records R at the black floor, a little above zero from noise.  Fitted as if it were a
measurement, that patch pulled the matrix's red row; :data:`analyzer.colour.chart.DARK_LEVEL`
keeps it (and any channel crushed to black) out of the fit.  The clipped white patch under a
warm light is the other patch the fit must not use.  Hand-worked: the chart below is the
reference times known gains, so the exact correction is their inverse.
"""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.colour import chart
from analyzer.colour.chart import DARK_LEVEL, fit_correction
from analyzer.colour.datasets import reference_linear_srgb
from analyzer.measure.redness import erythema_index

GAINS = np.array([1.45, 1.0, 0.6]) * 1.3 * 0.8
"""A warm residual cast (R 1.45, B 0.6), exposure 1.3, the card at 0.8 of the reference."""


def _warm_chart() -> np.ndarray:
    """The reference in an sRGB photo under :data:`GAINS`: out-of-gamut cyan's R recorded at
    0.0005 (noise above the black floor), white clipped in R, everything else exact."""
    meas = np.minimum(np.clip(reference_linear_srgb(), 0.0, None) * GAINS, 1.0)
    meas[17, 0] = 0.0005
    return meas


def _skin_ei_error(matrix: np.ndarray) -> float:
    """Erythema-index error of the 'light skin' patch after the correction, EI units."""
    ref = reference_linear_srgb()[1]
    corrected = matrix @ (ref * GAINS)
    return float(erythema_index(corrected.astype(np.float32)) - erythema_index(ref.astype(np.float32)))


def test_the_chart_is_what_the_docstring_says():
    meas = _warm_chart()
    assert meas[18, 0] == 1.0  # white 9.5 clipped in R
    assert 0.0 < meas[17, 0] < DARK_LEVEL  # cyan's R at the black floor
    assert meas[15, 2] > DARK_LEVEL  # yellow's B (0.0029) is small but recorded


def test_fit_reproduces_the_known_gains_without_crushed_or_clipped_patches():
    fit = fit_correction(_warm_chart())
    unused = set(np.nonzero(~fit.used)[0].tolist())
    # orange, orange yellow, yellow, white: R >= 0.98 (clipped); cyan: R crushed
    assert unused == {6, 11, 15, 17, 18}
    np.testing.assert_allclose(fit.matrix @ np.diag(GAINS), np.eye(3), atol=1e-9)
    assert abs(_skin_ei_error(fit.matrix)) < 1e-6
    assert fit.residual_delta_e00 < 1e-6


def test_fitting_the_crushed_cyan_would_bias_redness(monkeypatch):
    """The mechanism: with the old rule (any channel > 0 is usable) cyan is fitted, the red
    gain comes out 1 % high and the cross term from green negative, and the skin patch's
    redness is off by -0.09 EI (-0.30 EI on the lossless renders of bench/chart_spread.py)."""
    monkeypatch.setattr(chart, "DARK_LEVEL", 0.0)
    fit = fit_correction(_warm_chart())
    assert fit.used[17]
    scaled = fit.matrix @ np.diag(GAINS)
    assert scaled[0, 0] == pytest.approx(1.0097, abs=5e-4)
    assert scaled[0, 1] < -0.005
    assert _skin_ei_error(fit.matrix) == pytest.approx(-0.089, abs=0.005)


def test_dark_but_recorded_channels_are_still_fitted():
    """A dim photo (x 0.3): yellow's B (0.0046 x 0.624 x 0.3 = 0.0009) falls below the floor;
    the black patch (0.031 x 0.3 x 0.62-1.51 = 0.006-0.014) stays above it and is fitted."""
    meas = np.clip(reference_linear_srgb(), 0.0, None) * GAINS * 0.3
    meas[17, 0] = 0.0005
    fit = fit_correction(meas)
    assert fit.used[23] and not fit.used[15] and not fit.used[17]
    np.testing.assert_allclose(fit.matrix @ np.diag(GAINS * 0.3), np.eye(3), atol=1e-9)
