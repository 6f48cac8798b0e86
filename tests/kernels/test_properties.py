"""Hypothesis properties of the kernels: oracle agreement, backend parity, invariants.

Settings come from the active Hypothesis profile (tests/conftest.py); the Numba kernels are
compiled (or loaded from the cache) before the first example, so compilation never meets a
deadline.  Tolerances as in tests/kernels/_helpers.py: ORACLE_ULPS = 4 ulps (plus, in float64, the
conditioning of exp at a rounded x - m), PARITY_ULPS = 4 ulps, VJP_UNITS = 8 units of eps times
the size of the terms.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from npsoftmax.kernels import reference
from tests.kernels._helpers import (
    DTYPES,
    FORWARD,
    MODULE_IDS,
    MODULES,
    SENTINEL,
    assert_backends_agree,
    assert_matches_oracle,
    run,
    warm_up,
)
from tests.kernels._strategies import anything, finite, float_rows, masked, rows_and_grads

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

# float64 logits up to 1e3 (softmax's range of interest); float32 likewise; the "wide" tests
# cover the whole finite range.
BOUND = 1e3
# Upstream gradients for "finite in, finite out": any float32 (the kernels work in float64);
# float64 up to 1e300, so that sum(g) over a dozen entries cannot overflow.
G_BOUND = {np.float32: None, np.float64: 1e300}


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    warm_up()


def _dtype_and(strategy_of_dtype):
    """Draw a dtype, then a value from ``strategy_of_dtype(dtype)``."""
    return st.sampled_from(DTYPES).flatmap(strategy_of_dtype)


@pytest.mark.parametrize("name", FORWARD)
@given(x=_dtype_and(lambda dt: float_rows(dt, anything(dt))))
def test_backends_agree_on_anything(name, x):
    a, b = (run(module, name, x) for module in MODULES)
    assert_backends_agree(name, a, b, x)
    if name != "logsumexp_rows":
        assert not np.any(a == SENTINEL)  # every entry was written


@pytest.mark.parametrize("name", FORWARD)
@given(x=_dtype_and(lambda dt: float_rows(dt, masked(dt, BOUND))))
def test_matches_oracle_with_masks(name, x):
    for module in MODULES:
        assert_matches_oracle(name, run(module, name, x), x)


@pytest.mark.parametrize("name", FORWARD)
@given(x=_dtype_and(lambda dt: float_rows(dt, finite(dt))))
def test_matches_oracle_over_the_whole_range(name, x):
    for module in MODULES:
        assert_matches_oracle(name, run(module, name, x), x)


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@given(x=_dtype_and(lambda dt: float_rows(dt, masked(dt, BOUND), max_n=40)))
def test_softmax_is_a_distribution(module, x):
    y = run(module, "softmax_rows", x)
    valid = ~np.all(x == -np.inf, axis=1)  # all -inf rows are NaN by policy
    assert np.all(np.isnan(y[~valid]))
    y = y[valid].astype(np.float64)
    assert np.all((y >= 0) & (y <= 1))
    n = max(x.shape[1], 1)
    assert np.all(np.abs(y.sum(axis=1) - 1) <= n * np.finfo(x.dtype).eps)
    assert np.all(y[x[valid] == -np.inf] == 0)


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@given(x=_dtype_and(lambda dt: float_rows(dt, masked(dt, BOUND))))
def test_log_softmax_is_log_of_softmax(module, x):
    # exp(ls) = y (where y does not underflow; a rounded ls moves exp(ls) by |ls| ulps), ls <= 0,
    # and the shift x - ls is constant along each row (to a few ulps of the row's magnitude).
    ls = run(module, "log_softmax_rows", x).astype(np.float64)
    y = run(module, "softmax_rows", x).astype(np.float64)
    eps = float(np.finfo(x.dtype).eps)
    ok = np.isfinite(ls)
    assert np.all(ls[ok] <= 0)
    big = ok & (y > 1e-30)
    assert np.all(np.abs(np.exp(ls[big]) - y[big]) <= 8 * eps * y[big] * (1 - ls[big]))
    with np.errstate(invalid="ignore"):
        shift = np.where(ok, x - ls, np.nan)
    for row, xr in zip(shift, x):
        row = row[~np.isnan(row)]
        if row.size:
            scale = np.max(np.abs(xr[np.isfinite(xr)])) + np.log(len(xr))
            assert np.ptp(row) <= 8 * eps * scale


@pytest.mark.parametrize("name", ["softmax_rows_vjp", "log_softmax_rows_vjp"])
@given(xg=_dtype_and(lambda dt: rows_and_grads(dt, masked(dt, BOUND), finite(dt, 1e6))))
def test_vjp_matches_oracle_and_other_backend(name, xg):
    x, g = xg
    forward = "softmax_rows" if name == "softmax_rows_vjp" else "log_softmax_rows"
    saved = run(reference, forward, x)
    a, b = (run(module, name, saved, g) for module in MODULES)
    assert_matches_oracle(name, a, saved, g)
    assert_matches_oracle(name, b, saved, g)
    assert_backends_agree(name, a, b, saved, g)


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@given(xg=_dtype_and(lambda dt: rows_and_grads(dt, finite(dt, BOUND), finite(dt, G_BOUND[dt]))))
def test_vjp_finite_in_finite_out(module, xg):
    x, g = xg
    y = run(module, "softmax_rows", x)
    dx = run(module, "softmax_rows_vjp", y, g)
    assert np.all(np.isfinite(dx))
    assert np.all(dx[y == 0] == 0)
    # log_softmax's VJP g - exp(ls) * sum(g) may exceed max|g| (up to (n + 1) max|g|, which for
    # huge g is not representable): scale g so that the exact answer is.
    ls = run(module, "log_softmax_rows", x)
    g = (g.astype(np.float64) / (x.shape[1] + 1)).astype(x.dtype)
    assert np.all(np.isfinite(run(module, "log_softmax_rows_vjp", ls, g)))


@pytest.mark.parametrize("module", MODULES, ids=MODULE_IDS)
@given(xg=_dtype_and(lambda dt: rows_and_grads(dt, masked(dt, 50.0), finite(dt, 10.0))))
def test_softmax_vjp_sums_to_zero(module, xg):
    # softmax is shift invariant (J 1 = 0 and J symmetric), so sum(dx) = 0 for every g.
    x, g = xg
    keep = ~np.all(x == -np.inf, axis=1)  # all -inf rows have y = NaN by policy
    x, g = x[keep], g[keep]
    y = run(module, "softmax_rows", x)
    dx = run(module, "softmax_rows_vjp", y, g).astype(np.float64)
    eps = float(np.finfo(x.dtype).eps)
    bound = 8 * eps * (np.abs(g).astype(np.float64).sum(axis=1) + 1) * max(x.shape[1], 1)
    assert np.all(np.abs(dx.sum(axis=1)) <= bound)
