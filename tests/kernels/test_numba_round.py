"""The softmax's last pass: ``scale_row`` (``e * w / s``, rounded once) and the ``fma`` under it.

float32 rows are scaled by the two float32 halves of ``q = w / s`` with a fused multiply-add,
or, where that could lose accuracy, by the float64 product; float64 rows by a Newton-corrected
reciprocal.  The oracle is exact rational arithmetic (``fractions.Fraction``), rounded to
float32 through :func:`_round32`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from numba import njit

from npsoftmax.kernels.numba_exp import fma
from npsoftmax.kernels.numba_round import SPLIT_FLOOR_LOG2, scale_row, splits


@njit(cache=False)
def _fma(a, b, c):
    return fma(a, b, c)


@njit(cache=False)
def _scale(e, s, w, spread):
    scale_row(e, s, w, spread)
    return e


@njit(cache=False)
def _splits(q, spread):
    return splits(q, spread)


def _round32(v: Fraction) -> np.float32:
    """``v`` correctly rounded to float32 (ties to even), subnormals included."""
    lo = np.float32(float(v))  # within an ulp of v: step to the nearest float32 of the two
    candidates = [np.nextafter(lo, np.float32(-np.inf)), lo, np.nextafter(lo, np.float32(np.inf))]
    dist = [abs(Fraction(float(c)) - v) for c in candidates]
    best = min(dist)
    ties = [c for c, d in zip(candidates, dist) if d == best]
    return min(ties, key=lambda c: int(c.view(np.uint32)) & 1)  # an even mantissa wins a tie


def _ulp32(v: np.float32) -> float:
    return float(np.spacing(np.abs(v)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fma_rounds_once(dtype):
    # (1 + u)(1 - u) = 1 - u**2: the product alone rounds to 1, the fused form keeps -u**2.
    u = dtype(np.finfo(dtype).eps)
    one = dtype(1)
    assert _fma(one + u, one - u, -one) == -(u * u)
    assert (one + u) * (one - u) - one == 0  # what two roundings give


def test_fma_float32_matches_exact_arithmetic():
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(2000).astype(np.float32) for _ in range(3))
    got = np.array([_fma(x, y, z) for x, y, z in zip(a, b, c)])
    want = np.array(
        [
            _round32(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))
            for x, y, z in zip(a, b, c)
        ]
    )
    np.testing.assert_array_equal(got, want)


def _ulp_errors(got: np.ndarray, e: np.ndarray, s: float, w: float) -> np.ndarray:
    """``|got - e * w / s|`` in float32 ulps of the correctly rounded result, exactly."""
    q = Fraction(w) / Fraction(s)
    errors = []
    for g, x in zip(got, e):
        v = Fraction(float(x)) * q
        errors.append(float(abs(Fraction(float(g)) - v) / Fraction(_ulp32(_round32(v)))))
    return np.array(errors)


# Correctly rounded but within ~2**-23 ulp of a tie (q = w / s is rounded to float64, its halves
# carry 48 bits).  Near-ties are rare for a random q, not for a q like 0.37 or 2500 / 1.7: a
# float32 times 37 / 100 is an exact tie for about one in a hundred significands.
NEAR_TIE = 0.5 + 2.0**-20


@pytest.mark.parametrize("w", [1.0, -0.37, 3.0e-5, 2.5e3])
@pytest.mark.parametrize("s", [1.0, 1.7, 3.0, 12345.678, 2.0**20 + 1])
def test_float32_split_scaling_is_correctly_rounded(s, w):
    rng = np.random.default_rng(1)
    e = np.exp(rng.uniform(-20, 0, 3000)).astype(np.float32)
    spread = float(np.log(e.min()))
    assert _splits(w / s, spread)  # the fast path serves these rows
    got = _scale(e.copy(), s, w, spread)
    assert _ulp_errors(got, e, s, w).max() <= NEAR_TIE


def test_float32_rows_near_the_subnormals_take_the_float64_product():
    # A row spanning 100 (results down to ~1e-44, subnormal): each one rounded once.
    e = np.exp(np.linspace(-100, 0, 4001)).astype(np.float32)
    s, w = 3.0, 1.0
    spread = float(np.log(np.float64(e.min())))
    assert not _splits(w / s, spread)
    got = _scale(e.copy(), s, w, spread)
    assert _ulp_errors(got, e, s, w).max() <= NEAR_TIE
    assert np.any((got > 0) & (got < np.finfo(np.float32).tiny))  # subnormal results were tested


def test_splits_boundaries():
    assert _splits(1.0 / 3.0, -20.0)
    assert _splits(0.0, -np.inf)  # a zero weight: exact zeros either way
    assert _splits(-0.5, -10.0)  # the sign does not matter
    floor = SPLIT_FLOOR_LOG2 * math.log(2.0)  # the least spread for q = 1 (|q| = 2**0)
    assert not _splits(1.0, floor - 1e-9)
    assert _splits(1.0, floor + 1e-9)
    assert _splits(1.5, floor + 1e-9)  # conservative: the exponent of q, not its log
    assert not _splits(1.5, floor - 1e-9)
    assert _splits(2.0, floor - 0.5)  # 2 * exp(floor - 0.5) > 2**-100
    assert not _splits(2.0**-1030, -1.0)  # a subnormal q
    assert not _splits(0.25, -np.nan)
    assert not _splits(1.0 / 3.0, -np.inf)  # a -inf entry (a mask)
    assert not _splits(np.nan, -1.0)
    assert not _splits(1e39, -1.0)  # not a finite float32
    assert _splits(float(np.finfo(np.float32).max), -1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale_row_special_values(dtype):
    e = np.array([1.0, 0.5, 0.0, 1e-3], dtype=dtype)
    assert np.all(np.isnan(_scale(e.copy(), np.nan, 1.0, -7.0)))  # a NaN row stays NaN
    zero = _scale(e.copy(), 2.0, 0.0, -7.0)
    np.testing.assert_array_equal(zero, np.zeros(4, dtype))
    neg = _scale(e.copy(), 2.0, -1.0, -7.0)
    np.testing.assert_array_equal(neg, -e / dtype(2))
    # A weight beyond float32: inf where e > 0, and 0 (not NaN) where e == 0.
    big = _scale(e.copy(), 1.0, 1e300, -7.0)
    if dtype == np.float32:
        np.testing.assert_array_equal(big, np.array([np.inf, np.inf, 0.0, np.inf], dtype))
    else:
        np.testing.assert_array_equal(big, e * 1e300)


def test_float64_scaling_within_one_rounding_of_exact():
    rng = np.random.default_rng(2)
    e = np.exp(rng.uniform(-30, 0, 2000))
    for s, w in ((1.0, 1.0), (3.0, 1.0), (12345.678, -0.25)):
        got = _scale(e.copy(), s, w, math.log(e.min()))
        exact = [Fraction(float(x)) * Fraction(w) / Fraction(s) for x in e]
        err = [
            abs(Fraction(float(g)) - v) / Fraction(float(np.spacing(abs(g))))
            for g, v in zip(got, exact)
        ]
        assert max(err) <= 1  # one Newton-corrected quotient, then one product by w
