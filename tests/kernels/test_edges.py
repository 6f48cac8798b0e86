"""The per-row edge policy (design.md, "Numerical policy"), line by line, on both backends.

Every row below is run inside a 3-row array ``[edge, ordinary, edge]`` so that a special row
cannot leak into its neighbour; the ordinary row is checked against the oracle.  Values are
compared with ORACLE_ULPS = 4 ulps of tolerance (NaN and inf must match exactly), and any
RuntimeWarning fails the test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.kernels._helpers import (
    DTYPES,
    MODULE_IDS,
    MODULES,
    ORACLE_ULPS,
    assert_matches_oracle,
    oracle,
    run,
    ulp_error,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

inf, nan = math.inf, math.nan
LOG2, LOG3 = math.log(2.0), math.log(3.0)
HUGE = {np.float32: 3e38, np.float64: 1e308}  # near the top of each dtype's range

# name: (row, softmax, log_softmax, logsumexp); "H" in a row stands for HUGE[dtype].
EDGES = {
    "minus_inf_gets_probability_0": (
        [-inf, 1.0, -inf, 1.0],
        [0.0, 0.5, 0.0, 0.5],
        [-inf, -LOG2, -inf, -LOG2],
        1.0 + LOG2,
    ),
    "all_minus_inf": ([-inf, -inf], [nan, nan], [nan, nan], -inf),
    "one_minus_inf": ([-inf], [nan], [nan], -inf),
    "nan": ([nan, 1.0], [nan, nan], [nan, nan], nan),
    "nan_and_minus_inf": ([-inf, nan], [nan, nan], [nan, nan], nan),
    "nan_and_plus_inf": ([inf, nan, 1.0], [nan, nan, nan], [nan, nan, nan], nan),
    "plus_inf": ([inf, 1.0], [nan, nan], [nan, nan], inf),
    "plus_inf_twice": ([inf, inf], [nan, nan], [nan, nan], inf),
    "plus_and_minus_inf": ([-inf, inf], [nan, nan], [nan, nan], inf),
    "ties": ([2.0, 2.0, 2.0], [1 / 3] * 3, [-LOG3] * 3, 2.0 + LOG3),
    # log space, not log(softmax): the SciPy documentation's example
    "far_apart": ([1000.0, 1.0], [1.0, 0.0], [0.0, -999.0], 1000.0),
    # log1p: the dominant entry keeps its tiny log-probability -exp(-40)
    "dominant": ([0.0, -40.0], [1.0, math.exp(-40.0)], [-math.exp(-40.0), -40.0], math.exp(-40.0)),
    # huge magnitudes: max-subtraction keeps them finite; never x - logsumexp(x)
    "huge_equal": (["H", "H"], [0.5, 0.5], [-LOG2, -LOG2], "H"),
    "huge_negative_equal": (["-H", "-H"], [0.5, 0.5], [-LOG2, -LOG2], "-H"),
    # x - m = -2H overflows to -inf: probability 0, log-probability -inf (the rounded -2H)
    "huge_opposite": (["H", "-H"], [1.0, 0.0], [0.0, -inf], "H"),
}


def _values(values, dtype) -> np.ndarray:
    h = HUGE[dtype]
    table = {"H": h, "-H": -h}
    return np.array([table.get(v, v) if isinstance(v, str) else v for v in values], np.float64)


def _three_rows(edge: np.ndarray, dtype) -> np.ndarray:
    ordinary = np.linspace(-3.0, 2.0, len(edge))
    return np.stack([edge, ordinary, edge]).astype(dtype)


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_edge_rows(module, dtype, edge):
    row, *expected = EDGES[edge]
    x = _three_rows(_values(row, dtype), dtype)
    names = ("softmax_rows", "log_softmax_rows", "logsumexp_rows", "online_softmax_rows")
    for name, want in zip(names, [*expected, expected[0]]):
        want = _values(np.atleast_1d(want), dtype)
        got = run(module, name, x)
        assert got.dtype == dtype
        for i in (0, 2):
            err = ulp_error(got[i : i + 1].ravel(), want)
            assert np.all(err <= ORACLE_ULPS), f"{name}{row}: got {got[i]}, expected {want}"
        assert_matches_oracle(name, got[1:2], x[1:2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_huge_logsumexp_is_finite(module, dtype):
    h = HUGE[dtype]
    x = np.array([[h, h], [h, h / 2], [-h, -h]], dtype)
    assert np.all(np.isfinite(run(module, "logsumexp_rows", x)))


# --- VJP edge policy


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_softmax_vjp_is_exactly_zero_where_y_is_zero(module, dtype):
    x = np.array([[-inf, 1.0, 2.0, -inf], [0.0, -200.0, -1e4, 5.0]], dtype)
    y = run(module, "softmax_rows", x)
    assert np.count_nonzero(y == 0) >= 3
    g = np.array([[1e10, 2.0, -3.0, -7e5], [1.0, 2.0, 3e4, 4.0]], dtype)
    dx = run(module, "softmax_rows_vjp", y, g)
    assert np.all(dx[y == 0] == 0.0)
    assert np.all(np.isfinite(dx))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@pytest.mark.parametrize("name", ["softmax_rows_vjp", "log_softmax_rows_vjp"])
def test_vjp_of_a_nan_row_is_nan(module, dtype, name):
    forward = "softmax_rows" if name == "softmax_rows_vjp" else "log_softmax_rows"
    x = np.array([[nan, 1.0, 2.0], [1.0, 2.0, 3.0], [-inf, -inf, -inf], [inf, 0.0, 0.0]], dtype)
    saved = run(module, forward, x)
    dx = run(module, name, saved, np.ones_like(x))
    assert np.all(np.isnan(dx[[0, 2, 3]]))
    assert np.all(np.isfinite(dx[1]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_log_softmax_vjp_passes_g_through_minus_inf(module, dtype):
    # exp(-inf) = 0: dx = g - 0 * sum(g) = g at a -inf entry.
    ls = run(module, "log_softmax_rows", np.array([[-inf, 0.0, -inf]], dtype))
    g = np.array([[1.5, 2.0, -4.0]], dtype)
    dx = run(module, "log_softmax_rows_vjp", ls, g)
    np.testing.assert_array_equal(dx, np.array([[1.5, 2.0 - (1.5 + 2.0 - 4.0), -4.0]], dtype))


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
def test_softmax_vjp_with_huge_g_is_finite(module):
    # y * (g - dot) would overflow in g - dot; the exact answer is about +-2.7e307.
    y = np.array([[0.9, 0.1]])
    g = np.array([[1.5e308, -1.5e308]])
    dx = run(module, "softmax_rows_vjp", y, g)
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx, oracle("softmax_rows_vjp", y, g), rtol=1e-14)
