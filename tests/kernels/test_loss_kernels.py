"""The two kernels of the fused cross-entropy: ``cross_entropy_rows`` and ``weighted_softmax_rows``.

``cross_entropy_rows(x, t, out)`` gives ``-log_softmax(x)[t]`` per row without writing the
log-softmax row; ``weighted_softmax_rows(x, w, out)`` gives ``w * softmax(x)`` per row, the
cross-entropy VJP before its ``-w`` at each target.  Their oracles are the 40-digit ones of
tests/naive.py (``-naive_log_softmax(row)[t]`` and ``w * naive_softmax(row)``), with the
tolerances of log_softmax and softmax (tests/kernels/_helpers.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from npsoftmax.kernels import numba_cpu, numba_threads
from tests.kernels._helpers import (
    DTYPES,
    MODULE_IDS,
    MODULES,
    SENTINEL,
    forward_tolerance,
    parity_tolerance,
    tolerance_error,
    ulp_error,
)
from tests.kernels._strategies import anything, float_rows, masked
from tests.naive import naive_log_softmax, naive_softmax

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def _cross_entropy(module, x, t):
    out = np.full(x.shape[0], SENTINEL, dtype=x.dtype)
    assert module.cross_entropy_rows(x, t, out) is out
    return out


def _weighted(module, x, w):
    out = np.full(x.shape, SENTINEL, dtype=x.dtype)
    assert module.weighted_softmax_rows(x, w, out) is out
    return out


def _oracle_cross_entropy(x, t):
    return np.array([-naive_log_softmax(row)[k] for row, k in zip(x, t)], dtype=np.float64)


def _oracle_weighted(x, w):
    return np.array([wi * naive_softmax(row) for row, wi in zip(x, w)]).reshape(x.shape)


def _check_cross_entropy(x, t):
    expected = _oracle_cross_entropy(x, t)
    # -ls[t] is an entry of log_softmax: that kernel's tolerance at the target.
    tol = forward_tolerance("log_softmax_rows", x, expected[:, None])[:, 0] if x.size else 0.0
    results = [_cross_entropy(module, x, t) for module in MODULES]
    for got in results:
        assert got.dtype == x.dtype
        err = tolerance_error(got, expected, tol)
        assert np.all(err <= 1.0), (got, expected, x, t)
    if x.size:
        par = parity_tolerance("log_softmax_rows", x, results[1][:, None])[:, 0]
        assert np.all(tolerance_error(results[0], results[1], par) <= 1.0), results


def _subnormal_weight(x, w):
    """What a subnormal ``exp(x - m)`` may cost once weighted: the exponential is rounded to
    the dtype before the division (up to half the smallest subnormal, exactly then), and ``w``
    multiplies that absolute error while the result's ulp stays the smallest subnormal."""
    return np.abs(w)[:, None] * float(np.finfo(x.dtype).smallest_subnormal)


def _check_weighted(x, w):
    expected = _oracle_weighted(x, w)
    tol = forward_tolerance("softmax_rows", x, expected) + _subnormal_weight(x, w)
    results = [_weighted(module, x, w) for module in MODULES]
    for got in results:
        assert got.dtype == x.dtype
        err = tolerance_error(got, expected, tol)
        assert np.all(err <= 1.0), (got, expected, x, w)
    par = _weighted_parity(x, w, results[1])
    assert np.all(tolerance_error(results[0], results[1], par) <= 1.0), results


def _weighted_parity(x, w, b):
    """softmax's parity tolerance, plus an ulp for each backend's rounding of ``w * y``, plus
    the weighted rounding of a subnormal exponential (:func:`_subnormal_weight`)."""
    with np.errstate(over="ignore", invalid="ignore"):
        ulp = np.spacing(np.abs(b))
        return parity_tolerance("softmax_rows", x, b) + 2 * ulp + _subnormal_weight(x, w)


def _targets(x, seed=0):
    return np.random.default_rng(seed).integers(0, max(x.shape[1], 1), x.shape[0]).astype(np.intp)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(9, 16), (1, 1), (3, 3000), (0, 5)])
def test_against_oracle_and_each_other(dtype, shape):
    rng = np.random.default_rng(1)
    x = rng.uniform(-30, 30, shape).astype(dtype)
    if x.size > 2:
        x.flat[1] = -np.inf  # a masked entry, maybe the target
    t = _targets(x)
    _check_cross_entropy(x, t)
    w = rng.standard_normal(shape[0]) * 10.0 ** rng.integers(-3, 4, shape[0])
    _check_weighted(x, w)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_confident_prediction_keeps_its_small_loss(dtype):
    # The target's logit is far above the others: the loss is about exp(-gap), and computing
    # it as logsumexp(x) - x[t] in the dtype would round it to 0 or to an ulp of x[t].
    x = np.array([[40.0, 20.0, 21.5, 19.0], [100.0, 75.0, 74.0, 80.0]], dtype=dtype)
    t = np.array([0, 0], dtype=np.intp)
    expected = _oracle_cross_entropy(x, t)
    assert np.all(expected < 1e-7)
    for module in MODULES:
        assert np.all(ulp_error(_cross_entropy(module, x, t), expected) <= 1.0)
    # What the test guards against: the difference formed in the dtype is far off.
    lse = np.logaddexp.reduce(x, axis=1)
    assert np.all(ulp_error(lse - x[:, 0], expected) > 1e3)


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_rows(module, dtype):
    inf, nan = np.inf, np.nan
    x = np.array(
        [
            [1.0, nan, 2.0],  # a NaN: NaN, as log_softmax's row
            [1.0, inf, 2.0],  # a +inf: NaN
            [-inf, -inf, -inf],  # only -inf: NaN
            [0.0, -inf, 3.0],  # the target masked: an infinite loss, probability 0
            [5.0, 5.0, 5.0],  # ties: log(3)
        ],
        dtype=dtype,
    )
    t = np.array([0, 0, 1, 1, 2], dtype=np.intp)
    loss = _cross_entropy(module, x, t)
    assert np.all(np.isnan(loss[:3]))
    assert loss[3] == inf
    np.testing.assert_allclose(loss[4], np.log(3.0), rtol=4 * np.finfo(dtype).eps)
    w = np.array([0.0, 0.0, 2.0, -3.0, 0.5])
    y = _weighted(module, x, w)
    assert np.all(np.isnan(y[:3]))  # NaN rows stay NaN, even with a weight of 0
    assert y[3, 1] == 0.0
    np.testing.assert_allclose(y[4], 0.5 / 3, rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_weight_one_is_the_softmax_bit_for_bit(dtype):
    x = np.random.default_rng(2).uniform(-50, 50, (5, 2500)).astype(dtype)
    for module in MODULES:
        y = module.softmax_rows(x, np.empty_like(x))
        np.testing.assert_array_equal(_weighted(module, x, np.ones(5)), y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_weighted_softmax_in_place(dtype):
    x = np.random.default_rng(3).uniform(-20, 20, (4, 3000)).astype(dtype)
    w = np.array([1.0, -2.0, 0.25, 3.0])
    for module in MODULES:
        expected = _weighted(module, x, w)
        z = x.copy()
        assert module.weighted_softmax_rows(z, w, z) is z
        np.testing.assert_array_equal(z, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_parallel_equals_serial(dtype):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((67, 1031)) * 30).astype(dtype)
    assert x.size >= numba_threads.PARALLEL_MIN_SIZE
    x[3, 5], x[4], x[5, 7], x[6, 9] = -np.inf, -np.inf, np.nan, np.inf
    t, w = _targets(x), rng.standard_normal(67)
    a = numba_cpu._cross_entropy_par(x, t, np.empty(67, dtype))
    b = numba_cpu._cross_entropy_ser(x, t, np.empty(67, dtype))
    np.testing.assert_array_equal(a, b)
    a = numba_cpu._weighted_softmax_par(x, w, np.empty_like(x))
    b = numba_cpu._weighted_softmax_ser(x, w, np.empty_like(x))
    np.testing.assert_array_equal(a, b)


@st.composite
def _rows_targets_weights(draw, elements):
    dtype = draw(st.sampled_from(DTYPES))
    x = draw(float_rows(dtype, elements(dtype)).filter(lambda a: a.shape[1] > 0))
    t = np.array(draw(st.lists(st.integers(0, x.shape[1] - 1), min_size=len(x), max_size=len(x))))
    w = draw(st.lists(st.floats(-1e3, 1e3), min_size=len(x), max_size=len(x)))
    return x, t.astype(np.intp), np.array(w, dtype=np.float64)


@given(_rows_targets_weights(lambda dt: masked(dt, 1e3)))
def test_matches_oracle_with_masks(xtw):
    x, t, w = xtw
    _check_cross_entropy(x, t)
    _check_weighted(x, w)


@given(_rows_targets_weights(anything))
@example((np.array([[100.0, 0.0]], np.float32), np.array([0]), np.array([15.0])))  # subnormal p
def test_backends_agree_on_anything(xtw):
    x, t, w = xtw
    a, b = (_cross_entropy(module, x, t) for module in MODULES)
    par = parity_tolerance("log_softmax_rows", x, b[:, None])[:, 0]
    assert np.all(tolerance_error(a, b, par) <= 1.0), (a, b, x, t)
    a, b = (_weighted(module, x, w) for module in MODULES)
    par = _weighted_parity(x, w, b)
    assert np.all(tolerance_error(a, b, par) <= 1.0), (a, b, x, w)
