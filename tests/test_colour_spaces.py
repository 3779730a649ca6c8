"""sRGB <-> linear <-> CIELAB and CIEDE2000 (analyzer.colour.spaces) against published values.

Hand values follow from the IEC 61966-2-1 formulas; the CIELAB values of the sRGB primaries are
the ones tabulated by Lindbloom's calculator and on Wikipedia ("SRGB", "CIELAB"); the CIEDE2000
pairs are from the test data of Sharma, Wu & Dalal (2005), Table 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.colour.spaces import (
    BT709_LUMINANCE_WEIGHTS,
    D50_WHITE_XYZ,
    D65_WHITE_XYZ,
    D65_XY,
    LINEAR_SRGB_FROM_XYZ,
    LINEAR_SRGB_FROM_XYZ_PRINTED,
    LUMINANCE_WEIGHTS,
    SRGB_PRIMARIES_XY,
    XYZ_FROM_LINEAR_SRGB,
    bradford_matrix,
    delta_e00,
    encoded_to_linear,
    lab_to_linear,
    lab_to_xyz,
    linear_to_lab,
    linear_to_srgb,
    linear_to_srgb8,
    luminance,
    rgb_to_xyz_matrix,
    srgb_to_linear,
    xyz_to_lab,
)


@pytest.mark.parametrize(
    "encoded, linear",
    [
        (0.0, 0.0),
        (1.0, 1.0),
        (0.5, 0.214041),  # ((0.5 + 0.055) / 1.055) ** 2.4
        (0.04045, 0.04045 / 12.92),  # the junction of the two pieces: 0.0031308
        (0.02, 0.02 / 12.92),  # linear segment
        (118 / 255, 0.181164),  # the 8-bit code of an 18 % grey card
    ],
)
def test_srgb_to_linear_hand_values(encoded, linear):
    assert float(srgb_to_linear(np.array(encoded))) == pytest.approx(linear, abs=2e-6)
    assert float(linear_to_srgb(np.array(linear))) == pytest.approx(encoded, abs=2e-6)


def test_linear_to_srgb_of_18_percent_grey_and_clipping():
    assert float(linear_to_srgb(np.array(0.18))) == pytest.approx(1.055 * 0.18 ** (1 / 2.4) - 0.055, abs=1e-6)
    assert float(linear_to_srgb(np.array(0.18))) == pytest.approx(0.461356, abs=2e-6)
    np.testing.assert_allclose(linear_to_srgb(np.array([-0.5, 2.0])), [0.0, 1.0], atol=1e-7)  # clipped
    assert srgb_to_linear(np.array([0.3])).dtype == np.float32


def test_round_trips_of_all_8_bit_codes_and_of_linear_values():
    codes = np.arange(256)
    back = np.round(linear_to_srgb(srgb_to_linear(codes / 255.0)) * 255).astype(int)
    np.testing.assert_array_equal(back, codes)
    lin = np.linspace(0, 1, 10001)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(lin)), lin, atol=2e-6)


def test_lookup_tables_match_the_formula():
    u8 = np.arange(256, dtype=np.uint8)
    np.testing.assert_allclose(encoded_to_linear(u8), srgb_to_linear(u8 / 255.0), atol=1e-7)
    u16 = np.arange(0, 65536, 97, dtype=np.uint16)
    np.testing.assert_allclose(encoded_to_linear(u16), srgb_to_linear(u16 / 65535.0), atol=1e-7)
    img = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    out = encoded_to_linear(img)
    assert out.shape == img.shape and out.dtype == np.float32
    # the same colour in 8 and 16 bits (x 257) decodes to the same linear value
    np.testing.assert_allclose(encoded_to_linear(img.astype(np.uint16) * 257), out, atol=1e-7)


def test_8_bit_encoding_inverts_the_lookup_and_rounds_and_clips():
    codes = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(linear_to_srgb8(encoded_to_linear(codes)), codes)
    # 0.18 encodes to 0.461356 x 255 = 117.65 -> 118; out-of-range light is clipped
    assert linear_to_srgb8(np.array([0.18, -0.1, 1.5])).tolist() == [118, 0, 255]
    assert linear_to_srgb8(np.zeros((2, 3, 3))).dtype == np.uint8


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int16, bool])
def test_lookup_rejects_other_dtypes(dtype):
    with pytest.raises(TypeError):
        encoded_to_linear(np.zeros((2, 2, 3), dtype=dtype))


@pytest.mark.parametrize(
    "rgb, lab",
    [
        ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),  # sRGB red
        ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),  # sRGB green
        ((0.0, 0.0, 1.0), (32.30, 79.19, -107.86)),  # sRGB blue
        ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),  # the D65 white
    ],
)
def test_linear_to_lab_of_the_srgb_primaries(rgb, lab):
    np.testing.assert_allclose(linear_to_lab(np.array(rgb)), lab, atol=0.01)


def test_lab_round_trip():
    rng = np.random.default_rng(1)
    lin = rng.random((1000, 3))
    np.testing.assert_allclose(lab_to_linear(linear_to_lab(lin)), lin, atol=1e-9)
    lab = np.column_stack([rng.uniform(1, 99, 200), rng.uniform(-40, 40, 200), rng.uniform(-40, 40, 200)])
    np.testing.assert_allclose(linear_to_lab(lab_to_linear(lab)), lab, atol=1e-8)
    # grey stays grey at every lightness
    grey = linear_to_lab(np.repeat(np.linspace(0.01, 1, 50)[:, None], 3, 1))
    assert np.abs(grey[:, 1:]).max() < 0.01


@pytest.mark.parametrize(
    "lab1, lab2, de",
    [  # Sharma, Wu & Dalal (2005), Table 1, pairs 1, 7, 17 and 25
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ],
)
def test_delta_e00_against_sharma_2005(lab1, lab2, de):
    assert float(delta_e00(np.array(lab1), np.array(lab2))) == pytest.approx(de, abs=1e-4)
    assert float(delta_e00(np.array(lab2), np.array(lab1))) == pytest.approx(de, abs=1e-4)  # symmetric


# --- luminance, whites, matrices ---------------------------------------------------------------


def test_luminance_weights_agree_with_bt709_and_sum_to_one():
    # ITU-R BT.709-6 prints Y = 0.2126 R + 0.7152 G + 0.0722 B, the Y row derived from the
    # primaries; ours are the Y row of the six-decimal sRGB matrix, within 1e-4 of them
    np.testing.assert_allclose(LUMINANCE_WEIGHTS, [0.2126, 0.7152, 0.0722], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(
        np.round(rgb_to_xyz_matrix(SRGB_PRIMARIES_XY, D65_XY)[1], 4), [0.2126, 0.7152, 0.0722]
    )
    np.testing.assert_allclose(LUMINANCE_WEIGHTS, XYZ_FROM_LINEAR_SRGB[1], rtol=1e-7)
    # the printed coefficients the sample generator draws with are those rounded derived ones
    derived_y = rgb_to_xyz_matrix(SRGB_PRIMARIES_XY, D65_XY)[1]
    np.testing.assert_array_equal(BT709_LUMINANCE_WEIGHTS, np.round(derived_y, 4).astype(np.float32))
    assert LUMINANCE_WEIGHTS.dtype == np.float32
    assert float(LUMINANCE_WEIGHTS.sum()) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError):
        LUMINANCE_WEIGHTS[0] = 0.3  # read-only


def test_luminance_of_grey_primaries_and_shapes():
    assert float(luminance(np.array([0.25, 0.25, 0.25]))) == pytest.approx(0.25, abs=1e-7)
    np.testing.assert_allclose(luminance(np.eye(3)), [0.212671, 0.715160, 0.072169], rtol=1e-6)
    y = luminance(np.ones((4, 5, 3), np.float64))
    assert y.shape == (4, 5) and y.dtype == np.float32


def test_srgb_matrix_agrees_with_one_derived_from_the_primaries():
    # docs/science.md: derived afresh from the primaries and D65 (SMPTE RP 177) it differs by
    # up to 3e-4 from the matrix we use (3.05e-4, in Z of blue; all else below 7e-5)
    diff = np.abs(rgb_to_xyz_matrix(SRGB_PRIMARIES_XY, D65_XY) - XYZ_FROM_LINEAR_SRGB)
    assert diff.max() < 3.1e-4 and np.sort(diff.ravel())[-2] < 7e-5
    derived = rgb_to_xyz_matrix(SRGB_PRIMARIES_XY, D65_XY)
    np.testing.assert_allclose(derived.sum(axis=1), [0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290])


def test_printed_xyz_to_srgb_matrix_inverts_ours_to_four_decimals():
    # IEC 61966-2-1 prints the inverse with four decimals: within 4e-4 of the exact inverse, and
    # it maps the D65 white to (1, 1, 1) within 1e-3
    assert np.abs(LINEAR_SRGB_FROM_XYZ_PRINTED - LINEAR_SRGB_FROM_XYZ).max() < 4e-4
    np.testing.assert_allclose(LINEAR_SRGB_FROM_XYZ_PRINTED @ D65_WHITE_XYZ, 1.0, atol=1e-3)
    np.testing.assert_allclose(LINEAR_SRGB_FROM_XYZ @ XYZ_FROM_LINEAR_SRGB, np.eye(3), atol=1e-12)


def test_bradford_d50_to_d65_is_lindbloom_matrix():
    lindbloom = [  # B. Lindbloom, "Chromatic adaptation", Bradford, D50 -> D65 (docs/science.md)
        [0.9555766, -0.0230393, 0.0631636],
        [-0.0282895, 1.0099416, 0.0210077],
        [0.0122982, -0.0204830, 1.3299098],
    ]
    np.testing.assert_allclose(bradford_matrix(D50_WHITE_XYZ, D65_WHITE_XYZ), lindbloom, atol=2e-7)
    # and it maps the D50 white onto the D65 white exactly
    np.testing.assert_allclose(
        bradford_matrix(D50_WHITE_XYZ, D65_WHITE_XYZ) @ D50_WHITE_XYZ, D65_WHITE_XYZ, atol=1e-12
    )


def test_xyz_lab_hand_values_and_round_trip():
    # the white is L* = 100 and neutral; L* = 50 is Y = (66 / 116) ** 3 = 0.184187
    white = xyz_to_lab(np.array(D50_WHITE_XYZ), D50_WHITE_XYZ)
    np.testing.assert_allclose(white, [100.0, 0.0, 0.0], atol=1e-12)
    grey = lab_to_xyz(np.array([50.0, 0.0, 0.0]), D65_WHITE_XYZ)
    np.testing.assert_allclose(grey, np.array(D65_WHITE_XYZ) * (66 / 116) ** 3, rtol=1e-12)
    # below the cube-root knee (Y < 0.008856) the linear segment: L* = 903.3 Y
    assert float(xyz_to_lab(np.array([0.005, 0.005, 0.005]), (1.0, 1.0, 1.0))[0]) == pytest.approx(
        (29 / 3) ** 3 * 0.005, rel=1e-12
    )
    lab = np.random.default_rng(3).uniform([0, -80, -80], [100, 80, 80], (200, 3))
    np.testing.assert_allclose(xyz_to_lab(lab_to_xyz(lab, D50_WHITE_XYZ), D50_WHITE_XYZ), lab, atol=1e-9)
    # and the D65 pair agrees with the scikit-image conversion behind linear_to_lab
    rgb = np.random.default_rng(4).uniform(0, 1, (50, 3))
    np.testing.assert_allclose(xyz_to_lab(rgb @ XYZ_FROM_LINEAR_SRGB.T), linear_to_lab(rgb), atol=1e-6)

