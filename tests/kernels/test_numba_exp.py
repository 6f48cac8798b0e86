"""The compiled building blocks of ``npsoftmax.kernels.numba_exp``, one by one.

The row kernels are tested end to end elsewhere; here each block is checked against an
independent oracle on its own, over its whole input range: the exponentials in ulps against
float64 (for float32) or extended precision (for float64), subnormal results included; the fast
normal-range exponential bit for bit against the exact one; the min/max keys and the
compensated sums against NumPy and ``math.fsum``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from npsoftmax.kernels import numba_exp
from npsoftmax.kernels.numba_exp import (
    NORMAL_FLOOR_F32,
    NORMAL_FLOOR_F64,
    exp_shifted,
    exp_shifted_normal,
    normal_range,
)
from npsoftmax.kernels.numba_reduce import row_dot, row_min_max, row_sum
from npsoftmax.kernels.numba_rows import _exp_block_below

from . import exp_minimax

DTYPES = [np.float32, np.float64]
FLOOR = {np.float32: float(NORMAL_FLOOR_F32), np.float64: NORMAL_FLOOR_F64}
# Below this, exp(x - m) rounds to zero in the dtype (half the smallest subnormal).
ZERO_BELOW = {np.float32: -103.98, np.float64: -745.14}


@njit
def _exp_all(x, m, out):
    for j in range(x.shape[0]):
        out[j] = exp_shifted(x[j], m)
    return out


@njit
def _exp_normal_all(x, m, out):
    for j in range(x.shape[0]):
        out[j] = exp_shifted_normal(x[j], m)
    return out


@njit
def _min_max(v):
    return row_min_max(v)


@njit
def _sums(u, v):
    return row_sum(u), row_dot(u, v)


@njit
def _normal(lo, m):
    return normal_range(lo, m)


def _shifted_pairs(dtype, lo, hi, n, seed):
    """Pairs ``x <= m`` with ``x - m`` spread over ``[lo, hi]`` and full random mantissas."""
    rng = np.random.default_rng(seed)
    m = rng.uniform(-200.0, 200.0)
    m = dtype(m)
    x = (np.float64(m) + rng.uniform(lo, hi, n)).astype(dtype)
    return np.minimum(x, m), m


def _ulps(got, exact, dtype):
    """Error of ``got`` in ulps of the exact value (extended precision), subnormals included."""
    exact = np.asarray(exact)
    spacing = np.spacing(exact.astype(dtype)).astype(exact.dtype)
    return np.abs(got.astype(exact.dtype) - exact) / spacing


def _oracle(x, m, dtype):
    wide = np.float64 if dtype == np.float32 else np.longdouble
    return np.exp(x.astype(wide) - wide(m))


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_shifted_within_one_ulp_over_the_whole_range(dtype):
    if dtype == np.float64 and np.finfo(np.longdouble).nmant < 60:
        pytest.skip("no extended precision to measure float64 against")
    for seed, (lo, hi) in enumerate([(-1.0, 0.0), (-30.0, 0.0), (ZERO_BELOW[dtype], 0.0)]):
        x, m = _shifted_pairs(dtype, lo, hi, 20_000, seed)
        got = _exp_all(x, m, np.empty_like(x))
        assert _ulps(got, _oracle(x, m, dtype), dtype).max() <= 1.1


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_shifted_keeps_subnormal_results(dtype):
    # The range where the result is subnormal: the two-step scaling must not flush it to zero.
    tiny = np.finfo(dtype).smallest_normal
    lo, hi = ZERO_BELOW[dtype] + 0.5, math.log(tiny)
    x, m = _shifted_pairs(dtype, lo, hi, 5_000, 7)
    got = _exp_all(x, m, np.empty_like(x))
    assert np.all(got > 0) and np.all(got < tiny)
    if dtype == np.float32 or np.finfo(np.longdouble).nmant >= 60:
        assert _ulps(got, _oracle(x, m, dtype), dtype).max() <= 1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_shifted_special_values(dtype):
    m = dtype(3.5)
    x = np.array([3.5, -np.inf, np.nan, ZERO_BELOW[dtype] - 1.0, -1e30], dtype=dtype)
    got = _exp_all(x, m, np.empty_like(x))
    assert got[0] == 1.0  # exp(0) exactly: the row maximum contributes exactly one
    assert got[1] == 0.0 and got[3] == 0.0 and got[4] == 0.0
    assert np.isnan(got[2])
    # A non-finite shift is outside the contract (the kernels' row policy makes such rows NaN
    # before any exponential matters) and gives NaN, never a number that looks right.
    for m in (np.inf, -np.inf, np.nan):
        assert np.all(np.isnan(_exp_all(x[:1], dtype(m), np.empty(1, dtype))))


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_shifted_normal_equals_the_exact_path_bit_for_bit(dtype):
    x, m = _shifted_pairs(dtype, FLOOR[dtype], 0.0, 50_000, 3)
    x = np.concatenate([x, np.array([m, np.nextafter(m + dtype(FLOOR[dtype]), m)], dtype)])
    fast = _exp_normal_all(x, m, np.empty_like(x))
    exact = _exp_all(x, m, np.empty_like(x))
    assert np.all(fast >= np.finfo(dtype).smallest_normal)
    np.testing.assert_array_equal(fast.view(np.uint8), exact.view(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_range_admits_exactly_the_rows_the_fast_path_serves(dtype):
    floor = FLOOR[dtype]
    m = dtype(10.0)
    assert _normal(dtype(10.0 + floor), m)
    assert _normal(m, m)
    assert not _normal(dtype(10.0 + floor - 1.0), m)
    for lo, hi in [(-np.inf, 1.0), (np.nan, 1.0), (0.0, np.nan), (1.0, np.inf), (np.inf, np.inf)]:
        assert not _normal(dtype(lo), dtype(hi))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 7, 8, 33, 1000])
def test_row_min_max_agrees_with_numpy(dtype, n):
    rng = np.random.default_rng(n)
    v = (rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)).astype(dtype)
    if n > 3:
        v[1], v[2] = -np.inf, -0.0
    lo, hi = _min_max(v)
    assert (lo, hi) == ((np.min(v), np.max(v)) if n else (np.inf, -np.inf))


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_min_max_with_infinities(dtype):
    v = np.array([-np.inf, 2.0, np.inf, -3.0], dtype=dtype)
    assert _min_max(v) == (-np.inf, np.inf)
    only = np.full(5, -np.inf, dtype=dtype)
    assert _min_max(only) == (-np.inf, -np.inf)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 5000])
def test_row_sums_are_compensated(dtype, n):
    rng = np.random.default_rng(n)
    u = rng.uniform(0.0, 1.0, n).astype(dtype)
    v = rng.standard_normal(n).astype(dtype)
    total, dot = _sums(u, v)
    # Each within a few float64 roundings of the exact sum (math.fsum is exact, then rounded).
    scale = np.abs(u.astype(np.float64)).sum() + np.abs(u.astype(np.float64) * v).sum() + 1.0
    assert abs(total - math.fsum(u.astype(np.float64))) <= 4 * np.finfo(np.float64).eps * scale
    exact_dot = math.fsum(u.astype(np.float64) * v.astype(np.float64))
    assert abs(dot - exact_dot) <= 4 * np.finfo(np.float64).eps * scale


@njit
def _below(x, m, normal, out):
    return _exp_block_below(x, out, m, normal)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 8, 9, 2048])
@pytest.mark.parametrize("normal", [True, False])
def test_exp_block_below_zeroes_and_counts_the_maxima(dtype, n, normal):
    # log_softmax's exp pass: exp(x - m) everywhere but the maxima, which are counted instead.
    rng = np.random.default_rng(n)
    x = rng.uniform(-20.0, 5.0, n).astype(dtype)
    m = x.max()
    x[rng.permutation(n)[: max(1, n // 5)]] = m  # several maxima, anywhere in the block
    out = np.full(n, np.nan, dtype=dtype)
    count = _below(x, m, normal, out)
    top = x == m
    assert count == np.count_nonzero(top)
    assert np.all(out[top] == 0)
    expected = _exp_all(x, m, np.empty_like(x))
    np.testing.assert_array_equal(out[~top], expected[~top])


def test_float32_polynomial_is_the_remez_fit():
    # The constants in numba_exp are the fit of tests/kernels/exp_minimax.py, rounded to float32.
    coefficients = (
        numba_exp._F32_Q0,
        numba_exp._F32_Q1,
        numba_exp._F32_Q2,
        numba_exp._F32_Q3,
        numba_exp._F32_Q4,
    )
    assert coefficients == exp_minimax.float32_coefficients()
    _, level = exp_minimax.remez()
    assert level < 2.0**-28  # 0.05 ulp of float32 before the evaluation's own roundings
