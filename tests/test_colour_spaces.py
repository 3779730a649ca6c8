"""sRGB <-> linear <-> CIELAB and CIEDE2000 (analyzer.colour.spaces) against published values.

Hand values follow from the IEC 61966-2-1 formulas; the CIELAB values of the sRGB primaries are
the ones tabulated by Lindbloom's calculator and on Wikipedia ("SRGB", "CIELAB"); the CIEDE2000
pairs are from the test data of Sharma, Wu & Dalal (2005), Table 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.colour.spaces import (
    delta_e00,
    encoded_to_linear,
    lab_to_linear,
    linear_to_lab,
    linear_to_srgb,
    srgb_to_linear,
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
