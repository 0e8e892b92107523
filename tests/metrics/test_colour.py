"""CIEDE2000 and sRGB -> CIELAB against published reference values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepeval.metrics.colour import ciede2000, srgb_to_lab

# Sharma, Wu and Dalal (2005), Table 1: (L1, a1, b1), (L2, a2, b2), CIEDE2000
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (50.0, 0.0, -2.5), 4.3065),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize("lab1,lab2,expected", SHARMA)
def test_ciede2000_matches_the_published_test_data(lab1, lab2, expected):
    assert float(ciede2000(lab1, lab2)) == pytest.approx(expected, abs=1e-4)
    assert float(ciede2000(lab2, lab1)) == pytest.approx(expected, abs=1e-4)


def test_vectorised_over_leading_axes():
    a = np.array([p[0] for p in SHARMA]).reshape(3, 3, 3)
    b = np.array([p[1] for p in SHARMA]).reshape(3, 3, 3)
    assert np.allclose(ciede2000(a, b).ravel(), [p[2] for p in SHARMA], atol=1e-4)


def test_srgb_to_lab_reference_points():
    assert np.allclose(srgb_to_lab([1.0, 1.0, 1.0]), [100.0, 0.0, 0.0], atol=1e-3)
    assert np.allclose(srgb_to_lab([0.0, 0.0, 0.0]), [0.0, 0.0, 0.0], atol=1e-6)
    # sRGB red, as tabulated by the CIE / common colour references
    assert np.allclose(srgb_to_lab([1.0, 0.0, 0.0]), [53.24, 80.09, 67.20], atol=0.02)
    assert np.allclose(srgb_to_lab(np.array([255, 0, 0], np.uint8)), srgb_to_lab([1.0, 0.0, 0.0]))


rgb = st.tuples(*[st.floats(0.0, 1.0)] * 3)


@settings(max_examples=100, deadline=None)
@given(rgb, rgb)
def test_ciede2000_is_a_symmetric_non_negative_difference(c1, c2):
    l1, l2 = srgb_to_lab(c1), srgb_to_lab(c2)
    d = float(ciede2000(l1, l2))
    assert d >= 0.0
    assert d == pytest.approx(float(ciede2000(l2, l1)), abs=1e-9)
    assert float(ciede2000(l1, l1)) == pytest.approx(0.0, abs=1e-9)
