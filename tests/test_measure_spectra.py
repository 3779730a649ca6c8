"""Published spectra and the camera OD directions of melanin and haemoglobin (analyzer.measure.spectra).

Hand-checked facts: docs/science.md#checking-the-chromophore-vectors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from analyzer.colour.datasets import reference_linear_srgb
from analyzer.measure import spectra as sp
from analyzer.measure.chromophores import SIGMA_HEMOGLOBIN, SIGMA_MELANIN


def _at(nm: int) -> int:
    return int(np.flatnonzero(sp.WAVELENGTHS_NM == nm)[0])


# --- the tables ----------------------------------------------------------------------------------


def test_tables_share_one_grid_and_are_read_only():
    assert sp.WAVELENGTHS_NM[0] == 400 and sp.WAVELENGTHS_NM[-1] == 700
    assert np.all(np.diff(sp.WAVELENGTHS_NM) == 10)
    for a in (sp.WAVELENGTHS_NM, sp.HBO2_EXTINCTION, sp.HB_EXTINCTION, sp.CMF_XYZ, sp.D65_SPD):
        assert len(a) == 31
        with pytest.raises(ValueError):
            a[0] = 1.0


def test_jacques_melanosome_at_500_nm_by_hand():
    # 6.6e11 * 500^-3.33: log10 = 11.8195 - 3.33 * 2.6990 = 2.8320 -> 679 cm^-1
    assert float(sp.melanosome_absorption(500.0)) == pytest.approx(679.0, rel=5e-4)
    # the power law: doubling the wavelength divides by 2^3.33 = 10.06
    assert float(sp.melanosome_absorption(400.0) / sp.melanosome_absorption(800.0)) == pytest.approx(10.06, rel=1e-3)
    with pytest.raises(ValueError):
        sp.melanosome_absorption(0.0)


def test_melanin_absorbs_less_at_every_longer_wavelength():
    mel = sp.melanosome_absorption(sp.WAVELENGTHS_NM)
    assert np.all(np.diff(mel) < 0)


def test_oxyhaemoglobin_has_its_soret_and_q_bands_where_prahl_puts_them():
    hbo2 = sp.HBO2_EXTINCTION
    # Soret band at 414 nm: on the 10 nm grid the maximum of the whole range is at 420 (480360),
    # just above 410 (466840).
    assert sp.WAVELENGTHS_NM[np.argmax(hbo2)] == 420
    assert hbo2[_at(420)] == 480360 and hbo2[_at(410)] == 466840
    # Q bands at 542 and 576 nm appear as local maxima at 540 and 580, with the valley at 560.
    for nm in (540, 580):
        assert hbo2[_at(nm)] > hbo2[_at(nm - 10)] and hbo2[_at(nm)] > hbo2[_at(nm + 10)]
    assert hbo2[_at(560)] < hbo2[_at(540)] and hbo2[_at(560)] < hbo2[_at(580)]
    # deoxy-haemoglobin: Soret band at 430 nm, one broad band peaking at 560 (true 556)
    assert sp.WAVELENGTHS_NM[np.argmax(sp.HB_EXTINCTION)] == 430
    assert sp.WAVELENGTHS_NM[_at(500) + np.argmax(sp.HB_EXTINCTION[_at(500):])] == 560
    # isosbestic point near 500 nm: 20932.8 vs 20862
    assert hbo2[_at(500)] / sp.HB_EXTINCTION[_at(500)] == pytest.approx(1.0, abs=0.005)


def test_cie_y_bar_peaks_near_555_nm_and_d65_is_100_at_560():
    y = sp.CMF_XYZ[:, 1]
    assert sp.WAVELENGTHS_NM[np.argmax(y)] in (550, 560)
    assert y.max() == pytest.approx(1.0, abs=0.006)
    assert sp.WAVELENGTHS_NM[np.argmax(sp.CMF_XYZ[:, 0])] == 600  # x-bar red lobe 1.0622
    assert sp.WAVELENGTHS_NM[np.argmax(sp.CMF_XYZ[:, 2])] == 450  # z-bar 1.77211
    assert sp.D65_SPD[_at(560)] == 100.0


def test_a_white_and_a_grey_reflector_come_out_neutral():
    np.testing.assert_allclose(sp.linear_srgb_of_reflectance(1.0), [1.0, 1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(sp.linear_srgb_of_reflectance(0.18), [0.18, 0.18, 0.18], atol=1e-12)
    # and the 10 nm tables give D65's chromaticity to 3 decimals: x = 0.3127, y = 0.3290
    xyz = sp.D65_SPD @ sp.CMF_XYZ
    assert xyz[0] / xyz.sum() == pytest.approx(0.3127, abs=1e-3)
    assert xyz[1] / xyz.sum() == pytest.approx(0.3290, abs=1e-3)


# --- the directions ------------------------------------------------------------------------------


def test_od_direction_of_a_flat_absorber_is_grey():
    d = sp.od_direction(np.full(31, 3.0))
    np.testing.assert_allclose(d, np.ones(3) / math.sqrt(3), atol=1e-12)


def test_od_direction_of_an_absorber_only_at_the_red_end_points_to_red():
    eps = np.where(sp.WAVELENGTHS_NM >= 650, 1.0, 0.0)
    d = sp.od_direction(eps)
    assert d[0] > 0.9 and abs(d[2]) < 0.01


def test_od_direction_is_the_limit_of_the_finite_change():
    eps = sp.melanosome_absorption(sp.WAVELENGTHS_NM) / 679.0
    small = sp.od_change(eps, 1e-6)
    np.testing.assert_allclose(small / np.linalg.norm(small), sp.od_direction(eps), atol=1e-5)


def test_od_direction_does_not_depend_on_the_level_of_a_flat_base():
    eps = sp.blood_extinction()
    np.testing.assert_allclose(sp.od_direction(eps, 0.1), sp.od_direction(eps, 0.9), atol=1e-12)


def test_the_published_melanin_direction_absorbs_blue_most_and_red_least():
    c = sp.check_vectors()
    m = c.melanin
    assert m[2] > m[1] > m[0] > 0
    assert np.linalg.norm(m) == pytest.approx(1.0)
    # our sigma_m has the opposite red/green order
    assert SIGMA_MELANIN[0] > SIGMA_MELANIN[1]
    # so melanin raises EI by the spectra, and lowers it by sigma_m (-0.249 per 0.1 OD by hand:
    # 100 * 0.1 * (0.3570 - 0.4143) / ln 10)
    assert c.melanin_ei_per_0_1_od > 0.5
    assert c.sigma_m_ei_per_0_1_od == pytest.approx(-0.2489, abs=1e-4)
    assert c.sigma_h_ei_per_0_1_od == pytest.approx(1.672, abs=1e-3)


def test_the_melanin_order_holds_on_every_base_we_tried():
    ref = reference_linear_srgb()
    bases = [0.5, sp.smooth_reflectance_of_colour(ref[0]), sp.smooth_reflectance_of_colour(ref[1])]
    bases += [sp.skin_like_reflectance(0.6, m, b) for m in (0.0, 0.5, 1.0) for b in (0.1, 0.3, 0.6)]
    for base in bases:
        c = sp.check_vectors(base)
        assert c.melanin[2] > c.melanin[1] > c.melanin[0], base
        assert 5.0 < c.melanin_angle_deg < 20.0
        assert c.melanin_ei_per_0_1_od > 0.4


def test_melanin_along_the_published_direction_leaks_into_haemoglobin():
    c_m, c_h = sp.check_vectors().melanin_read_as
    assert 0.07 < c_m < 0.11
    assert c_h > 0.04  # not 0: the analyzer reads part of real melanin as blood


def test_reading_returns_the_analyzer_vectors_themselves():
    # to 1e-5: the 4-decimal vectors are unit length to 1e-5 (|sigma_h| = 1.00001)
    np.testing.assert_allclose(sp.reading(SIGMA_MELANIN), (0.1, 0.0), atol=1e-5)
    np.testing.assert_allclose(sp.reading(SIGMA_HEMOGLOBIN), (0.0, 0.1), atol=1e-5)


def test_haemoglobin_saturation_moves_the_direction_toward_green():
    d0 = sp.od_direction(sp.blood_extinction(0.0))
    d1 = sp.od_direction(sp.blood_extinction(1.0))
    assert d1[1] > d0[1]
    with pytest.raises(ValueError):
        sp.blood_extinction(1.5)


def test_angle_and_ei_per_od_by_hand():
    assert sp.angle_deg((1, 0, 0), (0, 1, 0)) == pytest.approx(90.0)
    assert sp.angle_deg((1, 1, 0), (2, 2, 0)) == pytest.approx(0.0, abs=1e-6)
    # a pure-green absorber: 100 * 0.1 * 1 / ln 10 = 4.343 EI per 0.1 OD
    assert sp.ei_per_od((0, 5, 0)) == pytest.approx(4.3429, abs=1e-4)


def test_smooth_reflectance_reproduces_the_skin_patch_colours():
    ref = reference_linear_srgb()
    for i in (0, 1):
        r0 = sp.smooth_reflectance_of_colour(ref[i])
        np.testing.assert_allclose(sp.linear_srgb_of_reflectance(r0), ref[i], rtol=1e-8)
        assert np.all(r0 > 0)
